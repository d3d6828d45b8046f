"""Worker process ownership: stop() never swallows a cancellation, kill_all leaves nothing."""
from __future__ import annotations

import asyncio

from conftest import pid_alive

from workerlab import procs


def test_cancelling_a_stop_is_never_swallowed():
    """Cancel tasks while stop() waits for an exiting process; every cancel must propagate.

    On Python 3.11 ``asyncio.wait_for`` returns normally when the cancellation arrives just
    as the awaited process exits; a slot caught there would ignore the end of its run and
    keep restarting workers. This race reproduced 8 times in 200 with wait_for.
    """
    async def main() -> tuple[int, int, list[int]]:
        swallowed = requested = 0
        pids: list[int] = []
        for i in range(200):
            async def stopper() -> None:
                worker = procs.spawn(["sleep", "5"])
                pids.append(worker.pid)
                await procs.stop(worker, grace=5)  # SIGTERM: exits within a millisecond or two

            task = asyncio.ensure_future(stopper())
            await asyncio.sleep(0.002 + (i % 20) * 0.0005)
            if task.cancel():
                requested += 1
                try:
                    await task
                except asyncio.CancelledError:
                    pass
                else:
                    swallowed += 1
            else:
                await task
        return swallowed, requested, pids

    swallowed, requested, pids = asyncio.run(main())
    assert requested > 20  # the race was actually exercised
    assert swallowed == 0
    procs.kill_all(pids)
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
