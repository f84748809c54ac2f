"""Reading an Azure LLM inference trace CSV (`TIMESTAMP,ContextTokens,GeneratedTokens`)."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pandas as pd

from capplan.errors import CapplanError
from capplan.workload.draws import MAX_TOKENS
from capplan.workload.files import fail_on, mtime, numeric_column, read_csv, readonly

TRACE_COLUMNS = ("TIMESTAMP", "ContextTokens", "GeneratedTokens")
# A time of day followed by a UTC offset or Z: the row names its time zone.
_ZONED = r"\d:\d\d(?::\d\d(?:[.,]\d*)?)?\s*(?:Z|[+-]\d\d(?::?\d\d)?)$"


def load_trace(path: str | Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(seconds since the first row, context tokens, generated tokens) of an Azure LLM CSV.

    Cached per (path, modification time); the arrays are read-only because they are shared.
    """
    p = Path(path)
    return _load_trace(str(p), mtime(p))


@functools.lru_cache(maxsize=8)
def _load_trace(path: str, mtime_ns: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    table = read_csv(path, TRACE_COLUMNS)
    if len(table) == 0:
        raise CapplanError(f"{path}: no rows")
    ns = _timestamps_ns(table["TIMESTAMP"], path)
    context = numeric_column(table, "ContextTokens", path)
    generated = numeric_column(table, "GeneratedTokens", path)
    for name, col in (("ContextTokens", context), ("GeneratedTokens", generated)):
        bad = (col < 0) | (col != np.floor(col)) | (col > MAX_TOKENS)
        fail_on(bad, path, name, "an integer from 0 to 2^53")
    seconds = (ns - ns.min()) / 1e9
    order = np.argsort(seconds, kind="stable")  # tolerate an unsorted file
    return (
        readonly(seconds[order]),
        readonly(context[order].astype(np.int64)),
        readonly(generated[order].astype(np.int64)),
    )


def _timestamps_ns(column: pd.Series, path: str) -> np.ndarray:
    """Nanoseconds of each ISO 8601 timestamp.

    Rows that all carry a UTC offset are compared in UTC, whatever their offsets;
    rows that all carry none are taken as written. A mix is ambiguous (the zone
    of the bare rows is unknown): one error naming the first row that differs.
    """
    text = column.str.strip()
    zoned = text.str.contains(_ZONED, regex=True).to_numpy()
    if zoned.any() and not zoned.all():
        first = int(np.flatnonzero(zoned != zoned[0])[0])
        has = "has a UTC offset" if zoned[first] else "has no UTC offset"
        raise CapplanError(
            f"{path}: row {first + 2}, column TIMESTAMP: {has} but row 2 "
            f"{'does not' if zoned[first] else 'does'}; give every row an offset, or none"
        )
    stamps = pd.to_datetime(text, format="ISO8601", errors="coerce", utc=bool(zoned.all()))
    fail_on(stamps.isna().to_numpy(), path, "TIMESTAMP", "a timestamp")
    if zoned.all():
        stamps = stamps.dt.tz_convert(None)
    return stamps.to_numpy().astype("datetime64[ns]").astype(np.int64)
