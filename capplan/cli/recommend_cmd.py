"""`capplan recommend`: the cheapest configuration that meets the SLO, per template."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

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
from capplan.cli.output import rich_table
from capplan.cli.progress import progress_bar
from capplan.errors import CapplanError
from capplan.planner import recommend
from capplan.planner.recommendation import Recommendation, recommendation_json
from capplan.report.tables import config_table
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
        typer.echo(recommendation_json(docs))
        return
    console = Console()
    for doc in docs:
        console.print(_table(doc))
        console.print(verdict(doc), markup=False, highlight=False)
        console.print()
    if out is not None:
        console.print(f"Report written to {out}/ (report.md, report.html, figures/)")


def _table(doc: Recommendation) -> Table:
    """The report's comparison table (`capplan.report.tables.config_table`), in rich."""
    return rich_table(config_table(doc), f"{doc.template}: recommendation")
