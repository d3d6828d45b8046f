"""What a batch of runs is made of: its validated settings, and one ``RunSpec`` per run.

A sweep lays out all its runs up front; the threshold search makes them one by one as its
evidence asks. Either way every run of a batch shares one ``BatchSettings``: the worker counts
allowed, the target, the deadline it is judged against, how many runs may go at once, and the
``RunOptions`` every run is made with.
"""

from __future__ import annotations

import dataclasses
import hashlib
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from workerlab.config import Config, RunOptions, whole
from workerlab.errors import ConfigError

__all__ = ["RunSpec", "BatchSettings", "SpecMaker", "run_seed"]


def run_seed(seed: int, workers: int, repeat: int) -> int:
    """A distinct, reproducible seed per run (31 bits), derived from the batch's seed."""
    digest = hashlib.blake2b(f"{seed}:{workers}:{repeat}".encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big") >> 1


@dataclass(frozen=True)
class RunSpec:
    """One run: its place in the result, worker count, repeat (1-based), id, seed."""

    index: int
    workers: int
    repeat: int
    run_id: str
    seed: int | None


@dataclass(frozen=True)
class BatchSettings:
    """A batch's own settings, checked by ``check`` before anything is spawned.

    ``counts``: the worker counts allowed, sorted; ``capacity``: live worker processes at most
    (a run of W workers holds W); ``parallel``: runs at once at most (None: as capacity allows);
    ``deadline``: what every run is judged at, in seconds (a deadline not given is 10 intervals of
    the pace, ``RunOptions.deadline``); each run's log records it.
    """

    counts: tuple[int, ...]
    samples: int
    deadline: float
    parallel: int | None
    capacity: int
    options: RunOptions

    @classmethod
    def check(
        cls,
        workers: int | Iterable[int],
        *,
        samples: int,
        deadline: float | None,
        parallel: int | None,
        max_live_workers: int,
        options: RunOptions,
        repeats: int = 1,
    ) -> BatchSettings:
        """Check a batch's arguments and every distinct run it could make, before anything is spawned.

        Every bad input raises ``ConfigError``; ``repeats`` is checked for a sweep's sake. The
        settings hold the distinct worker counts, sorted, and the deadline in seconds (None: 10
        intervals of the pace).
        """
        given = [workers] if isinstance(workers, int) else list(workers)
        if not given:
            raise ConfigError.of("workers", "is empty: give at least one worker count, e.g. range(8, 17)")
        counts = sorted({whole("every worker count", c, 1) for c in given})
        whole("repeats", repeats, 1)
        capacity = whole("max_live_workers", max_live_workers, 1)
        if parallel is not None:
            whole("parallel (None or a number of runs)", parallel, 1)
        deadline = options.deadline(deadline)
        for c in counts:  # every distinct run configuration, checked as collect() would
            options.config(c, samples)
        if counts[-1] > capacity:
            problem = f"a run of {counts[-1]} workers needs {counts[-1]} live processes, more than {capacity}"
            raise ConfigError(
                f"{problem} (max_live_workers={capacity}); raise it or sweep fewer workers",
                param="max_live_workers",
                problem=f"{problem}; raise it or sweep fewer workers",
                cli=f"{problem}; raise it to --max-live-workers {counts[-1]} or sweep fewer --workers",
            )
        return cls(tuple(counts), samples, deadline, parallel, max_live_workers, options)

    def config(self, spec: RunSpec) -> Config:
        """The ``Config`` of one run: the batch's options with the run's own id and seed."""
        options = self.options
        if spec.seed != options.seed:
            options = dataclasses.replace(options, seed=spec.seed)
        return options.config(spec.workers, self.samples, run_id=spec.run_id, deadline=self.deadline)


class SpecMaker:
    """Makes a batch's runs one by one as its owner asks: ids ``{tag}-{kind}{n}-w{workers}``
    (``n`` counts every run made), and a seed each derived from ``seed`` (None: no seed)."""

    def __init__(self, seed: int | None, tag: str | None = None) -> None:
        self.seed = seed
        self.tag = tag if tag is not None else uuid.uuid4().hex[:6]
        self.made = 0

    def make(self, workers: int, kind: str = "run") -> RunSpec:
        self.made += 1
        seed = None if self.seed is None else run_seed(self.seed, workers, self.made)
        return RunSpec(self.made - 1, workers, self.made, f"{self.tag}-{kind}{self.made}-w{workers}", seed)
