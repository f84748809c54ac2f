"""`capplan templates validate|show`: output, exit codes, one-line errors, the real entry point."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from capplan.cli import main

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "scenarios" / "templates" / "example.json"
Make = Callable[..., dict[str, Any]]


def write(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err
    return code, captured.out, captured.err


def test_validate_counts_per_file(
    tmp_path: Path, make_template: Make, capsys: pytest.CaptureFixture[str]
) -> None:
    single = write(tmp_path / "single.json", make_template(id="mt_x"))
    code, out, err = run(capsys, "templates", "validate", str(EXAMPLE), str(single))
    assert code == 0 and err == ""
    assert out.splitlines() == [f"{EXAMPLE}: 5 templates OK", f"{single}: 1 template OK"]


def test_validate_duplicate_across_arguments(
    tmp_path: Path, make_template: Make, capsys: pytest.CaptureFixture[str]
) -> None:
    a = write(tmp_path / "a.json", [make_template()])
    b = write(tmp_path / "b.json", [make_template()])
    code, out, err = run(capsys, "templates", "validate", str(a), str(b))
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and str(a) in err and str(b) in err


def test_show_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "templates", "show", str(EXAMPLE), "--json")
    assert code == 0 and err == ""
    rows = json.loads(out)  # stdout is pure JSON
    assert [r["name"] for r in rows] == [
        "llama-3-8b-chat",
        "llama-3-70b-instruct",
        "bge-embed",
        "starcoder2-15b-code",
        "batch-scorer",
    ]
    assert rows[0] == {
        "name": "llama-3-8b-chat",
        "endpoint_type": "STREAMING",
        "model_type": "CHAT_COMPLETION",
        "gpu_type": "nvidia-ampere-a10",
        "gpus": 1,
        "min_workers": 1,
        "max_workers": 8,
        "per_worker": 10,
        "readiness_initial_delay_seconds": 120,
        # 1 × A10 at $1.00 + 6 vCPU × $0.04 + 24 GiB × $0.005
        "cost_per_worker_hour": pytest.approx(1.36),
    }
    big = rows[1]
    assert (big["gpus"], big["gpu_type"], big["per_worker"]) == (4, "nvidia-ampere-a100e", 8)
    assert big["cost_per_worker_hour"] == pytest.approx(4 * 2.90 + 24 * 0.04 + 320 * 0.005)


def test_show_table(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "templates", "show", str(EXAMPLE))
    assert code == 0 and err == ""
    for text in ("llama-3-70b-instruct", "4 × nvidia-ampere-a100e", "1/4/8", "600", "14.16"):
        assert text in out
    assert "0/10/4" in out and "ASYNC" in out


def test_show_warns_in_one_line(
    tmp_path: Path, make_template: Make, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path / "t.json", [make_template(endpoint_config={"min_workers": 0})])
    code, out, err = run(capsys, "templates", "show", str(path), "--json")
    assert code == 0 and json.loads(out)[0]["min_workers"] == 0
    assert err.startswith("capplan: warning: ") and err.count("\n") == 1
    assert "'llama-8b'" in err and "scale-from-zero" in err and "Warning:" not in err


@pytest.mark.parametrize("command", ["validate", "show"])
@pytest.mark.parametrize(
    ("content", "says"),
    [
        (None, "no such file"),
        ("{oops", "not valid JSON"),
        (
            '[{"id": "a", "name": "llama-8b", "vendor_configuration": {'
            '"bundle_config": {"registry": "r", "image": "i", "tag": "t"},'
            '"endpoint_config": {"min_workers": 3, "max_workers": 2}}}]',
            "[0] (name 'llama-8b').vendor_configuration.endpoint_config.min_workers: "
            "must be <= max_workers (2), got 3",
        ),
    ],
    ids=["missing", "bad-json", "semantic"],
)
def test_user_errors_exit_2_in_one_line(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    command: str,
    content: str | None,
    says: str,
) -> None:
    path = tmp_path / "templates.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    code, out, err = run(capsys, "templates", command, str(path))
    assert code == 2 and out == ""
    assert err.startswith(f"capplan: error: {path}") and says in err and err.count("\n") == 1


@pytest.mark.parametrize("command", ["validate", "show", "fetch"])
def test_help_has_an_example(capsys: pytest.CaptureFixture[str], command: str) -> None:
    code, out, _ = run(capsys, "templates", command, "--help")
    assert code == 0 and f"capplan templates {command}" in " ".join(out.split())


def test_usage_error_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "templates", "fetch", "--page-size", "many")
    assert code == 2 and err.startswith("capplan: error: ") and err.count("\n") == 1


def test_real_entry_point() -> None:
    env = {**os.environ, "COLUMNS": "200"}
    result = subprocess.run(
        [sys.executable, "-m", "capplan", "templates", "show", "scenarios/templates/example.json"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "llama-3-8b-chat" in result.stdout and "bge-embed" in result.stdout
    assert result.stderr == ""
