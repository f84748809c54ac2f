"""`capplan recommend --out DIR` and capplan.report: files, contents, atomicity.

One small scenario (poisson, 900 s, latency service, 2 GPU types, per_worker
1/2/4, 2 replications) with three templates: `fast` has a recommendation,
`slow` cannot meet its SLO within planner.max_workers_cap (a best achievable
configuration), `impossible` misses its SLO even with a request alone on a
worker (no best achievable at all). The planner runs once through the CLI and
once through the API per module; the failure tests reuse those documents.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import re
import struct
from pathlib import Path
from typing import Any

import pytest
from helpers import template_dict
from matplotlib.figure import Figure

import capplan.report.figures as report_figures
from capplan.cli import main
from capplan.report import (
    FIGURE_NAMES,
    capplan_version,
    content,
    html,
    markdown,
    reproduce_command,
    template_figures,
    write_report,
)
from capplan.scenario import load_scenario

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
TEMPLATES = ("fast", "slow", "impossible")

SCENARIO_TOML = """
name = "report-test"
seed = 3

[templates]
path = "templates.json"

[workload]
kind = "poisson"
rate = 2.0
horizon_s = 900
warmup_s = 60

[workload.slow]
rate = 15.0

[service]
kind = "latency"
distribution = "exponential"
mean_s = 0.5
batching_alpha = 0.5
cold_start = { distribution = "lognormal", median = 30, p99 = 90 }

[slo]
latency_p99_s = 4.0

[slo.impossible]
latency_p99_s = 0.05

