"""Validate what the caller asked for, before anything is spawned, and build worker argv.

Every bad input gets one error that says what to do; nothing has started yet when it is
raised, so nothing can be left behind.
"""

from __future__ import annotations

import math
import os
import shutil
import sys
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

EMULATOR = Path(__file__).resolve().parent / "emulator.py"
#: the challenge's limit; callers may raise it explicitly with ``max_workers=``
MAX_WORKERS = 16
#: the original worker's pace, used for stall detection when nothing else is known
DEFAULT_INTERVAL = 1.0
#: the shortest default stall limit: at compressed time 3 x interval is tens of milliseconds,
#: and a loaded machine's scheduling hiccups (or a plot drawn in the same process) are not stalls
STALL_FLOOR = 0.5


@dataclass(frozen=True)
class Config:
    """One run's settings, validated. ``base_argv`` is the command without id and port."""

    workers: int
    samples: int
    base_argv: tuple[str, ...]
    extra_args: tuple[str, ...]
    emulator: bool
    seed: int | None
    interval: float
    stall_after: float
    start_timeout: float
    timeout: float | None
    run_id: str
    max_start_failures: int = 5

    def argv(self, worker_id: int, port: int, attempt: int) -> list[str]:
        """Command line of one worker process (the original's CLI, plus emulator extras)."""
        argv = [*self.base_argv, "-workerId", str(worker_id), "-port", str(port)]
        if self.seed is not None:
            # distinct but reproducible per worker slot and per restart
            argv += ["-seed", str(self.seed * 1_000_000 + worker_id * 1_000 + attempt)]
        return argv + list(self.extra_args)


def _positive(name: str, value: float | None, *, allow_zero: bool = False) -> float | None:
    if value is None:
        return None
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number of seconds, got {value!r}") from None
    if math.isnan(v) or v < 0 or (v == 0 and not allow_zero):
        raise ValueError(f"{name} must be {'>= 0' if allow_zero else '> 0'} seconds, got {value!r}")
    return v


def _whole(name: str, value: object, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be a whole number, got {value!r}")
    if value < low:
        raise ValueError(f"{name} must be at least {low}, got {value}")
    return value


def resolve_binary(worker_bin: str | os.PathLike[str]) -> str:
    """Absolute path of an executable worker binary, or a ValueError that says what is wrong."""
    raw = os.fspath(worker_bin)
    path = Path(raw).expanduser()
    if os.sep not in raw and not path.exists():
        found = shutil.which(raw)
        if found:
            return found
    if not path.exists():
        raise ValueError(f"worker binary not found: {raw!r}. Pass the path to the worker program.")
    if path.is_dir():
        raise ValueError(f"worker binary {raw!r} is a directory; pass the path to the program itself.")
    if not os.access(path, os.X_OK):
        raise ValueError(f"worker binary {raw!r} is not executable; run `chmod +x {raw}` first.")
    return str(path.resolve())


def flag_value(args: Sequence[str], name: str) -> str | None:
    """The value of Go-style flag ``name`` in ``args`` (``-x v``, ``-x=v``, ``--x v``, ``--x=v``)."""
    for i, arg in enumerate(args):
        key, eq, val = arg.lstrip("-").partition("=")
        if arg.startswith("-") and key == name:
            if eq:
                return val
            if i + 1 < len(args):
                return args[i + 1]
    return None


def make_config(
    workers: int = 16,
    samples: int = 150,
    *,
    worker_bin: str | os.PathLike[str] | None = None,
    worker_args: Sequence[str] = (),
    interval: float | None = None,
    mtbf: float | None = None,
    seed: int | None = None,
    timeout: float | None = None,
    stall_after: float | None = None,
    start_timeout: float = 10.0,
    max_workers: int = MAX_WORKERS,
    run_id: str | None = None,
) -> Config:
    """Check every argument of a run and return its ``Config`` (raises ValueError/TypeError)."""
    max_workers = _whole("max_workers", max_workers, 1)
    workers = _whole("workers", workers, 1)
    if workers > max_workers:
        raise ValueError(
            f"{workers} workers is more than the cap of {max_workers} (the challenge allows 16); "
            f"raise the cap on purpose with max_workers={workers} (CLI: --max-workers {workers})."
        )
    samples = _whole("samples", samples, 1)
    if isinstance(worker_args, (str, bytes)):
        raise TypeError(
            "worker_args must be a sequence of strings, e.g. ('-interval', '0.5'), not one string"
        )
    worker_args = tuple(str(a) for a in worker_args)
    interval = _positive("interval", interval)
    mtbf = _positive("mtbf", mtbf, allow_zero=True)
    timeout = _positive("timeout", timeout)
    stall_after = _positive("stall_after", stall_after)
    start_timeout = _positive("start_timeout", start_timeout)
    if seed is not None:
        seed = _whole("seed", seed, 0)

    if worker_bin is None:
        # import rather than run the file: an imported module's bytecode is cached, a script's
        # is compiled at every start (measured: ~4 ms of a ~20 ms start)
        base = (
            sys.executable,
            "-I",
            "-S",
            "-c",
            f"import sys; sys.path.insert(0, {str(EMULATOR.parent)!r}); "
            "import emulator; sys.exit(emulator.main())",
        )
        emulator = True
        extra: list[str] = []
        if interval is not None:
            extra += ["-interval", repr(interval)]
        if mtbf is not None:
            extra += ["-mtbf", repr(mtbf)]
    else:
        emulator = False
        given = [n for n, v in (("interval", interval), ("mtbf", mtbf), ("seed", seed)) if v is not None]
        if given:
            raise ValueError(
                f"{', '.join(given)} only exist in the bundled emulator; the worker at {worker_bin!r} "
                f"may not accept them. Pass them explicitly through worker_args "
                f"(e.g. worker_args=('-{given[0]}', '...')) if your binary does."
            )
        base = (resolve_binary(worker_bin),)
        extra = []
    # the pace used for stall detection: what we asked for, what worker_args say, or 1 s;
    # a first line that comes late on purpose (emulator -lead) is not a stall either
    if interval is None:
        from_args = flag_value(worker_args, "interval")
        interval = _positive("-interval in worker_args", from_args) if from_args else DEFAULT_INTERVAL
    lead = flag_value(worker_args, "lead")
    lead = _positive("-lead in worker_args", lead, allow_zero=True) if lead else 0.0
    return Config(
        workers=workers,
        samples=samples,
        base_argv=base,
        extra_args=(*extra, *worker_args),
        emulator=emulator,
        seed=seed if emulator else None,
        interval=interval,
        stall_after=stall_after if stall_after is not None else max(3 * interval + lead, STALL_FLOOR),
        start_timeout=start_timeout,
        timeout=timeout,
        run_id=run_id or uuid.uuid4().hex[:12],
    )
