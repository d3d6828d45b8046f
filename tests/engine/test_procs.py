"""Worker process ownership: stop() never swallows a cancellation, kill_all leaves nothing."""

from __future__ import annotations

import asyncio
import os
import signal

from helpers import pid_alive, wait_for_async, wait_gone

from workerlab.engine import procs

#: loop steps tried between a worker's exit and the cancel (a stop completes within a few)
STEPS = 12


def test_cancelling_a_stop_is_never_swallowed():
    """Cancel stop() at each step of the event loop around the process's exit; every cancel must propagate.

    On Python 3.11 ``asyncio.wait_for`` returns normally when the cancellation arrives just as the
    awaited process exits; a slot caught there would ignore the end of its run and keep restarting
    workers. Here the process has surely exited (``waitid`` without reaping it) before the loop
    may notice, and the cancel comes after 0, 1, 2, ... further loop steps: every order of the
    exit's callbacks and the cancel is tried, whatever the machine's speed, up to a stop that
    had completed before its cancel.
    """

    async def cancel_after(steps: int, pids: list[int]) -> str:
        worker = procs.spawn(["sleep", "30"])
        pids.append(worker.pid)
        task = asyncio.ensure_future(procs.stop(worker, grace=5))
        await asyncio.sleep(0)  # stop() sends SIGTERM and waits for the exit
        os.kill(worker.pid, signal.SIGKILL)  # whatever stop() sent: it exits now (not reaped: no pid reuse)
        os.waitid(os.P_PID, worker.pid, os.WEXITED | os.WNOWAIT)  # exited, not yet reaped
        for _ in range(steps):
            await asyncio.sleep(0)
        if not task.cancel():
            await task
            return "completed"
        try:
            await task
        except asyncio.CancelledError:
            return "cancelled"
        return "swallowed"

    async def main(pids: list[int]) -> list[str]:
        return [await cancel_after(steps, pids) for steps in range(STEPS)]

    pids: list[int] = []
    outcomes = asyncio.run(main(pids))
    procs.kill_all(pids)
    assert "swallowed" not in outcomes, outcomes
    assert outcomes[0] == "cancelled" and outcomes[-1] == "completed", outcomes  # the whole window
    assert [p for p in pids if pid_alive(p)] == []


def test_kill_all_kills_and_reaps_only_the_given_pids():
    async def main() -> tuple[list[int], list[int]]:
        mine = [procs.spawn(["sleep", "30"]) for _ in range(2)]
        other = procs.spawn(["sleep", "30"])
        assert procs.kill_all({w.pid for w in mine}) == 2
        alive_other = pid_alive(other.pid)
        procs.kill_all({other.pid})
        return [w.pid for w in mine], [other.pid] if alive_other else []

    mine, other = asyncio.run(main())
    assert [p for p in mine if pid_alive(p)] == []
    assert other, "kill_all touched a pid it was not given"
    assert not pid_alive(other[0])


def test_running_stops_the_process_when_its_block_ends_any_way():
    """Normal exit, an exception and a cancellation: each leaves no process, and says how it stopped."""
    stopped: list[tuple[int, int]] = []

    def on_stop(worker: procs.Worker, status: int) -> None:
        stopped.append((worker.pid, status))

    async def normal() -> int:
        async with procs.running(["sleep", "30"], on_stop=on_stop) as proc:
            return proc.pid

    async def failing(pids: list[int]) -> None:
        async with procs.running(["sleep", "30"], on_stop=on_stop) as proc:
            pids.append(proc.pid)
            raise RuntimeError("the owner broke")

    async def cancelled(pids: list[int]) -> None:
        async with procs.running(["sleep", "30"], on_stop=on_stop) as proc:
            pids.append(proc.pid)
            await asyncio.sleep(30)

    async def main() -> list[int]:
        pids = [await normal()]
        try:
            await failing(pids)
        except RuntimeError:
            pass
        task = asyncio.ensure_future(cancelled(pids))
        await wait_for_async(lambda: len(pids) >= 3, 30, "the third process to have spawned", step=0.001)
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
        return pids

    pids = asyncio.run(main())
    assert len(pids) == 3 and [p for p in pids if pid_alive(p)] == []
    assert [pid for pid, _ in stopped] == pids  # each one stopped by its block, in order
    assert all(status == -15 for _, status in stopped)  # SIGTERM within the grace
    assert not set(procs.LIVE) & set(pids)


def test_running_leaves_a_process_that_exited_alone():
    stopped: list[int] = []

    async def main() -> int | None:
        async with procs.running(["true"], on_stop=lambda w, s: stopped.append(s)) as proc:
            await proc.wait()
        return proc.returncode

    assert asyncio.run(main()) == 0
    assert stopped == []  # nothing to stop: it had already exited


def _with_child(tmp_path, then: str, trap: str = "") -> list[str]:
    """A shell worker that starts ``sleep`` (it stays in the worker's process group), tells its pid, then ``then``.

    The pid goes through a FIFO: the shell's write waits for our read, so nothing is polled.
    """
    os.mkfifo(tmp_path / "child")
    return ["sh", "-c", f"{trap}sleep 600 & echo $! > {tmp_path / 'child'}; {then}"]


def _child_pid(tmp_path) -> int:
    return int((tmp_path / "child").read_text())


def test_stopping_a_worker_stops_the_children_it_started(tmp_path):
    """SIGTERM and SIGKILL go to the worker's process group: a child that ignores SIGTERM goes too."""

    async def main() -> int:
        argv = _with_child(tmp_path, "wait", trap="trap '' TERM; ")
        async with procs.running(argv, grace=0.2) as proc:
            child = await asyncio.to_thread(_child_pid, tmp_path)
            assert pid_alive(child) and proc.returncode is None
        return child

    child = asyncio.run(main())
    assert wait_gone([child]) == []  # SIGKILLed with the group


def test_a_worker_that_exits_takes_its_children_with_it(tmp_path):
    """A worker that dies on its own (a crash) leaves no child behind: its group is killed before it is reaped."""

    async def main() -> tuple[int, int]:
        async with procs.running(_with_child(tmp_path, "exit 3")) as proc:
            child = await asyncio.to_thread(_child_pid, tmp_path)
            return await proc.wait(), child

    status, child = asyncio.run(main())
    assert status == 3
    assert wait_gone([child]) == []


def test_kill_all_kills_the_children_too(tmp_path):
    async def main() -> int:
        worker = procs.spawn(_with_child(tmp_path, "wait"))
        child = await asyncio.to_thread(_child_pid, tmp_path)
        assert procs.kill_all({worker.pid}) == 1
        return child

    child = asyncio.run(main())
    assert wait_gone([child]) == []
