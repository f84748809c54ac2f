"""`capplan recommend`: the cheapest configuration that meets the SLO, per template."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from capplan.cli import app
from capplan.cli.options import (
    DaskOpt,
    MaxRequestsOpt,
    QuietOpt,
    ScenarioArg,
    TemplateOpt,
    WorkersOpt,
    show_progress,
)
from capplan.cli.output import fmt
from capplan.cli.progress import progress_bar
from capplan.errors import CapplanError
from capplan.hardware import HOURS_PER_MONTH
from capplan.io import dumps
from capplan.planner import recommend
from capplan.report.verdict import verdict
from capplan.scenario import apply_overrides, load_scenario


@app.command("recommend")
def recommend_command(
    scenario: ScenarioArg,
    template: TemplateOpt = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the recommendation as JSON.")
    ] = False,
    workers: WorkersOpt = None,
    dask: DaskOpt = None,
    quiet: QuietOpt = False,
    max_requests: MaxRequestsOpt = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Write report.md, report.html, recommendation.json and figures/ to DIR.",
            metavar="DIR",
        ),
    ] = None,
) -> None:
    """Recommend gpu_type, min_workers, max_workers and per_worker for each template.

    Simulations run in a process pool of --workers (default: the machine's cores).

    Example: capplan recommend scenarios/chat.toml --workers 2 --out report/
    """
    if out is not None and out.exists() and not out.is_dir():
        # Checked before the search, which may take minutes.
        raise CapplanError(f"--out {out}: exists and is not a directory")
    scen = load_scenario(scenario)
    if max_requests is not None:
        scen = apply_overrides(scen, {"simulation.max_requests": max_requests})
    with progress_bar("recommend", enabled=show_progress(quiet, as_json)) as bar:
        docs = recommend(scen, template, workers=workers, dask_address=dask, progress=bar)
    if out is not None:
        from capplan.report import reproduce_command, write_report

        write_report(out, scen, docs, reproduce_command(scenario, out, template))
    if as_json:
        typer.echo(dumps(docs))
        return
    console = Console()
    for doc in docs:
        console.print(_table(doc))
        console.print(verdict(doc), markup=False, highlight=False)
        console.print()
    if out is not None:
        console.print(f"Report written to {out}/ (report.md, report.html, figures/)")


CONFIG_ROWS = (
    "gpu",
    "min / max / per_worker",
    "latency p99 s",
    "ttft p99 s",
    "error rate",
    "mean workers",
    "$ / hour",
    "$ / month",
    "meets SLO",
)


def _cells(cfg: dict[str, Any] | None) -> list[str]:
    if not cfg:
        return ["–"] * len(CONFIG_ROWS)
    m = cfg.get("metrics", {})
    return [
        f"{cfg['gpus']}× {str(cfg['gpu_type']).removeprefix('nvidia-')}",
        f"{cfg['min_workers']} / {cfg['max_workers']} / {cfg['per_worker']}",
        fmt(m.get("latency_p99_s")),
        fmt(m.get("ttft_p99_s")),
        f"{m['error_rate']:.2%}" if "error_rate" in m else "–",
        fmt(m.get("mean_workers")),
        f"{cfg['cost_per_hour']:,.2f}",
        f"{cfg['cost_per_hour'] * HOURS_PER_MONTH:,.0f}",
        "yes" if cfg.get("meets_slo") else "NO",
    ]


def _table(doc: dict[str, Any]) -> Table:
    table = Table(title=f"{doc['template']}: recommendation")
    table.add_column("", style="bold")
    columns = [("current", doc["current"]), ("rule of thumb", doc["rule_of_thumb"])]
    columns.append(("recommended", doc["recommended"] or doc.get("best_achievable")))
    for name, _ in columns:
        table.add_column(name, justify="right")
    cells = [_cells(cfg) for _, cfg in columns]
    for i, label in enumerate(CONFIG_ROWS):
        table.add_row(label, *(c[i] for c in cells))
    return table
