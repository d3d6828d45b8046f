"""Validate what the caller asked for, before anything is spawned, and build worker argv.

Every bad input gets one error that says what to do; nothing has started yet when it is
raised, so nothing can be left behind.
"""

from __future__ import annotations

import math
import operator
import os
import shutil
import sys
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, cast

from workerlab.errors import ConfigError
from workerlab.worker.emulator import FLAGS as _EMULATOR_FLAGS

EMULATOR = Path(__file__).resolve().parent / "worker" / "emulator.py"
#: the challenge's limit; callers may raise it explicitly with ``max_workers=``
MAX_WORKERS = 16
#: the challenge's deadline for a run (seconds), at the challenge's 1 s pace
DEADLINE = 10.0
#: how long a worker may take to accept connections before its start counts as failed (seconds)
START_TIMEOUT = 10.0
#: workers listen on loopback only
HOST = "127.0.0.1"
#: a sweep's default bound on worker processes alive at once over all its runs
MAX_LIVE_WORKERS = 64
#: the original worker's pace (seconds between numbers), used for stall detection when nothing else
#: is known, and the emulator's mean lifetime (seconds): its flag defaults, defined only there
DEFAULT_INTERVAL = cast(float, _EMULATOR_FLAGS["interval"][1])
DEFAULT_MTBF = cast(float, _EMULATOR_FLAGS["mtbf"][1])
#: a deadline not given is this many intervals of the pace (10 x 1 s: the challenge's 10 s)
DEADLINE_INTERVALS = DEADLINE / DEFAULT_INTERVAL
#: the shortest default stall limit: at compressed time 3 x interval is tens of milliseconds,
#: and a loaded machine's scheduling hiccups (or a plot drawn in the same process) are not stalls
STALL_FLOOR = 0.5
#: default longest line (bytes, without its newline); ``rnd=`` + 18 digits + ``\r`` is 23, and
#: the limit is what bounds memory per stream
MAX_LINE = 4096
#: bounds of ``max_line`` (bytes): a valid line is at most 23 bytes; a limit above 1 MiB would give
#: up the bounded memory per stream that the limit is for
MAX_LINE_RANGE = (64, 1 << 20)


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
    max_line: int = MAX_LINE
    max_start_failures: int = 5
    #: the deadline the run is judged at; its run-level row records it, so its log remembers it
    deadline: float = DEADLINE

    def argv(self, worker_id: int, port: int, attempt: int) -> list[str]:
        """Command line of one worker process (the original's CLI, plus emulator extras)."""
        argv = [*self.base_argv, "-workerId", str(worker_id), "-port", str(port)]
        if self.seed is not None:
            # distinct but reproducible per worker slot and per restart
            argv += ["-seed", str(self.seed * 1_000_000 + worker_id * 1_000 + attempt)]
        return argv + list(self.extra_args)


def paced_deadline(interval: float) -> float:
    """The deadline of a run at pace ``interval`` when none is given: ``DEADLINE_INTERVALS`` intervals.

    One rule for every call that takes a deadline (``collect``, ``sweep``, ``find_threshold``, the
    command line, the dashboards): 10 s at the real 1 s pace, 0.5 s at 0.05 s.
    """
    return round(DEADLINE_INTERVALS * float(interval), 9)


def stall_limit(interval: float, lead: float) -> float:
    """The default stall limit (seconds): ``max(3 * interval + lead, STALL_FLOOR)``.

    Three lines' worth of silence, plus the lead a stream's first line may take; never under the floor.
    """
    return max(3 * interval + lead, STALL_FLOOR)


def seconds(name: str, value: Any, *, allow_zero: bool = False) -> float:
    """``value`` as a number of seconds, > 0 (or >= 0 with ``allow_zero``), or a ``ConfigError``."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ConfigError.of(name, f"must be a number of seconds, e.g. 0.5; got {value!r}") from None
    if math.isnan(v) or v < 0 or (v == 0 and not allow_zero):
        raise ConfigError.of(name, f"must be {'>= 0' if allow_zero else '> 0'} seconds, got {value!r}")
    return v


def share(name: str, value: object) -> float:
    """``value`` as a share strictly between 0 and 1 (a level or a confidence), or a ``ConfigError``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 1:
        raise ConfigError.of(name, f"must be between 0 and 1 (a share of runs), e.g. 0.95; got {value!r}")
    return float(value)


