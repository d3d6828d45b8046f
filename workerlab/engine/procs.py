"""Worker processes: spawn fast with a guaranteed owner, stop, and never leak.

Three layers make sure no worker outlives its run:
1. the supervisor stops each process it started with its whole process group, so the
   children a worker started go too (SIGTERM, then SIGKILL after a grace);
2. a process-wide registry kills whatever is still alive when a run is abandoned
   (kernel interrupt mid-cleanup) or when the interpreter exits;
3. the Linux parent-death signal kills workers if the collecting process itself is
   killed (SIGKILL gives no chance to clean up). Workers also get their own session, so a
   terminal's Ctrl-C reaches the collector only and the collector decides.

Start-up cost matters (every crash pays it again), so this module avoids two slow paths
measured here from a pandas-sized process: ``preexec_fn`` forbids vfork (~16 ms per
spawn instead of ~0.6 ms), and asyncio's subprocess transport with its child-watcher
thread costs 4-18 ms per spawn. Instead: ``subprocess.Popen`` (vfork), util-linux
``setpriv --pdeathsig KILL`` exec'd in front of the worker (same pid after exec) for the
parent-death signal, and a pidfd in the event loop to learn of the exit without threads.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import ctypes
import functools
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Callable, Sequence
from typing import IO, Any

_PR_SET_PDEATHSIG = 1
try:
    _prctl = ctypes.CDLL(None, use_errno=True).prctl if sys.platform.startswith("linux") else None
except (OSError, AttributeError):  # pragma: no cover - non-glibc
    _prctl = None


class Worker:
    """A running worker process whose exit the event loop notices (no watcher thread)."""

    def __init__(self, popen: subprocess.Popen[bytes], stderr: IO[bytes] | None) -> None:
        self.popen = popen
        self.pid = popen.pid
        self._stderr = stderr
        loop = asyncio.get_running_loop()
        self._exited: asyncio.Future[int] = loop.create_future()
        self._poller: asyncio.Task[None] | None = None  # owned here: ends with the process, or at close()
        try:
            self._pidfd: int | None = os.pidfd_open(self.pid)
        except (AttributeError, OSError):  # pragma: no cover - old kernel: poll instead
            self._pidfd = None
            self._poller = loop.create_task(self._poll())
        else:
            loop.add_reader(self._pidfd, self._on_exit)

    @property
    def returncode(self) -> int | None:
        """Exit status once the process has been reaped (negative: killed by that signal)."""
        return self.popen.returncode

    def _on_exit(self) -> None:
        if self._pidfd is not None:
            asyncio.get_running_loop().remove_reader(self._pidfd)
            os.close(self._pidfd)
            self._pidfd = None
        self.signal(signal.SIGKILL)  # what is left of its group, while its pid is still reserved
        code = self.popen.wait()
        LIVE.pop(self.pid, None)
        if not self._exited.done():
            self._exited.set_result(code)

    async def _poll(self) -> None:  # pragma: no cover - only without pidfd
        while self.popen.poll() is None:
            await asyncio.sleep(0.01)
        self._on_exit()

    async def wait(self) -> int:
        """Wait for the process to exit; return its status."""
        return await asyncio.shield(self._exited)

    def signal(self, sig: int) -> None:
        """Send ``sig`` to the worker's process group (itself and the children it started).

        Workers lead their own group (their own session), so the group id is the pid. Nothing is
        sent once the process has been reaped: until then its pid (an exited one's too, as a
        zombie) cannot be reused, so the signal never reaches a stranger. That is why a worker's
        exit kills the rest of its group before reaping it (``_on_exit``, ``kill_all``).
        """
        if self.popen.returncode is None:
            try:
                os.killpg(self.pid, sig)
            except ProcessLookupError:
                pass
            except PermissionError:  # pragma: no cover - a member changed its credentials
                os.kill(self.pid, sig)

    def stderr_tail(self, limit: int = 2000) -> str:
        """The last bytes the process wrote to stderr (for error messages)."""
        if self._stderr is None:
            return ""
        try:
            self._stderr.seek(0, os.SEEK_END)
            size = self._stderr.tell()
            self._stderr.seek(max(0, size - limit))
            return self._stderr.read().decode(errors="replace")
        except (OSError, ValueError):
            return ""

    def close(self) -> None:
        """Release the stderr file (after the process is gone) and stop watching for the exit."""
        if self._poller is not None and not self._poller.done():  # pragma: no cover - only without pidfd
            self._poller.cancel()
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None


#: pid -> worker, for every worker process alive in this interpreter
LIVE: dict[int, Worker] = {}


def _die_with_parent(parent_pid: int) -> None:  # pragma: no cover - fallback without setpriv
    """Runs in the child between fork and exec: SIGKILL me when my parent dies."""
    if _prctl is not None:
        _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(1)


@functools.cache
def _setpriv() -> str | None:
    """Path of a setpriv that supports --pdeathsig, or None."""
    path = shutil.which("setpriv")
    if path is None or _prctl is None:
        return None
    try:
        ok = (
            subprocess.run(
                [path, "--pdeathsig", "KILL", "--", "true"], capture_output=True, timeout=5
            ).returncode
            == 0
        )
    except (OSError, subprocess.SubprocessError):
        ok = False
    return path if ok else None


def spawn(argv: Sequence[str], env: dict[str, str] | None = None) -> Worker:
    """Start ``argv`` (no shell, own session, dies with us); call from the event loop."""
    parent = os.getpid()
    setpriv = _setpriv()
    stderr = tempfile.TemporaryFile()  # never blocks the worker, nothing to drain
    try:
        popen = subprocess.Popen(
            [*([setpriv, "--pdeathsig", "KILL", "--"] if setpriv else []), *argv],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            start_new_session=True,
            preexec_fn=None if setpriv else (lambda: _die_with_parent(parent)),
            env=env,
        )
    except BaseException:
        stderr.close()
        raise
    worker = Worker(popen, stderr)
    LIVE[worker.pid] = worker
    return worker


@contextlib.asynccontextmanager
async def running(
    argv: Sequence[str],
    *,
    env: dict[str, str] | None = None,
    grace: float = 0.5,
    on_stop: Callable[[Worker, int], Any] | None = None,
) -> AsyncIterator[Worker]:
    """``async with running(argv) as proc:`` the process lives exactly as long as the block.

    Leaving the block (normally, by an exception or by cancellation) stops a process still
    running (SIGTERM, ``grace`` seconds, SIGKILL), then calls ``on_stop(proc, status)``, and
    releases its stderr file. A process that already exited is only cleaned up.
    """
    worker = spawn(argv, env)
    try:
        yield worker
    finally:
        try:
            if worker.returncode is None:
                status = await stop(worker, grace)
                if on_stop is not None:
                    on_stop(worker, status)
        finally:
            worker.close()


async def stop(worker: Worker, grace: float = 0.5) -> int:
    """SIGTERM, wait up to ``grace`` seconds, then SIGKILL; return the exit status.

    Both signals go to the worker's whole process group, and once the worker itself has exited
    whatever is left of its group gets SIGKILL (children included, nothing left running).
    Safe to cancel: the process is SIGKILLed before the cancellation propagates.
    """
    try:
        if grace > 0:
            worker.signal(signal.SIGTERM)
            try:
                # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation that
                # arrives as the process exits, and the run would then never end
                async with asyncio.timeout(grace):
                    return await worker.wait()
            except TimeoutError:
                pass
        worker.signal(signal.SIGKILL)
        return await worker.wait()
    except BaseException:
        worker.signal(signal.SIGKILL)
        raise


def kill_all(pids: object = None) -> int:
    """SIGKILL every live worker process group (or those whose pid is in ``pids``); return the count."""
    n = 0
    for pid, worker in list(LIVE.items()):
        if pids is not None and pid not in pids:  # type: ignore[operator]
            continue
        if worker.returncode is None:
            worker.signal(signal.SIGKILL)
            try:
                worker.popen.wait(timeout=1)  # reap, so no zombie is left either
            except subprocess.TimeoutExpired:  # pragma: no cover
                pass
            n += 1
        LIVE.pop(pid, None)
    return n


atexit.register(kill_all)
