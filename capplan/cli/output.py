"""Shared CLI output helpers: atomic files, JSON that is always valid, rich tables."""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from capplan.errors import CapplanError


def clean_json(value: Any) -> Any:
    """NaN and infinities become null, numpy scalars plain numbers, tuples lists."""
    if isinstance(value, dict):
        return {str(k): clean_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean_json(v) for v in value]
    if hasattr(value, "item") and callable(value.item):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Path):
        return str(value)
    return value


def dumps(value: Any) -> str:
    return json.dumps(clean_json(value), indent=2, allow_nan=False)


def write_atomic(path: Path, write: Callable[[Path], None]) -> None:
    """Write via a temp file in the same folder, then rename: never a half file."""
    path = Path(path)
    parent = path.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=parent)
        os.close(fd)
    except OSError as exc:
        raise CapplanError(f"{path}: cannot write ({exc.strerror or exc})") from None
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextmanager
def atomic_dir(path: Path, owned: tuple[str, ...] = ()) -> Iterator[Path]:
    """Build a folder's files in a temp folder beside it, then move them in together.

    Sub-folders named in `owned` belong to capplan alone: they are replaced
    whole, so a re-run leaves no stale files there (old figures, say).
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise CapplanError(f"--out {path}: exists and is not a directory")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    except OSError as exc:
        raise CapplanError(f"--out {path}: cannot write ({exc.strerror or exc})") from None
    try:
        yield tmp
        path.mkdir(exist_ok=True)
        for name in owned:
            if (tmp / name).is_dir() and (path / name).is_dir():
                shutil.rmtree(path / name)
        for item in sorted(tmp.rglob("*")):
            target = path / item.relative_to(tmp)
            if item.is_dir():
                target.mkdir(exist_ok=True)
            else:
                os.replace(item, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def fmt(value: Any, digits: int = 3) -> str:
    """A number for a table: NaN as '–', floats to `digits` significant digits."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}g}" if abs(value) < 10**digits else f"{value:,.0f}"
    return str(value)