def _positive(name: str, value: object, *, allow_zero: bool = False) -> float | None:
    return None if value is None else seconds(name, value, allow_zero=allow_zero)


def whole(name: str, value: Any, low: int) -> int:
    """``value`` as an int >= ``low`` (numpy integers too; never a bool or a float)."""
    try:
        if isinstance(value, bool):
            raise TypeError
        n = operator.index(value)
    except TypeError:
        raise ConfigError.of(name, f"must be a whole number, e.g. {max(low, 1)}; got {value!r}") from None
    if n < low:
        raise ConfigError.of(name, f"must be at least {low}, got {n}")
    return n


def resolve_binary(worker_bin: str | os.PathLike[str]) -> str:
    """Absolute path of an executable worker binary, or a ConfigError that says what is wrong."""
    raw = os.fspath(worker_bin)
    path = Path(raw).expanduser()
    if os.sep not in raw and not path.exists():
        found = shutil.which(raw)
        if found:
            return found
    problem = None
    if not path.exists():
        problem = f"no such file: {raw!r}"
    elif path.is_dir():
        problem = f"{raw!r} is a directory, not the worker program itself"
    elif not os.access(path, os.X_OK):
        problem = f"{raw!r} is not executable (run `chmod +x {raw}` first)"
    if problem is not None:
        raise ConfigError(
            f"worker binary: {problem}. Pass the path to the worker program.",
            param="worker_bin",
            problem=problem,
        )
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


