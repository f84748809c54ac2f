"""`capplan simulate` and `capplan scenario validate` through `capplan.cli.main`."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from helpers import SCENARIOS

from capplan.cli import main
from capplan.errors import CapplanError

CHAT = SCENARIOS / "chat.toml"
CODE = SCENARIOS / "code_completion.toml"
# Short runs: the warm-up is set before the horizon it must stay below.
CHAT_SHORT = ["--set", "workload.warmup_s=60", "--set", "workload.horizon_s=300"]
CODE_SHORT = ["--set", "workload.horizon_s=900"]


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def no_nan(token: str) -> None:
    raise AssertionError(f"non-JSON number {token} in the output")


def test_simulate_json_is_pure_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(capsys, "simulate", CODE, *CODE_SHORT, "--json")
    assert code == 0 and err == ""
    (summary,) = json.loads(out, parse_constant=no_nan)
    assert summary["template"] == "starcoder2-15b-code"
    assert summary["ttft_p50_s"] is None  # NaN (no first token on SYNC) is written as null
    assert summary["requests"] == (
        summary["completed"]
        + summary["rejected"]
        + summary["expired"]
        + summary["in_flight_at_end"]
    )


def test_simulate_set_overrides_reach_the_summary(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(
        capsys,
        "simulate",
        CHAT,
        *CHAT_SHORT,
        "--set",
        "endpoint_config.per_worker=4",
        "--replications",
        "2",
        "--seed",
        "3",
        "--json",
    )
    assert code == 0
    (summary,) = json.loads(out, parse_constant=no_nan)
    assert summary["per_worker"] == 4 and summary["replications"] == 2
    for key, (low, high) in summary["ci95"].items():
        assert low <= summary[key] <= high, key


def test_simulate_table_output(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(capsys, "simulate", CODE, *CODE_SHORT)
    assert code == 0 and err == ""
    assert "starcoder2-15b-code" in out and "latency" in out


def test_simulate_out_writes_summary_requests_timeline(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_dir = tmp_path / "run"
    code, out, err = cli(capsys, "simulate", CHAT, *CHAT_SHORT, "--out", out_dir, "--json")
    assert code == 0 and err == ""
    assert sorted(p.name for p in out_dir.iterdir()) == [
        "requests.csv",
        "summary.json",
        "timeline.csv",
    ]
    (summary,) = json.loads((out_dir / "summary.json").read_text(), parse_constant=no_nan)
    assert summary == json.loads(out)[0]
    requests = pd.read_csv(out_dir / "requests.csv")
    timeline = pd.read_csv(out_dir / "timeline.csv")
    assert {"template", "arrival", "start", "end", "status", "retries"} <= set(requests)
    assert {"template", "time", "desired", "ready", "in_flight", "queued"} <= set(timeline)
    assert (requests["arrival"] >= 60).sum() == summary["requests"]
    assert (requests["template"] == "llama-3-8b-chat").all()
    assert not list(tmp_path.glob(".run.*")), "temporary folder left behind"


def test_failed_write_leaves_no_partial_out_dir(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(*_a: object, **_k: object) -> None:
        raise CapplanError("disk full")

    # summary.json is written first; the CSVs fail after it.
    monkeypatch.setattr(pd.DataFrame, "to_csv", fail)
    out_dir = tmp_path / "run"
    code, _, err = cli(capsys, "simulate", CODE, *CODE_SHORT, "--out", out_dir)
    assert code == 2 and "disk full" in err
    assert not out_dir.exists()
    assert list(tmp_path.iterdir()) == []


def test_failed_run_leaves_no_out_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_dir = tmp_path / "run"
    code, _, _ = cli(capsys, "simulate", CHAT, "--set", "workload.rate=-1", "--out", out_dir)
    assert code == 2
    assert list(tmp_path.iterdir()) == []


def test_scenario_validate(capsys: pytest.CaptureFixture[str]) -> None:
    examples = sorted(SCENARIOS.glob("*.toml"))
    code, out, err = cli(capsys, "scenario", "validate", *examples)
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert len(lines) == len(examples)
    for path, line in zip(examples, lines, strict=True):
        assert line.startswith(f"{path}: OK")


# ---------------------------------------------------------------- errors: exit 2, one line
def _files(tmp_path: Path) -> dict[str, Path]:
    bad_toml = tmp_path / "bad.toml"
    bad_toml.write_text('name = "x\n[templates\n')
    no_rate = tmp_path / "no_rate.toml"
    no_rate.write_text(
        f'[templates]\npath = "{(SCENARIOS / "templates" / "example.json").as_posix()}"\n'
        'names = ["bge-embed"]\n[workload]\nkind = "poisson"\nhorizon_s = 100\n'
    )
    return {"bad_toml": bad_toml, "no_rate": no_rate, "missing": tmp_path / "missing.toml"}


ERRORS = [
    # (argv after "simulate", words the one line must contain)
    ([CHAT, "--set", "foo.bar=1"], ["foo.bar"]),
    ([CHAT, "--set", "endpoint_config.nonsense=1"], ["nonsense"]),
    ([CHAT, "--set", "workload.rate=-1"], ["workload.rate"]),
    ([CHAT, "--set", "endpoint_config.per_worker=0"], ["per_worker"]),
    ([CHAT, "--set", "service.batching_alpha=2"], ["service.batching_alpha"]),
    ([CHAT, "--set", "workload.horizon_s=abc"], ["workload.horizon_s"]),
    ([CHAT, "--set", "workload.rate"], ["workload.rate", "KEY=VALUE"]),
    ([CHAT, "--template", "no-such-template"], ["no-such-template"]),
    ([CHAT, "--replications", "0"], ["replications"]),
    (["{missing}"], ["missing.toml"]),
    (["{bad_toml}"], ["bad.toml", "TOML"]),
    (["{no_rate}"], ["no_rate.toml", "workload", "rate"]),
]


@pytest.mark.parametrize(
    ("argv", "words"), ERRORS, ids=[" ".join(map(str, a[0][-1:])) for a in ERRORS]
)
def test_bad_input_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list, words: list[str]
) -> None:
    files = _files(tmp_path)
    argv = [str(a).format(**files) for a in argv]
    out_dir = tmp_path / "out"
    code, out, err = cli(capsys, "simulate", *argv, "--out", out_dir)
    assert code == 2
    assert out == ""
    assert err.endswith("\n") and err.count("\n") == 1, err
    for word in words:
        assert word in err, (word, err)
    assert not out_dir.exists()


@pytest.mark.parametrize("name", ["missing", "bad_toml", "no_rate"])
def test_scenario_validate_bad_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    path = _files(tmp_path)[name]
    code, out, err = cli(capsys, "scenario", "validate", path)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and path.name in err
