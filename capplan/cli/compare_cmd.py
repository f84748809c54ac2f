"""`capplan compare`: configurations of one template side by side, on the same requests."""

from __future__ import annotations

import math
import re
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
    ReplicationsOpt,
    ScenarioArg,
    SeedOpt,
    TemplateOpt,
    WorkersOpt,
    show_progress,
)
from capplan.cli.output import fmt
from capplan.cli.progress import progress_bar
from capplan.compare import METRIC_LABELS, Comparison, compare
from capplan.errors import CapplanError
from capplan.io import atomic_dir, dumps
from capplan.scenario import parse_overrides

# A comma starts a new KEY=VALUE only when a dotted key and '=' follow it, so list
# values such as planner.per_worker=[4,8] keep their commas.
_NEXT_PAIR = re.compile(r",\s*(?=[A-Za-z_][\w.]*\s*=)")


def split_vs(text: str) -> dict[str, Any]:
    """'a.b=1,c.d=x' → {'a.b': 1, 'c.d': 'x'}: the settings of one --vs configuration."""
    pairs = [p for p in _NEXT_PAIR.split(text.strip()) if p.strip()]
    for pair in pairs:
        key, sep, _ = pair.partition("=")
        if not sep or not key.strip():
            raise CapplanError(
                f"--vs {text!r}: expected KEY=VALUE[,KEY=VALUE...], "
                "e.g. endpoint_config.per_worker=8,endpoint_config.max_workers=6"
            )
    if not pairs:
        raise CapplanError("--vs '': expected KEY=VALUE[,KEY=VALUE...]")
    return parse_overrides(pairs)


@app.command("compare")
def compare_command(
    scenario: ScenarioArg,
    template: TemplateOpt = None,
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set", help="KEY=VALUE applied to every configuration (defines the baseline)."
        ),
    ] = None,
    vs: Annotated[
        list[str] | None,
        typer.Option(
            "--vs",
            help="One more configuration: KEY=VALUE[,KEY=VALUE...] on top of the baseline. "
            "Repeat --vs for more configurations.",
        ),
    ] = None,
    seed: SeedOpt = None,
    replications: ReplicationsOpt = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print configurations and differences as JSON.")
    ] = False,
    out: Annotated[
        Path | None,
        typer.Option(
            help="Also write comparison.json, comparison.csv, latency_cdf.png, workers.png here."
        ),
    ] = None,
    workers: WorkersOpt = 1,
    dask: DaskOpt = None,
    quiet: QuietOpt = False,
    max_requests: MaxRequestsOpt = None,
) -> None:
    """Compare configurations of one template on the same requests, with paired differences.

    --set settings apply to every configuration and make the baseline. Each
    --vs adds one configuration: its comma-separated settings apply on top of
    the baseline. Every configuration runs the same seed and replications
    (common random numbers); differences vs the baseline are paired by
    replication, with 95 % t-intervals when there are 2+ replications.

    Example (three configurations: the baseline, per_worker 16, and per_worker 24
    with max_workers 6, each on a 15-minute slice of the trace):

      capplan compare scenarios/chat.toml --set workload.duration_s=900 \\
        --replications 3 --vs endpoint_config.per_worker=16 \\
        --vs endpoint_config.per_worker=24,endpoint_config.max_workers=6
    """
    if not vs:
        raise CapplanError(
            "compare: give at least one --vs KEY=VALUE configuration to compare with the baseline"
        )
    base = parse_overrides(set_ or [])
    if max_requests is not None:
        base["simulation.max_requests"] = max_requests
    variants = [split_vs(v) for v in vs]
    with progress_bar("compare", enabled=show_progress(quiet, as_json)) as bar:
        cmp = compare(
            scenario,
            template,
            base=base,
            variants=variants,
            replications=replications,
            seed=seed,
            workers=workers,
            dask_address=dask,
            progress=bar,
        )
    if out is not None:
        write_outputs(out, cmp)
    if as_json:
        typer.echo(dumps(cmp.to_dict()))
        return
    console = Console()
    console.print(comparison_table(cmp))
    console.print(cmp.note() + ".")
    if cmp.replications < 2:
        console.print("Δ = configuration − baseline.")
    if cmp.replications >= 2:
        console.print(
            f"Δ = configuration − baseline ± half the {cmp.level:.0%} interval; "
            "[bold]bold[/]: the interval excludes 0."
        )
        if any(_zero_width(d) for d in cmp.differences.to_dict("records")):
            console.print(
                "(no spread): the replications gave the same difference every time, so "
                "there is no interval and no confidence; with a trace (kind trace, or a "
                'closed loop on one), use resample = "blocks" for replications that differ.'
            )


