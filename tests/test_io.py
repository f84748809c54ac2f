"""capplan.io: output folders swapped in whole, never half-written, cleaned up on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from capplan.errors import CapplanError
from capplan.io import atomic_dir, dumps


def hidden(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_a_new_folder_appears_whole(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with atomic_dir(out) as tmp:
        (tmp / "a.json").write_text("1")
        assert not out.exists()  # nothing shows until the block ends
    assert (out / "a.json").read_text() == "1" and hidden(tmp_path) == []


def test_a_file_in_the_way_does_not_leave_a_mix(tmp_path: Path) -> None:
    """summary.json is a folder in the old output: the new file replaces it, others stay."""
    out = tmp_path / "out"
    (out / "summary.json").mkdir(parents=True)
    (out / "summary.json" / "x").write_text("old")
    (out / "notes.txt").write_text("mine")
    (out / "figures").mkdir()
    (out / "figures" / "stale.png").write_text("old figure")
    with atomic_dir(out, owned=("figures",)) as tmp:
        (tmp / "summary.json").write_text("{}")
        (tmp / "figures").mkdir()
        (tmp / "figures" / "new.png").write_text("new figure")
    assert (out / "summary.json").read_text() == "{}"
    assert (out / "notes.txt").read_text() == "mine"  # the user's files are carried over
    assert sorted(p.name for p in (out / "figures").iterdir()) == ["new.png"]
    assert hidden(tmp_path) == []


def test_a_failure_leaves_the_old_folder_untouched(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.json").write_text("old a")
    (out / "b.json").write_text("old b")
    with pytest.raises(RuntimeError), atomic_dir(out) as tmp:
        (tmp / "a.json").write_text("new a")
        raise RuntimeError("the run failed half-way")
    assert (out / "a.json").read_text() == "old a" and (out / "b.json").read_text() == "old b"
    assert hidden(tmp_path) == []


def test_a_file_where_the_folder_should_be_is_one_error(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.write_text("not a folder")
    with pytest.raises(CapplanError, match="--out .*not a directory"), atomic_dir(out):
        pass
    assert hidden(tmp_path) == []


def test_sigterm_mid_write_leaves_no_temporary_folder(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.json").write_text("old")
    script = textwrap.dedent(
        f"""
        import sys, time
        from pathlib import Path
        from capplan.io import atomic_dir
        with atomic_dir(Path({str(out)!r})) as tmp:
            (tmp / "a.json").write_text("new")
            print("writing", flush=True)
            time.sleep(60)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "writing"
        assert len(hidden(tmp_path)) == 1  # the temporary folder exists while writing
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 128 + signal.SIGTERM
    finally:
        if proc.poll() is None:
            proc.kill()
    assert hidden(tmp_path) == []
    assert (out / "a.json").read_text() == "old"


def test_the_previous_sigterm_handler_comes_back(tmp_path: Path) -> None:
    before = signal.getsignal(signal.SIGTERM)
    with atomic_dir(tmp_path / "out") as tmp:
        assert signal.getsignal(signal.SIGTERM) is not before
        (tmp / "x").write_text("1")
    assert signal.getsignal(signal.SIGTERM) is before


def test_dumps_writes_strict_json() -> None:
    assert dumps({"a": float("nan"), "b": (1, float("inf"))}) == (
        '{\n  "a": null,\n  "b": [\n    1,\n    null\n  ]\n}'
    )


def test_simulate_out_twice_replaces_the_folder(tmp_path: Path) -> None:
    """Through the CLI: a second --out run swaps in a whole new folder."""
    from capplan.cli import main

    repo = Path(__file__).resolve().parents[1]
    out = tmp_path / "sim"
    args = ["simulate", str(repo / "scenarios" / "chat.toml"), "--out", str(out), "-q"]
    args += ["--set", "workload.warmup_s=0", "--set", "workload.horizon_s=120"]
    assert main(args) == 0
    first = os.stat(out / "summary.json").st_mtime_ns
    time.sleep(0.01)
    assert main(args) == 0
    assert os.stat(out / "summary.json").st_mtime_ns >= first
    assert sorted(p.name for p in out.iterdir()) == ["requests.csv", "summary.json", "timeline.csv"]
    assert hidden(tmp_path) == []


def test_sigterm_mid_file_write_leaves_no_temporary_file(tmp_path: Path) -> None:
    """write_atomic (templates fetch, traffic fetch): the old file stays, no hidden temp."""
    target = tmp_path / "t.json"
    target.write_text("old")
    script = textwrap.dedent(
        f"""
        import time
        from pathlib import Path
        from capplan.io import write_atomic

        def slow(tmp: Path) -> None:
            tmp.write_text("new")
            print("writing", flush=True)
            time.sleep(60)

        write_atomic(Path({str(target)!r}), slow)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "writing"
        assert len(hidden(tmp_path)) == 1
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 128 + signal.SIGTERM
    finally:
        if proc.poll() is None:
            proc.kill()
    assert hidden(tmp_path) == [] and target.read_text() == "old"
