"""The typed recommendation: `capplan schema recommendation`, `recommend --json` valid
against it (checked with the independent `jsonschema` validator and by reading it back
into the model), and one table builder behind the CLI table and the report."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from test_cli_recommend import run, write_scenario

from capplan.cli import main
from capplan.planner.recommendation import Recommendation, Recommendations

INFEASIBLE = {
    "service": {"distribution": "deterministic", "mean_s": 2.0},
    "slo": {"latency_p99_s": 1.0},
}


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["schema", "recommendation"]) == 0
    return json.loads(out.getvalue())


@pytest.fixture(scope="module", params=["feasible", "infeasible"])
def planned(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """`recommend -q --out DIR` on a wide terminal, then `recommend --json`, on one scenario."""
    import contextlib
    import io
    import os

    folder = tmp_path_factory.mktemp(request.param)
    path = write_scenario(folder, **(INFEASIBLE if request.param == "infeasible" else {}))
    table, js = io.StringIO(), io.StringIO()
    old = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "300"  # rich: no wrapped cells
    try:
        with contextlib.redirect_stdout(table):
            code = main(
                ["recommend", str(path), "-q", "--workers", "1", "--out", str(folder / "r")]
            )
    finally:
        if old is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = old
    assert code == 0
    with contextlib.redirect_stdout(js):
        assert main(["recommend", str(path), "--json", "--workers", "1"]) == 0
    return {
        "kind": request.param,
        "table": table.getvalue(),
        "json": js.getvalue(),
        "report": (folder / "r" / "report.md").read_text(),
        "written": (folder / "r" / "recommendation.json").read_text(),
    }


def test_schema_is_a_valid_json_schema_of_a_list_of_documents(schema: dict[str, Any]) -> None:
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["type"] == "array"
    doc = schema["$defs"]["Recommendation"]
    assert {"current", "rule_of_thumb", "recommended", "sensitivity", "search"} <= set(
        doc["required"]
    )
    assert doc["additionalProperties"] is False


def test_json_output_validates_against_the_schema(
    planned: dict[str, Any], schema: dict[str, Any]
) -> None:
    docs = json.loads(planned["json"])
    jsonschema.validate(docs, schema)
    jsonschema.validate(json.loads(planned["written"]), schema)
    # and reads back into the model, unchanged
    typed = Recommendations.model_validate_json(planned["json"]).root
    assert json.loads(json.dumps([d.model_dump(mode="json") for d in typed])) == docs
    assert typed[0].feasible is (planned["kind"] == "feasible")
    if planned["kind"] == "infeasible":
        assert typed[0].recommended is None and typed[0].best_achievable is not None
    else:
        assert typed[0].recommended is not None and typed[0].recommended.meets_slo


def test_internal_runs_stay_out_and_a_wrong_document_is_refused(
    planned: dict[str, Any], schema: dict[str, Any]
) -> None:
    assert "_runs" not in planned["json"]
    doc = json.loads(planned["json"])[0]
    for broken in (
        {k: v for k, v in doc.items() if k != "current"},
        {**doc, "current": {**doc["current"], "_runs": []}},
        {**doc, "feasible": "maybe"},
        {**doc, "sensitivity": [{"traffic": 2.0}]},
    ):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate([broken], schema)
        with pytest.raises(ValueError):
            Recommendation.model_validate(broken)


def _rich_rows(text: str) -> list[tuple[str, ...]]:
    """The body rows of the first rich table in text (cells between │)."""
    rows = []
    for line in text.splitlines():
        if line.startswith("│"):
            rows.append(tuple(c.strip() for c in line.strip("│").split("│")))
        elif rows:
            break
    return rows


def _markdown_rows(report: str, heading: str) -> list[tuple[str, ...]]:
    """The body rows of the Markdown table after `heading`."""
    lines: list[str] = []
    for ln in report.split(heading, 1)[1].splitlines():
        if ln.startswith("|"):
            lines.append(ln)
        elif lines:
            break  # the first table only
    table = []
    for ln in lines[2:]:  # header, rule
        cells = re.split(r"(?<!\\)\|", ln.strip()[1:-1])
        table.append(tuple(c.strip().replace("\\|", "|") for c in cells))
    return table


def test_cli_table_and_report_show_the_same_rows(planned: dict[str, Any]) -> None:
    cli = _rich_rows(planned["table"])
    md = _markdown_rows(planned["report"], "### Current, rule of thumb and recommended")
    assert cli and cli == md[: len(cli)] and len(md) == len(cli)
    header = "best achievable" if planned["kind"] == "infeasible" else "recommended"
    assert header in planned["table"] and f"| {header} |" in planned["report"]
    meets = dict((row[0], row[1:]) for row in cli)["meets SLO"]
    assert meets[-1] == ("NO" if planned["kind"] == "infeasible" else "yes")


def test_unknown_schema_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["schema", "scenario-x"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "recommendation" in err


def test_run_helper_is_shared(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`recommend --json` on a bad path is one line through the same entry point."""
    code, out, err = run(capsys, str(tmp_path / "missing.toml"), "--json")
    assert code == 2 and out == "" and err.count("\n") == 1


# ---------------------------------------------------------------- exact replays
@pytest.mark.parametrize("resample", ["none", "blocks"])
def test_an_exact_replay_is_reported_as_not_confident(resample: str) -> None:
    """A static pool on a trace with work fixed by its tokens: with resample "none" every
    replication is the same run, so the verdict has no interval and the table and the
    document say so; the default block bootstrap gives real spread."""
    from helpers import NAME, make_scenario

    from capplan.planner.config import current_config
    from capplan.planner.evidence import evaluate
    from capplan.planner.recommendation import evidence_of
    from capplan.report.tables import _cells
    from capplan.scenario import SloSpec
    from capplan.sweep import InlineExecutor, Runner

    scen = make_scenario(
        workload={
            "kind": "trace",
            "path": "scenarios/data/azure_llm_conv_2023.csv",
            "duration_s": 600.0,
            "block_s": 60.0,
            "resample": resample,
        },
        service={"kind": "tokens", "prefill_tokens_per_s": 8000.0, "decode_tokens_per_s": 60.0},
        min_workers=4,
        max_workers=4,
        per_worker=8,
    )
    case = replace(scen.case(NAME), slo=SloSpec(latency_p99_s=1e4))
    runner = Runner(InlineExecutor())
    (ev,) = [evidence_of(d) for d in evaluate(runner, case, [current_config(case)], 3)]
    check = ev.slo["latency_p99_s"]
    if resample == "none":
        assert not ev.confident and not check.confident and check.upper == check.value
        assert _cells(ev)[-1] == "yes (not confident: no interval)"
    else:
        assert ev.confident and check.upper > check.value
        assert _cells(ev)[-1] == "yes"