def write_outputs(out: Path, cmp: Comparison) -> None:
    """comparison.json/.csv and the two figures, all or nothing."""
    with atomic_dir(out) as tmp:
        (tmp / "comparison.json").write_text(dumps(cmp.to_dict()) + "\n")
        cmp.differences.to_csv(tmp / "comparison.csv", index=False)
        cmp.latency_cdf_figure().savefig(tmp / "latency_cdf.png", dpi=120)
        cmp.workers_figure().savefig(tmp / "workers.png", dpi=120)


# ---------------------------------------------------------------- the table
def _value(key: str, v: float) -> str:
    if isinstance(v, float) and math.isnan(v):
        return "–"
    if key == "error_rate":
        return f"{v:.2%}"
    if key == "cost_per_hour":
        return f"${v:,.2f}"
    return fmt(float(v))


def _signed(key: str, v: float) -> str:
    if math.isnan(v):
        return "–"
    if key == "error_rate":
        return f"{v * 100:+.2f} pp"
    if key == "cost_per_hour":
        return f"{'+' if v >= 0 else '-'}${abs(v):,.2f}"
    text = fmt(float(v))
    return text if text.startswith("-") else f"+{text}"


def _plain(key: str, v: float) -> str:
    if key == "error_rate":
        return f"{v * 100:.2f} pp"
    if key == "cost_per_hour":
        return f"${v:,.2f}"
    return fmt(float(v), 2)


def _diff_cell(key: str, d: dict[str, Any]) -> str:
    """'+2.31 ± 0.18': the paired difference and its CI half-width (t-intervals are symmetric)."""
    text = _signed(key, d["difference"])
    if not math.isnan(d["ci_low"]) and d["ci_high"] == d["ci_low"]:
        # Every pair differs by the same amount (an exact replay): no noise was measured,
        # so there is no interval to show, and the difference is not called significant.
        return f"{text} (no spread)"
    if not math.isnan(d["ci_low"]):
        text += f" ± {_plain(key, (d['ci_high'] - d['ci_low']) / 2)}"
        if key == "error_rate":  # one unit at the end: '+0.12 ± 0.05 pp'
            text = text.replace(" pp ±", " ±", 1)
    return f"[bold]{text}[/]" if d["significant"] else text


def _zero_width(d: dict[str, Any]) -> bool:
    return not math.isnan(d["ci_low"]) and d["ci_high"] == d["ci_low"]


def _gpu(s: dict[str, Any]) -> str:
    return f"{s['gpus']}× {(s['gpu_type'] or 'cpu').removeprefix('nvidia-')}"


def comparison_table(cmp: Comparison) -> Table:
    """One column per configuration; under each variant's value, its Δ vs the baseline."""
    reps = f"{cmp.replications} replication{'s' if cmp.replications != 1 else ''}"
    table = Table(title=f"capplan compare: {cmp.template} ({reps}, seed {cmp.seed})")
    table.add_column("", style="bold")
    table.add_column(cmp.baseline.label, justify="right")
    for v in cmp.variants:
        table.add_column(v.label, justify="right")
    for label, get in (
        ("gpu", _gpu),
        (
            "min/max/per_worker",
            lambda s: f"{s['min_workers']}/{s['max_workers']}/{s['per_worker']}",
        ),
    ):
        table.add_row(label, *(get(c.summary) for c in cmp.configurations))
    values = cmp.table
    for key in cmp.metrics:
        cells = [_value(key, values.loc[key, cmp.baseline.label])]
        for v in cmp.variants:
            diff = _diff_cell(key, cmp.difference(v, key))
            cells.append(f"{_value(key, values.loc[key, v.label])}\n[dim]Δ[/] {diff}")
        table.add_row(METRIC_LABELS[key], *cells)
    return table


__all__ = ["compare_command", "comparison_table", "split_vs", "write_outputs"]