@dataclass(frozen=True)
class RunOptions:
    """How every run is made, apart from its size: validated when built, then passed down whole.

    Public as ``wl.RunOptions``: build it once and pass ``options=`` to ``collect``, ``sweep`` or
    ``find_threshold`` (the pattern of httpx's ``Timeout``). The entry points also keep their
    explicit keyword arguments; ``resolve`` turns both into the one ``RunOptions`` a call hands to
    everything below. A bad value raises ``ConfigError`` here, before anything is spawned;
    ``dataclasses.replace`` validates again. ``config(workers, samples)`` makes one run's ``Config``.
    """

    worker_bin: str | os.PathLike[str] | None = None
    worker_args: Sequence[str] = ()
    interval: float | None = None
    mtbf: float | None = None
    seed: int | None = None
    timeout: float | None = None
    stall_after: float | None = None
    start_timeout: float = START_TIMEOUT
    max_workers: int = MAX_WORKERS
    max_line: int = MAX_LINE

    def __post_init__(self) -> None:
        worker_bin = None if self.worker_bin is None else resolve_binary(self.worker_bin)  # exists?
        if worker_bin is not None:
            self._emulator_only()
        max_line = whole("max_line", self.max_line, MAX_LINE_RANGE[0])
        if max_line > MAX_LINE_RANGE[1]:
            raise ConfigError.of(
                "max_line",
                f"must be at most {MAX_LINE_RANGE[1]} bytes (a valid line is a few bytes), got {max_line}",
            )
        checked: dict[str, object] = {
            "worker_bin": worker_bin,
            "worker_args": _arguments(self.worker_args),
            "interval": _positive("interval", self.interval),
            "mtbf": _positive("mtbf", self.mtbf, allow_zero=True),
            "seed": None if self.seed is None else whole("seed", self.seed, 0),
            "timeout": _positive("timeout", self.timeout),
            "stall_after": _positive("stall_after", self.stall_after),
            "start_timeout": seconds("start_timeout", self.start_timeout),
            "max_workers": whole("max_workers", self.max_workers, 1),
            "max_line": max_line,
        }
        for name, value in checked.items():
            object.__setattr__(self, name, value)

    def _emulator_only(self) -> None:
        """Refuse the emulator's own options beside a worker binary (the original rejects unknown flags)."""
        given = [n for n in ("interval", "mtbf", "seed") if getattr(self, n) is not None]
        if not given:
            return
        name, value = given[0], getattr(self, given[0])
        problem = f"only exists in the bundled emulator; the worker at {self.worker_bin!r} may not accept it"
        raise ConfigError(
            f"{', '.join(given)} only exist in the bundled emulator; the worker at {self.worker_bin!r} may not "
            f"accept them. Pass them explicitly through worker_args (e.g. worker_args=('-{name}', "
            f"'{value}')) if your binary does.",
            param=name,
            problem=problem,
            cli=f"{problem}; if it does, pass --worker-arg=-{name} --worker-arg={value}",
        )

    @classmethod
    def resolve(
        cls, options: RunOptions | None, given: Mapping[str, Any] | None = None, /, **named: Any
    ) -> RunOptions:
        """The run options of one call: ``options`` (default: every field at its default), with each
        run option the call was given overriding that field.

        ``given``: the call's arguments (e.g. its ``locals()``), of which only the run options'
        names are read; ``named``: run options by name (an unknown name is a ``ConfigError``). A
        keyword *is given* when its value differs from the field's default, so
        ``collect(options=opts, seed=3)`` runs with ``opts`` and seed 3, ``collect(options=opts)``
        with ``opts`` as it is, and a keyword left at its default never undoes a field of
        ``options`` (to reset one: ``dataclasses.replace(opts, mtbf=None)``). Validated as a whole:
        ``ConfigError`` before anything is spawned.
        """
        names = {f.name: f.default for f in fields(cls)}
        unknown = sorted(set(named) - set(names))
        if unknown:
            raise ConfigError(f"unknown run option {unknown[0]!r}; the run options are {', '.join(names)}")
        if options is not None and not isinstance(options, RunOptions):
            raise ConfigError(f"options must be a wl.RunOptions (or None), got {options!r}")
        asked = {n: v for n, v in (given or {}).items() if n in names} | named
        changes = {n: v for n, v in asked.items() if not _is_default(v, names[n])}
        if options is None:
            return cls(**changes)
        return replace(options, **changes) if changes else options

    @property
    def emulator(self) -> bool:
        """True when runs use the bundled emulator (no ``worker_bin``)."""
        return self.worker_bin is None

    def pace(self) -> tuple[float, float]:
        """(interval, lead) as asked for: the option, else ``-interval``/``-lead`` in worker_args, else 1 s and 0."""
        args = tuple(self.worker_args)
        pace = self.interval
        if pace is None:
            from_args = flag_value(args, "interval")
            pace = seconds("-interval in worker_args", from_args) if from_args else DEFAULT_INTERVAL
        lead_arg = flag_value(args, "lead")
        lead = seconds("-lead in worker_args", lead_arg, allow_zero=True) if lead_arg else 0.0
        return pace, lead

    def deadline(self, deadline: float | None = None) -> float:
        """The deadline runs with these options are judged at: ``deadline`` (checked), or when None
        ``DEADLINE_INTERVALS`` intervals of the pace (``paced_deadline(pace()[0])``: 10 s at the real
        1 s pace, and for a foreign binary whose pace is not set)."""
        if deadline is None:
            return paced_deadline(self.pace()[0])
        return seconds("deadline", deadline)

    def config(
        self, workers: int, samples: int, *, run_id: str | None = None, deadline: float | None = None
    ) -> Config:
        """One run's ``Config`` of ``workers`` workers and a target of ``samples`` (checked here),
        judged at ``deadline`` (None: ``self.deadline()``, 10 intervals of the pace)."""
        workers = whole("workers", workers, 1)
        if workers > self.max_workers:
            problem = (
                f"{workers} workers is more than the cap of {self.max_workers} (the challenge allows 16)"
            )
            raise ConfigError(
                f"{problem}; raise the cap on purpose with max_workers={workers}.",
                param="workers",
                problem=f"{problem}; raise the cap on purpose with max_workers={workers}",
                cli=f"{problem}; raise the cap on purpose with --max-workers {workers}",
            )
        samples = whole("samples", samples, 1)
        if run_id is not None and not (isinstance(run_id, str) and run_id):
            raise ConfigError(f"run_id must be a non-empty string, got {run_id!r}")
        pace, lead = self.pace()
        return Config(
            workers=workers,
            samples=samples,
            base_argv=self._base_argv(),
            extra_args=(*self._emulator_args(), *self.worker_args),
            emulator=self.emulator,
            seed=self.seed if self.emulator else None,
            interval=pace,
            stall_after=self.stall_after if self.stall_after is not None else stall_limit(pace, lead),
            start_timeout=self.start_timeout,
            timeout=self.timeout,
            run_id=run_id or uuid.uuid4().hex[:12],
            max_line=self.max_line,
            deadline=self.deadline(deadline),
        )

    def _base_argv(self) -> tuple[str, ...]:
        if self.worker_bin is not None:
            return (os.fspath(self.worker_bin),)
        # import rather than run the file: an imported module's bytecode is cached, a script's
        # is compiled at every start (measured: ~4 ms of a ~20 ms start)
        return (
            sys.executable,
            "-I",
            "-S",
            "-c",
            f"import sys; sys.path.insert(0, {str(EMULATOR.parent)!r}); import emulator; sys.exit(emulator.main())",
        )

    def _emulator_args(self) -> list[str]:
        extra: list[str] = []
        if self.interval is not None:
            extra += ["-interval", repr(self.interval)]
        if self.mtbf is not None:
            extra += ["-mtbf", repr(self.mtbf)]
        return extra


