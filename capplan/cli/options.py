"""Options shared by the commands that run simulations, defined once."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

ScenarioArg = Annotated[Path, typer.Argument(help="Scenario TOML file.")]
TemplateOpt = Annotated[
    str | None,
    typer.Option("--template", "-t", help="Only this template (compare: required if several)."),
]
SeedOpt = Annotated[int | None, typer.Option(help="Scenario seed override.", min=0)]
ReplicationsOpt = Annotated[
    int | None, typer.Option(help="Replications (default: the scenario's).", min=1)
]
WorkersOpt = Annotated[
    int | None,
    typer.Option(help="Simulations run at once in a process pool (1: in this process).", min=1),
]
DaskOpt = Annotated[
    str | None, typer.Option("--dask", help="Run the simulations on a Dask scheduler at ADDRESS.")
]
MaxRequestsOpt = Annotated[
    float | None,
    typer.Option(
        "--max-requests",
        help="Refuse a run expected to draw more requests than this, summed over "
        "replications (default: the scenario's simulation.max_requests, 2e7).",
        min=1,
    ),
]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")]


def show_progress(quiet: bool, as_json: bool) -> bool:
    """A progress bar only for a person at a terminal: never with --quiet, --json or a pipe."""
    return not (quiet or as_json) and sys.stdout.isatty()
