"""Reading the workload's CSV files: one error line naming the file, row and column."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from capplan.errors import CapplanError


def mtime(path: Path) -> int:
    """The modification time, part of the cache keys so an edited file is re-read."""
    try:
        return path.stat().st_mtime_ns
    except OSError as exc:
        raise CapplanError(f"{path}: cannot read file ({exc.strerror or exc})") from None


def read_csv(path: str, columns: tuple[str, ...]) -> pd.DataFrame:
    """Every cell as a string, the header checked against `columns`."""
    try:
        table = pd.read_csv(path, dtype=str, skipinitialspace=True, keep_default_na=False)
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise CapplanError(f"{path}: cannot read CSV ({exc})") from None
    header = tuple(str(c).strip() for c in table.columns)
    if header != columns:
        raise CapplanError(
            f"{path}: row 1: header must be {','.join(columns)}, got {','.join(header)}"
        )
    table.columns = list(columns)
    return table


def numeric_column(table: pd.DataFrame, column: str, path: str) -> np.ndarray:
    """The column as finite floats; nan, inf and text are an error naming the row."""
    values = pd.to_numeric(table[column].str.strip(), errors="coerce").to_numpy(dtype=float)
    fail_on(~np.isfinite(values), path, column, "a finite number")
    return values


def fail_on(bad: np.ndarray, path: str, column: str, what: str) -> None:
    rows = np.flatnonzero(bad)
    if rows.size:
        # +2: one for the header line, one because file rows count from 1.
        raise CapplanError(f"{path}: row {rows[0] + 2}, column {column}: must be {what}")


def readonly(a: np.ndarray) -> np.ndarray:
    """A contiguous read-only view: cached arrays are shared between callers."""
    a = np.ascontiguousarray(a)
    a.setflags(write=False)
    return a