[planner]
gpu_types = ["nvidia-tesla-t4", "nvidia-ampere-a10"]
per_worker = [1, 2, 4]
replications = 2
max_workers_cap = 4
"""


def _template(name: str) -> dict[str, Any]:
    return template_dict(
        "SYNC", name=name, min_workers=1, max_workers=4, per_worker=2, readiness_delay_s=30
    )


@pytest.fixture(scope="module")
def scenario_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("scenario")
    items = [_template(n) for n in TEMPLATES]
    (folder / "templates.json").write_text(json.dumps({"items": items}))
    path = folder / "report_test.toml"
    path.write_text(SCENARIO_TOML)
    return path


def _cli(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(list(args))
    return code, out.getvalue()


@pytest.fixture(scope="module")
def cli_report(scenario_file: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """`capplan recommend SCENARIO --workers 1 --json --out DIR` once for the module."""
    out = tmp_path_factory.mktemp("cli") / "report"
    code, stdout = _cli(
        "recommend", str(scenario_file), "--workers", "1", "--json", "-q", "--out", str(out)
    )
    assert code == 0
    return {"out": out, "stdout": stdout}


@pytest.fixture(scope="module")
def docs(cli_report: dict[str, Any]) -> list[dict[str, Any]]:
    """The recommendation documents, as `--json` printed them (NaN as null)."""
    return json.loads(cli_report["stdout"])


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == PNG_SIGNATURE
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


# ---------------------------------------------------------------- files
def test_out_writes_every_kind_of_file(cli_report: dict[str, Any]) -> None:
    out: Path = cli_report["out"]
    assert {p.name for p in out.iterdir()} == {
        "report.md",
        "report.html",
        "recommendation.json",
        "figures",
    }
    pngs = sorted(p.name for p in (out / "figures").iterdir())
    assert pngs == sorted(f"{t}_{f}.png" for t in TEMPLATES for f in FIGURE_NAMES)
    for png in (out / "figures").iterdir():
        data = png.read_bytes()
        width, height = _png_size(data)
        assert width >= 500 and height >= 250
        assert len(data) > 10_000
    # No temp folder left beside the report.
    assert [p.name for p in out.parent.iterdir()] == ["report"]


def test_recommendation_json_is_the_json_document(cli_report: dict[str, Any]) -> None:
    written = (cli_report["out"] / "recommendation.json").read_text()
    assert json.loads(written) == json.loads(cli_report["stdout"])
    assert written == cli_report["stdout"]  # byte for byte, trailing newline included
    assert [d["template"] for d in json.loads(written)] == list(TEMPLATES)


def test_markdown_states_assumptions_and_reproduce_command(
    cli_report: dict[str, Any], scenario_file: Path
) -> None:
    md = (cli_report["out"] / "report.md").read_text()
    command = reproduce_command(scenario_file, cli_report["out"])
    assert command == f"capplan recommend {scenario_file} --out {cli_report['out']}"
    assert command in md
    for text in (
        "$/GPU-hour (assumption)",
        "| nvidia-tesla-t4 | $0.35 |",
        "| nvidia-ampere-a10 | $1.00 |",
        "CPU price (assumption): $0.04 per vCPU-hour",
        "memory price (assumption): $0.005 per GiB-hour",
        "Tensor-parallel efficiency (assumption): 0.85",
        "Seed 3",
        "planner replications 2",
        f"capplan version {capplan_version()}",
        "Batching alpha 0.5",
        "Cold start (image pull + model load): lognormal(median 30, p99 90) s",
        "node provisioning 0 s",
        "latency-based: exponential(mean 0.5) s per request",
        "measured alone (concurrency 1) on 1× nvidia-ampere-a10",
        "Poisson arrivals at 2 requests/s",
    ):
        assert text in md, text
    for name in TEMPLATES:
        assert f"## Template {name}" in md
    # Every figure link points at a file that exists; no rich markup leaked.
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)
    assert len(links) == 4 * len(TEMPLATES)
    assert all((cli_report["out"] / link).is_file() for link in links)
    assert "[bold" not in md and "[/]" not in md and "[red]" not in md


def test_markdown_tables_per_template(cli_report: dict[str, Any]) -> None:
    md = (cli_report["out"] / "report.md").read_text()
    fast = md.split("## Template fast")[1].split("## Template")[0]
    assert "|  | current | rule of thumb | recommended |" in fast
    for row in (
        "| latency p99 |",
        "| TTFT p99 |",
        "| error rate |",
        "| $ / hour |",
        "| meets SLO |",
    ):
        assert row in fast
    assert "### Alternatives" in fast and "### Sensitivity to more traffic" in fast
    assert "| 1.5× |" in fast and "| 2× |" in fast
    assert "### Search effort" in fast and "simulations" in fast
    assert "Run fast on " in fast  # the verdict paragraph, in plain text


def test_infeasible_templates_still_get_a_report(cli_report: dict[str, Any]) -> None:
    md = (cli_report["out"] / "report.md").read_text()
    doc = {d["template"]: d for d in json.loads(cli_report["stdout"])}
    assert not doc["slow"]["feasible"] and doc["slow"]["best_achievable"] is not None
    assert not doc["impossible"]["feasible"]
    slow = md.split("## Template slow")[1].split("## Template")[0]
    assert "No configuration meets the SLO: best achievable" in slow
    assert f"Why: {doc['slow']['why'].rstrip('.')}." in slow
    assert "|  | current | rule of thumb | best achievable |" in slow
    best = doc["slow"]["best_achievable"]
    assert f"{best['min_workers']}/{best['max_workers']}/{best['per_worker']}" in slow
    impossible = md.split("## Template impossible")[1]
    assert "No configuration meets the SLO: best achievable" in impossible
    assert "Why: " in impossible and "single request" in impossible


def test_infeasible_without_best_achievable(
    docs: list[dict[str, Any]], scenario_file: Path
) -> None:
    """A document with nothing achievable (e.g. an older planner's) still renders."""
    doc = {**next(d for d in docs if d["template"] == "impossible"), "best_achievable": None}
    blocks = content.build(load_scenario(scenario_file), [doc], {}, "cmd", "0")
    md = markdown.render(blocks)
    assert "nothing to show" in md and "Why: " in md
    assert "|  | current | rule of thumb | recommended |" in md
    assert "<h3>Verdict</h3>" in html.render(blocks, lambda rel: b"", "t")


def test_html_is_self_contained(cli_report: dict[str, Any]) -> None:
    out: Path = cli_report["out"]
    page = (out / "report.html").read_text()
    assert page.startswith("<!DOCTYPE html>")
    assert 'src="http' not in page and "src='http" not in page
    assert "<link" not in page and "<script" not in page and "@import" not in page
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    files = sorted((out / "figures").iterdir())
    assert len(images) == len(files) == 4 * len(TEMPLATES)
    embedded = sorted(base64.b64decode(i) for i in images)
    assert embedded == sorted(f.read_bytes() for f in files)
    assert "<style>" in page and "assumption" in page


# ---------------------------------------------------------------- API
def test_write_report_api_and_figures(
    docs: list[dict[str, Any]], scenario_file: Path, tmp_path: Path
) -> None:
    fast = next(d for d in docs if d["template"] == "fast")
    figs = template_figures(scenario_file, fast)
    assert list(figs) == list(FIGURE_NAMES)
    for name, fig in figs.items():
        assert isinstance(fig, Figure)
        assert fig.get_suptitle().startswith("fast"), name
        assert any(ax.get_xlabel() for ax in fig.axes), name  # shared x: the bottom one
        for ax in fig.axes:
            assert ax.get_ylabel(), name
            assert ax.get_legend() is not None, name
    # An existing report folder is updated in place, without leftovers beside it.
    out = tmp_path / "r"
    (out / "figures").mkdir(parents=True)
    (out / "report.md").write_text("old")
    (out / "notes.txt").write_text("the user's own file")
    (out / "figures" / "gone-template_traffic.png").write_bytes(b"stale")
    assert write_report(out, load_scenario(scenario_file), [fast], "my command") == out
    assert "my command" in (out / "report.md").read_text()
    # figures/ is capplan's: replaced whole, no stale figure; other files are left alone
    assert len(list((out / "figures").glob("*.png"))) == 4
    assert not (out / "figures" / "gone-template_traffic.png").exists()
    assert (out / "notes.txt").read_text() == "the user's own file"
    assert [p.name for p in tmp_path.iterdir()] == ["r"]


# ---------------------------------------------------------------- atomicity
def _boom(*args: Any, **kwargs: Any) -> Figure:
    raise RuntimeError("figure failed")


def test_failed_write_leaves_no_report(
    docs: list[dict[str, Any]], scenario_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(report_figures, "cost_by_gpu_figure", _boom)
    with pytest.raises(RuntimeError, match="figure failed"):
        write_report(tmp_path / "r", scenario_file, docs)
    assert list(tmp_path.iterdir()) == []


def test_failed_cli_run_leaves_existing_report_unchanged(
    docs: list[dict[str, Any]], scenario_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import capplan.cli.recommend_cmd as recommend_cmd

    out = tmp_path / "r"
    out.mkdir()
    (out / "report.md").write_text("previous report")
    monkeypatch.setattr(recommend_cmd, "recommend", lambda *a, **k: docs)
    monkeypatch.setattr(report_figures, "latency_cdf_figure", _boom)
    with pytest.raises(RuntimeError, match="figure failed"):
        _cli("recommend", str(scenario_file), "-q", "--out", str(out))
    assert [p.name for p in out.iterdir()] == ["report.md"]
    assert (out / "report.md").read_text() == "previous report"
    assert [p.name for p in tmp_path.iterdir()] == ["r"]  # no temp folder left


def test_user_errors_exit_2_and_write_nothing(
    scenario_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(SCENARIO_TOML.replace("rate = 2.0", "rate = -1.0"))
    (tmp_path / "templates.json").write_text((scenario_file.parent / "templates.json").read_text())
    code, _ = _cli("recommend", str(bad), "-q", "--out", str(tmp_path / "r"))
    assert code == 2
    assert "workload.rate" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()

    a_file = tmp_path / "not-a-dir"
    a_file.write_text("x")
    code, _ = _cli("recommend", str(scenario_file), "-q", "--out", str(a_file))
    assert code == 2
    assert "not a directory" in capsys.readouterr().err
    assert a_file.read_text() == "x"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.toml", "not-a-dir", "templates.json"]
