"""A streamed run (no --out) honours the [autoscaler] table exactly as a recorded run does."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ARGS = [
    "simulate",
    str(ROOT / "scenarios" / "code_completion.toml"),
    "-q",
    "--replications",
    "1",
    "--set",
    "autoscaler.hpa_sync_period_s=60",
]


def _capplan(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "capplan", *args], capture_output=True, text=True, check=True
    )
    return done.stdout


def test_streamed_and_recorded_runs_use_the_same_autoscaler(tmp_path: Path) -> None:
    streamed = json.loads(_capplan(*ARGS, "--json"))[0]
    _capplan(*ARGS, "--out", str(tmp_path / "out"))
    recorded = json.loads((tmp_path / "out" / "summary.json").read_text())[0]
    default = json.loads(_capplan(*ARGS[:-2], "--json"))[0]
    assert streamed["worker_hours"] == recorded["worker_hours"]
    assert streamed["worker_hours"] != default["worker_hours"]  # the override took effect
