"""`capplan recommend`: clear one-line errors for bad [planner]/[slo]/[faults] values, the JSON
document's shape, and the table report, through `capplan.cli.main`."""

from __future__ import annotations

import contextlib
import io
import json
import math
from pathlib import Path
from typing import Any

import pytest
from helpers import NAME, template_dict

from capplan.cli import main
from capplan.scenario import load_scenario
from capplan.simulate import describe_config, simulate

DOC_KEYS = {
    "template",
    "feasible",
    "current",
    "rule_of_thumb",
    "recommended",
    "lower_bound_cost_per_hour",
    "saving_per_month",
    "alternatives",
    "sensitivity",
    "search",
}
CONFIG_KEYS = {
    "gpu_type",
    "gpus",
    "min_workers",
    "max_workers",
    "per_worker",
    "metrics",
    "cost_per_hour",
    "meets_slo",
}
SEARCH_KEYS = {"candidates", "screened_out", "simulations", "seconds"}

TABLES: dict[str, dict[str, Any]] = {
    "workload": {"kind": "poisson", "rate": 2.0, "horizon_s": 600},
    "service": {
        "kind": "latency",
        "distribution": "exponential",
        "mean_s": 1.0,
        "batching_alpha": 0.1,
    },
    "slo": {"latency_p99_s": 20.0},
    "planner": {"gpu_types": ["nvidia-ampere-a10"], "per_worker": [1, 4], "replications": 2},
}


def toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    if isinstance(v, float) and not math.isfinite(v):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")
    return repr(v)


def write_scenario(tmp_path: Path, **changes: dict[str, Any]) -> Path:
    """A scenario TOML beside its template file; `changes` updates (None deletes) keys."""
    (tmp_path / "templates.json").write_text(
        json.dumps({"items": [template_dict("SYNC", min_workers=1, max_workers=4, per_worker=2)]})
    )
    lines = ['name = "cli"', "seed = 3", "", "[templates]", 'path = "templates.json"']
    for table in [*TABLES, *(t for t in changes if t not in TABLES)]:
        merged = {**TABLES.get(table, {}), **changes.get(table, {})}
        lines += ["", f"[{table}]"]
        lines += [f"{k} = {toml_value(v)}" for k, v in merged.items() if v is not None]
    path = tmp_path / "scenario.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["recommend", *argv])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err
    return code, captured.out, captured.err


# ---------------------------------------------------------------- bad values
@pytest.mark.parametrize(
    ("table", "key", "value"),
    [
        ("planner", "per_worker", []),
        ("planner", "per_worker", [0]),
        ("planner", "per_worker", [4, -1]),
        ("planner", "gpu_types", ["nvidia-foo"]),
        ("planner", "gpu_types", []),
        ("planner", "replications", 1),
        ("planner", "max_workers_cap", 0),
        ("planner", "change_gpu_count", "sometimes"),
        ("planner", "bogus", 1),
        ("planner", "min_workers_floor", -1),
        ("planner", "min_workers_floor", "two"),
        ("planner", "sensitivity", [0.5]),
        ("planner", "sensitivity", [1.5, 1.0]),
        ("planner", "sensitivity", [float("inf")]),
        ("planner", "sensitivity", "double"),
        ("faults", "worker_mtbf_h", 0),
        ("faults", "worker_mtbf_h", -2.0),
        ("faults", "worker_mtbf_h", float("nan")),
        ("faults", "worker_mtbf_h", "often"),
        ("faults", "bogus", 1),
        ("slo", "confidence", 1.5),
        ("slo", "confidence", 0),
        ("slo", "latency_p99_s", -1),
        ("slo", "ttft_p99_s", 0),
        ("slo", "max_error_rate", 2),
        ("slo", "bogus", 1),
    ],
)
def test_bad_values_are_one_line_naming_the_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], table: str, key: str, value: Any
) -> None:
    path = write_scenario(tmp_path, **{table: {key: value}})
    code, out, err = run(capsys, str(path), "--workers", "1")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("capplan: error: ")
    assert f"{table}.{key}" in err


def test_unknown_gpu_type_lists_the_allowed_ones(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_scenario(tmp_path, planner={"gpu_types": ["nvidia-foo"]})
    _, _, err = run(capsys, str(path))
    assert "'nvidia-foo'" in err and "nvidia-hopper-h100" in err


def test_replications_must_allow_a_confidence_interval(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_scenario(tmp_path, planner={"replications": 1})
    _, _, err = run(capsys, str(path))
    assert "planner.replications" in err and "2" in err


def test_unknown_template_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, str(write_scenario(tmp_path)), "--template", "nope", "-q")
    assert code == 2 and out == "" and err.count("\n") == 1 and "'nope'" in err


# ---------------------------------------------------------------- the JSON document
@pytest.fixture(scope="module")
def json_doc(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, Any]]]:
    """One planner run shared by the document tests (capsys is per test: redirect instead)."""
    path = write_scenario(tmp_path_factory.mktemp("json"))
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["recommend", str(path), "--json", "--workers", "1"])
    assert code == 0 and err.getvalue() == ""
    return path, json.loads(out.getvalue())  # stdout is pure JSON


