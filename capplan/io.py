"""Output shared by the CLI and the reports: JSON that is always valid, folders written atomically.

`atomic_dir` builds the new folder next to the old one and swaps it in with
one rename, so a reader sees either the old folder or the new one, never a
mix; a failure or a SIGTERM while writing leaves the old folder as it was and
no temporary folder behind.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import json
import math
import os
import shutil
import signal
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import Any

from pydantic import BaseModel

from capplan.errors import CapplanError


def clean_json(value: Any) -> Any:
    """NaN and infinities become null, numpy scalars plain numbers, tuples lists, pydantic
    models (e.g. a `Recommendation`) their JSON data."""
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
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
    """Indented JSON with NaN/inf as null (strict JSON parsers refuse NaN)."""
    return json.dumps(clean_json(value), indent=2, allow_nan=False)


def write_atomic(path: Path, write: Callable[[Path], None]) -> None:
    """Write one file via a temp file in the same folder, then rename: never a half file."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        os.close(fd)
    except OSError as exc:
        raise CapplanError(f"{path}: cannot write ({exc.strerror or exc})") from None
    try:
        with _terminate_as_exit():
            write(Path(tmp))
            os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_dir(path: Path, owned: tuple[str, ...] = ()) -> Iterator[Path]:
    """Yield an empty folder beside `path`; on success it replaces `path` in one rename.

    Entries of the old folder that the new one does not write are carried
    over (hard links where possible), except sub-folders named in `owned`:
    those belong to capplan alone and are replaced whole, so a re-run leaves
    no stale files there (old figures, say).
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
        with _terminate_as_exit():
            yield tmp
            if path.is_dir():
                _carry_over(path, tmp, owned)
            _swap_in(tmp, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _carry_over(old: Path, new: Path, owned: tuple[str, ...]) -> None:
    """Copy into `new` what `old` has and `new` does not (hard links for files)."""
    for item in old.iterdir():
        target = new / item.name
        if item.name in owned and target.exists():
            continue
        if target.is_dir() and item.is_dir() and not item.is_symlink():
            _carry_over(item, target, ())
        elif not target.exists() and not target.is_symlink():
            _copy(item, target)


def _copy(item: Path, target: Path) -> None:
    if item.is_symlink():
        os.symlink(os.readlink(item), target)
    elif item.is_dir():
        shutil.copytree(item, target, symlinks=True, copy_function=_link_or_copy)
    else:
        _link_or_copy(str(item), str(target))


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _swap_in(new: Path, path: Path) -> None:
    """Put folder `new` at `path`: one rename, or one exchange when `path` exists."""
    try:
        if not path.exists():
            os.rename(new, path)
            return
        if _exchange(new, path):
            shutil.rmtree(new, ignore_errors=True)  # `new` now holds the old folder
            return
        # No atomic exchange on this system: move the old folder aside, then rename.
        aside = Path(tempfile.mkdtemp(prefix=f".{path.name}.old.", dir=path.parent))
        os.rename(path, aside / "old")
        try:
            os.rename(new, path)
        except OSError:
            os.rename(aside / "old", path)
            raise
        finally:
            shutil.rmtree(aside, ignore_errors=True)
    except OSError as exc:
        raise CapplanError(f"--out {path}: cannot replace ({exc.strerror or exc})") from None


_RENAME_EXCHANGE = 2  # linux/fs.h


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically with Linux renameat2(RENAME_EXCHANGE); False if unsupported."""
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    libc = ctypes.CDLL(name, use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:
        return False
    at_fdcwd = -100
    rc = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), _RENAME_EXCHANGE)
    if rc == 0:
        return True
    err = ctypes.get_errno()
    if err in (38, 22, 95):  # ENOSYS, EINVAL, EOPNOTSUPP: the file system cannot exchange
        return False
    raise OSError(err, os.strerror(err))


@contextlib.contextmanager
def _terminate_as_exit() -> Iterator[None]:
    """While writing, SIGTERM exits like Ctrl-C would, so the temporary folder is removed."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def _exit(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, _exit)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
