"""Keep runs: the event log to and from Parquet with every dtype intact.

``save`` writes one event log (one run or a whole sweep) to a Parquet file; ``load`` reads one
or many files, globs or directories back into one frame that ``summary`` and the plots accept.
The round trip is exact (category, Int64, boolean, string, tz-aware timestamps), because the
schema of ``workerlab.log.events`` is re-applied on load rather than trusted to the file. The index
is not stored: an event log keeps everything in its columns, and ``load`` returns a fresh
RangeIndex.
"""

from __future__ import annotations

import glob
import json
import os
import tempfile
import warnings
from pathlib import Path

import pandas as pd

from workerlab.log import events

__all__ = ["save", "load"]

#: Key of the Parquet schema metadata that marks a workerlab event log.
META_KEY = b"workerlab"
_META = {"format": "event-log", "version": 1}


def save(df: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write the event log ``df`` to the Parquet file ``path`` (parent directories are made).

    The file is written to a temporary name and renamed into place, so an interrupted save
    never leaves a half-written log behind. Returns the path.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    events.validate(df)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pandas(df, preserve_index=False)
    meta = dict(table.schema.metadata or {})
    meta[META_KEY] = json.dumps(_META).encode()
    table = table.replace_schema_metadata(meta)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        pq.write_table(table, tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _expand(items: tuple[str | os.PathLike, ...]) -> list[Path]:
    """Files named by paths, globs and directories (a directory means its ``*.parquet``)."""
    out: list[Path] = []
    for item in items:
        s = os.fspath(item)
        p = Path(s)
        if p.is_dir():
            found = sorted(p.glob("*.parquet"))
            if not found:
                raise FileNotFoundError(f"no *.parquet files in directory {s}")
        elif p.exists():
            found = [p]
        elif glob.has_magic(s):
            found = sorted(Path(f) for f in glob.glob(s, recursive=True) if Path(f).is_file())
            if not found:
                raise FileNotFoundError(f"no files match {s!r}")
        else:
            raise FileNotFoundError(f"no such event log: {s}")
        out += [f for f in found if f not in out]
    return out


def _read(path: Path) -> pd.DataFrame:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise ValueError(f"{path} is not a workerlab event log: not a Parquet file ({exc})") from None
    missing = [c for c in events.SCHEMA if c not in schema.names]
    if missing:
        raise ValueError(
            f"{path} is not a workerlab event log: missing columns {missing} "
            "(write logs with wl.save or `workerlab run --out`)"
        )
    df = pd.read_parquet(path, engine="pyarrow")
    try:
        return df.astype(events.SCHEMA)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"{path} is not a workerlab event log: a column has the wrong type ({exc})"
        ) from None


def load(*paths: str | os.PathLike) -> pd.DataFrame:
    """Load one or several event logs (files, globs such as ``runs/*.parquet``, directories).

    Returns one frame (runs concatenated, as a sweep) with the schema's dtypes. Raises
    ``FileNotFoundError`` if a name matches nothing and ``ValueError`` for a file that is not a
    workerlab event log. A run_id present in more than one file triggers a warning: the
    summary would merge those rows into one run.
    """
    if not paths:
        raise TypeError("load() needs at least one path, glob or directory")
    files = _expand(paths)
    frames = [_read(f) for f in files]
    if len(frames) > 1:
        seen: dict[str, Path] = {}
        for f, frame in zip(files, frames):
            for rid in pd.unique(frame["run_id"]):
                if rid in seen:
                    warnings.warn(
                        f"run_id {rid!r} is in both {seen[rid]} and {f}; their rows are treated as one run",
                        stacklevel=2,
                    )
                seen.setdefault(rid, f)
    return events.concat(frames)