def check_config(cfg: dict[str, Any], metric_keys: set[str]) -> None:
    assert CONFIG_KEYS <= set(cfg)
    assert metric_keys <= set(cfg["metrics"])
    assert isinstance(cfg["meets_slo"], bool)
    assert cfg["cost_per_hour"] > 0


def test_json_document_has_every_section(json_doc: tuple[Path, list[dict[str, Any]]]) -> None:
    path, docs = json_doc
    assert isinstance(docs, list) and len(docs) == 1
    doc = docs[0]
    assert DOC_KEYS <= set(doc)
    assert doc["template"] == NAME and doc["feasible"] is True
    # The metrics are the keys `capplan simulate` reports, less the configuration fields.
    summary = simulate(path, replications=2)[0].summary
    metric_keys = set(summary) - set(describe_config_keys(path))
    for key in ("current", "rule_of_thumb", "recommended"):
        check_config(doc[key], metric_keys)
    assert SEARCH_KEYS <= set(doc["search"])
    assert doc["search"]["simulations"] > 0 and doc["search"]["seconds"] >= 0
    assert doc["search"]["candidates"] >= doc["search"]["screened_out"]
    rec, cur = doc["recommended"], doc["current"]
    assert doc["saving_per_month"] == pytest.approx(
        (cur["cost_per_hour"] - rec["cost_per_hour"]) * 730
    )
    assert doc["lower_bound_cost_per_hour"] <= rec["cost_per_hour"]
    assert isinstance(doc["alternatives"], list)
    assert [e["traffic"] for e in doc["sensitivity"]] == [1.5, 2.0]


def describe_config_keys(path: Path) -> list[str]:
    return list(describe_config(load_scenario(path).case(NAME)))


def test_json_has_no_nan(json_doc: tuple[Path, list[dict[str, Any]]]) -> None:
    """NaN (e.g. TTFT of a SYNC endpoint) and infinities are written as null."""

    def walk(v: Any) -> None:
        if isinstance(v, dict):
            for x in v.values():
                walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)
        else:
            assert not (isinstance(v, float) and not math.isfinite(v))

    walk(json_doc[1])


def test_json_for_an_infeasible_slo(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Deterministic 2 s of work against a 1 s p99: reported, not crashed."""
    path = write_scenario(
        tmp_path,
        service={"distribution": "deterministic", "mean_s": 2.0},
        slo={"latency_p99_s": 1.0},
    )
    code, out, err = run(capsys, str(path), "--json", "--workers", "1")
    assert code == 0 and err == ""
    doc = json.loads(out)[0]
    assert doc["feasible"] is False and doc["recommended"] is None
    assert doc["fluid_estimate_cost_per_hour"] is None  # infinite: no GPU can meet the target
    assert doc["lower_bound_cost_per_hour"] >= 0  # the proven bound does not claim infeasibility
    assert "service time" in doc["why"] and doc["best_achievable"]["violation"] >= 2.0


# ---------------------------------------------------------------- the table
def test_table_and_verdict(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, str(write_scenario(tmp_path)), "--workers", "1", "-q")
    assert code == 0
    assert f"{NAME}: recommendation" in out
    assert f"Run {NAME} on 1× nvidia-ampere-a10" in " ".join(out.split())
    assert "proven lower bound" in out


def test_table_for_an_infeasible_slo(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_scenario(
        tmp_path,
        service={"distribution": "deterministic", "mean_s": 2.0},
        slo={"latency_p99_s": 1.0},
    )
    code, out, _ = run(capsys, str(path), "--workers", "1", "-q")
    assert code == 0
    assert "No configuration meets the SLO." in " ".join(out.split())


def test_verdict_survives_a_zero_lower_bound(
    json_doc: tuple[Path, list[dict[str, Any]]],
) -> None:
    """No traffic gives a proven bound of 0: the verdict must not divide by it."""
    from capplan.report.verdict import verdict

    doc = {**json_doc[1][0], "lower_bound_cost_per_hour": 0.0}
    assert "proven lower bound is $0.00/h" in verdict(doc)