def _is_default(value: object, default: object) -> bool:
    """Whether a keyword's ``value`` is its ``default`` (so not given); anything incomparable is given."""
    if value is default:
        return True
    if isinstance(default, tuple) and isinstance(value, list):
        value = tuple(value)  # worker_args=[] is the default () as a list
    try:
        return bool(value == default)
    except (TypeError, ValueError):  # e.g. a numpy array: not the default, and validation will say why
        return False


def _arguments(worker_args: object) -> tuple[str, ...]:
    if isinstance(worker_args, (str, bytes)):
        raise ConfigError.of(
            "worker_args", "must be a sequence of strings, e.g. ('-interval', '0.5'), not one string"
        )
    try:
        return tuple(str(a) for a in worker_args)  # type: ignore[attr-defined]
    except TypeError:
        raise ConfigError.of(
            "worker_args", f"must be a sequence of strings, e.g. ('-interval', '0.5'); got {worker_args!r}"
        ) from None


def make_config(
    workers: int = MAX_WORKERS,
    samples: int = 150,
    *,
    run_id: str | None = None,
    **options: Any,
) -> Config:
    """Check every argument of a run and return its ``Config``: ``RunOptions(**options).config(...)``.

    Every bad input (also of the wrong type) raises ``ConfigError`` with a message that says what to pass.
    """
    return RunOptions.resolve(None, **options).config(workers, samples, run_id=run_id)


def parse_workers(spec: str) -> list[int]:
    """Worker counts from ``"A-B"``, ``"A,B,C"``, a single value, or a mix (``"1-4,8,12-16"``)."""
    counts: set[int] = set()

    def bad(problem: str) -> ConfigError:
        return ConfigError(f"bad worker counts {spec!r}: {problem}", param="workers", problem=problem)

    for part in str(spec).replace(" ", "").split(","):
        if not part:
            raise bad(f"an empty item in {spec!r}")
        a, dash, b = part.partition("-")
        try:
            lo = int(a)
            hi = int(b) if dash else lo
        except ValueError:
            raise bad(f"use A-B, A,B,C or a single number, got {spec!r}") from None
        if hi < lo:
            raise bad(f"{part} is an empty range")
        counts.update(range(lo, hi + 1))
    return sorted(counts)
