"""Worker process ownership: stop() never swallows a cancellation, kill_all leaves nothing."""

from __future__ import annotations

import asyncio
import time

from helpers import pid_alive

from workerlab import procs


def test_cancelling_a_stop_is_never_swallowed():
    """Cancel stop() right around the moment the process exits; every cancel must propagate.

    On Python 3.11 ``asyncio.wait_for`` returns normally when the cancellation arrives just
    as the awaited process exits; a slot caught there would ignore the end of its run and
    keep restarting workers. The cancel times are spread around the measured duration of a
    stop, so the race window is hit whatever the machine's speed (with wait_for, several
    cancellations in 200 were swallowed).
    """

    async def stop_after(delay: float | None, pids: list[int]) -> tuple[bool, bool]:
        """(cancel requested, cancel swallowed); delay None: no cancel, just time the stop."""
        worker = procs.spawn(["sleep", "30"])
        pids.append(worker.pid)
        await asyncio.sleep(0.02)  # let it start
        task = asyncio.ensure_future(procs.stop(worker, grace=5))
        if delay is None:
            await task
            return False, False
        deadline = time.perf_counter() + delay
        while time.perf_counter() < deadline:
            await asyncio.sleep(0)  # spin the loop: the exit is noticed as soon as it happens
        if not task.cancel():
            await task
            return False, False
        try:
            await task
        except asyncio.CancelledError:
            return True, False
        return True, True

    async def main() -> tuple[int, int, list[int]]:
        pids: list[int] = []
        took = []
        for _ in range(10):
            t0 = time.perf_counter()
            await stop_after(None, pids)
            took.append(time.perf_counter() - t0 - 0.02)
        typical = sorted(took)[5]
        requested = swallowed = 0
        for i in range(200):
            r, s = await stop_after(typical * (0.2 + 1.6 * (i % 40) / 40), pids)
            requested += r
            swallowed += s
        return requested, swallowed, pids

    requested, swallowed, pids = asyncio.run(main())
    procs.kill_all(pids)
    assert requested > 0  # the race was actually exercised
    assert swallowed == 0
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
        while len(pids) < 3:
            await asyncio.sleep(0.001)
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
