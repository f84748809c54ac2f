"""`capplan simulate` and `capplan scenario validate`."""

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
    ReplicationsOpt,
    ScenarioArg,
    SeedOpt,
    TemplateOpt,
    WorkersOpt,
    show_progress,
)
from capplan.cli.output import fmt
from capplan.cli.progress import progress_bar
from capplan.io import atomic_dir, dumps
from capplan.scenario import load_scenario, parse_overrides
from capplan.simulate import SimulationResult, simulate

scenario_app = typer.Typer(help="Check scenario files.", no_args_is_help=True)
app.add_typer(scenario_app, name="scenario")


@scenario_app.command("validate")
def scenario_validate(
    files: Annotated[list[Path], typer.Argument(help="Scenario TOML files.")],
) -> None:
    """Validate scenario files; one line per file.

    Example: capplan scenario validate scenarios/chat.toml
    """
    for path in files:
        scen = load_scenario(path)
        names = ", ".join(scen.template_names)
        typer.echo(f"{path}: OK ({len(scen.templates)} templates: {names})")


@app.command("simulate")
def simulate_command(
    scenario: ScenarioArg,
    template: TemplateOpt = None,
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set", help="Override KEY=VALUE (endpoint_config.per_worker=4, workload.rate=5)."
        ),
    ] = None,
    seed: SeedOpt = None,
    replications: ReplicationsOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summaries as JSON.")] = False,
    out: Annotated[
        Path | None, typer.Option(help="Write summary.json, requests.csv, timeline.csv here.")
    ] = None,
    workers: WorkersOpt = 1,
    dask: DaskOpt = None,
    quiet: QuietOpt = False,
    max_requests: MaxRequestsOpt = None,
) -> None:
    """Simulate each template's endpoint as configured and summarise latency, errors and cost.

    Replications run one at a time in this process unless --workers N (a local
    process pool) or --dask ADDRESS is given; the numbers are the same either way.

    Example: capplan simulate scenarios/chat.toml --set endpoint_config.per_worker=4 --json
    """
    overrides = parse_overrides(set_ or [])
    if max_requests is not None:
        overrides["simulation.max_requests"] = max_requests
    with progress_bar("simulate", enabled=show_progress(quiet, as_json)) as bar:
        results = simulate(
            scenario,
            template,
            seed=seed,
            replications=replications,
            overrides=overrides,
            workers=workers,
            dask_address=dask,
            progress=bar,
            records=out is not None,  # without --out, memory does not grow with the horizon
        )
    summaries = [r.summary for r in results]
    if out is not None:
        _write_outputs(out, results)
    if as_json:
        typer.echo(dumps(summaries))
    else:
        _print_table(summaries)


def _write_outputs(out: Path, results: list[SimulationResult]) -> None:
    with atomic_dir(out) as tmp:
        (tmp / "summary.json").write_text(dumps([r.summary for r in results]) + "\n")
        requests = [r.requests.assign(template=r.template) for r in results]
        timeline = [r.timeline.assign(template=r.template) for r in results]
        import pandas as pd

        pd.concat(requests, ignore_index=True).to_csv(tmp / "requests.csv", index=False)
        pd.concat(timeline, ignore_index=True).to_csv(tmp / "timeline.csv", index=False)


ROWS = (
    ("endpoint", lambda s: f"{s['endpoint_type']} {s['gpus']}× {s['gpu_type'] or 'cpu'}"),
    ("workers min/max/per", lambda s: f"{s['min_workers']}/{s['max_workers']}/{s['per_worker']}"),
    ("requests", lambda s: fmt(s["requests"])),
    ("completed", lambda s: fmt(s["completed"])),
    ("rejected (429/503)", lambda s: f"{s['rejected_429']}/{s['rejected_503']}"),
    ("expired / in flight", lambda s: f"{s['expired']} / {s['in_flight_at_end']}"),
    ("error rate", lambda s: f"{s['error_rate']:.2%}"),
    ("wait p50/p99 s", lambda s: f"{fmt(s['wait_p50_s'])} / {fmt(s['wait_p99_s'])}"),
    (
        "latency p50/p95/p99 s",
        lambda s: " / ".join(fmt(s[f"latency_p{p}_s"]) for p in (50, 95, 99)),
    ),
    ("ttft p50/p95/p99 s", lambda s: " / ".join(fmt(s[f"ttft_p{p}_s"]) for p in (50, 95, 99))),
    ("mean / peak workers", lambda s: f"{fmt(s['mean_workers'])} / {fmt(s['peak_workers'])}"),
    ("cold starts", lambda s: fmt(s["cold_starts"])),
    ("cost $ (per hour)", lambda s: f"{s['cost_usd']:,.2f} ({s['cost_per_hour']:,.2f}/h)"),
)


def _print_table(summaries: list[dict]) -> None:
    table = Table(title="capplan simulate", show_lines=False)
    table.add_column("metric", style="bold")
    for s in summaries:
        table.add_column(s["template"], justify="right")
    for label, get in ROWS:
        table.add_row(label, *(get(s) for s in summaries))
    Console().print(table)


__all__ = ["scenario_validate", "simulate_command"]
