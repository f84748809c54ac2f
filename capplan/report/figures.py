"""Report figures, one set per template: each function returns a matplotlib Figure.

Figures are built on `matplotlib.figure.Figure` directly, never through pyplot:
no GUI backend is touched, no global figure list grows, and a notebook still
displays them (IPython renders any Figure). Save one with `fig.savefig(path)`.

The traffic/workers and latency figures simulate replication 0 of the current
and the recommended configuration (the same requests for both: common random
numbers); the cost figures need only the recommendation document, which may
come straight from `recommend()` or from recommendation.json.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from capplan.hardware import HOURS_PER_MONTH
from capplan.latency import latency_sample
from capplan.launch import is_streaming
from capplan.metrics import timeline_frame
from capplan.planner.recommendation import (
    BestAchievable,
    Evidence,
    Recommendation,
    as_recommendation,
)
from capplan.report.runs import (
    CURRENT_COLOR,
    RECOMMENDED_COLOR,
    REPLICATION,
    ConfigRun,
    case_for,
    config_of,
    describe_config,
    simulate_configs,
)
from capplan.report.tables import metric
from capplan.report.text import as_number, gpu_rows
from capplan.scenario import Scenario
from capplan.workload import minute_rates

FIGURE_NAMES = ("traffic", "latency", "cost_latency", "cost_by_gpu")

SLO_COLOR = "#d62728"
BOUND_COLOR = "#2ca02c"


def template_figures(
    scenario: Scenario | str | Path, doc: Recommendation | Mapping[str, Any]
) -> dict[str, Figure]:
    """All four figures of one template's recommendation document, keyed by FIGURE_NAMES."""
    doc = as_recommendation(doc)
    case = case_for(scenario, doc)
    runs = simulate_configs(case, doc)
    return {
        "traffic": traffic_figure(runs, title=doc.template),
        "latency": latency_cdf_figure(runs, title=doc.template),
        "cost_latency": cost_latency_figure(doc),
        "cost_by_gpu": cost_by_gpu_figure(doc),
    }


# ---------------------------------------------------------------- helpers
def _metric(cfg: Evidence | BestAchievable, key: str) -> float:
    return as_number(metric(cfg, key))


def slo_targets(doc: Recommendation | Mapping[str, Any]) -> dict[str, float]:
    """{metric: target seconds} as the document's current configuration was judged."""
    return {k: check.target for k, check in as_recommendation(doc).current.slo.items()}


def _label_percentile(key: str) -> str:
    """'latency_p99_s' → 'p99'."""
    return key.split("_")[1]


def _note(ax: Any, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="0.4")


# ---------------------------------------------------------------- traffic and workers
def traffic_figure(runs: Sequence[ConfigRun], title: str = "") -> Figure:
    """Arrivals per minute on top; below, one panel of workers per configuration."""
    fig = Figure(figsize=(10, 2.6 + 2.3 * len(runs)), layout="constrained")
    axes = fig.subplots(1 + len(runs), 1, sharex=True, height_ratios=[1.2] + [1] * len(runs))
    first = runs[0]
    horizon = first.record.horizon
    warmup = first.case.workload.warmup_s
    _plot_arrivals(axes[0], first, horizon)
    for ax, run in zip(axes[1:], runs, strict=True):
        _plot_workers(ax, run)
    top = max(ax.get_ylim()[1] for ax in axes[1:])
    for ax in axes[1:]:
        ax.set_ylim(0, top)
    for ax in axes:
        if warmup > 0:
            ax.axvspan(0, warmup / 60, color="0.92", zorder=0)
        ax.grid(alpha=0.3)
        ax.set_xlim(0, horizon / 60)
    if warmup > 0:
        axes[0].text(
            warmup / 120,
            0.95,
            "warm-up",
            transform=axes[0].get_xaxis_transform(),
            ha="center",
            va="top",
            fontsize=8,
            color="0.4",
        )
    axes[-1].set_xlabel("time (minutes)")
    fig.suptitle(f"{title}: traffic and workers, replication {REPLICATION}".lstrip(": "))
    return fig


def _plot_arrivals(ax: Any, run: ConfigRun, horizon: float) -> None:
    edges = np.append(np.arange(0.0, horizon, 60.0), horizon)
    counts, _ = np.histogram(run.record.arrival, bins=edges)
    # Per minute of each bin's own width: a short last bin is not a dip in traffic.
    ax.stairs(counts * 60 / np.diff(edges), edges / 60, color="0.2", label="arrivals (simulated)")
    try:
        expected = minute_rates(run.case.workload, run.case.seed, REPLICATION) * 60
    except Exception:  # a guide line only; the simulated arrivals are what count
        expected = np.array([])
    if len(expected) == len(edges) - 1:
        ax.stairs(
            expected,
            edges / 60,
            color="#d62728",
            linestyle=":",
            linewidth=1.2,
            label="expected rate",
        )
    ax.set_ylabel("requests / minute")
    ax.set_ylim(0, max(float(np.max(counts * 60 / np.diff(edges), initial=0)), 1) * 1.25)
    ax.legend(loc="upper right", fontsize=8, ncol=2)
    ax.set_title("traffic (same requests for every configuration)", fontsize=10, loc="left")


def _plot_workers(ax: Any, run: ConfigRun) -> None:
    tl = timeline_frame(run.record, REPLICATION)
    t = np.append(tl["time"].to_numpy(), run.record.horizon) / 60
    cold = (tl["starting"] + tl["provisioning"]).to_numpy()

    def step(values: np.ndarray, **kw: Any) -> None:
        ax.stairs(values, t, baseline=None, **kw)

    ax.fill_between(
        t[:-1],
        0,
        cold,
        step="post",
        color="#ffbb78",
        alpha=0.7,
        label="cold-starting (provisioning + starting)",
    )
    step(tl["ready"].to_numpy(), color=run.color, linewidth=1.8, label="ready")
    step(tl["desired"].to_numpy(), color="black", linestyle="--", linewidth=1, label="desired")
    c = run.config
    ax.axhline(c.max_workers, color="0.5", linestyle=":", linewidth=1, label="max_workers")
    ax.set_ylabel("workers")
    ax.set_ylim(0, max(c.max_workers, float(tl["desired"].max()), 1) * 1.4)
    ax.set_title(f"{run.label}: {describe_config(c)}", fontsize=10, loc="left")
    ax.legend(loc="upper right", fontsize=8, ncol=4)


# ---------------------------------------------------------------- latency CDF
def _values(run: ConfigRun, column: str) -> np.ndarray:
    """Latency or time to first token of requests after warm-up, as the summary counts them
    (`capplan.latency.latency_sample`: in-flight requests censored at the horizon)."""
    rec = run.record
    keep = rec.arrival >= run.case.workload.warmup_s
    done_at = (rec.end if column == "latency" else rec.first_token)[keep]
    return np.sort(latency_sample(rec.arrival[keep], done_at, rec.status[keep], rec.horizon))


CDF_TICKS = (0.1, 0.5, 0.9, 0.99, 0.999)


def latency_cdf_figure(runs: Sequence[ConfigRun], title: str = "") -> Figure:
    """Empirical CDF of latency (and of time to first token for STREAMING) with the SLO.

    The fraction axis is on a logit scale so that the tail the SLO is about
    (p95, p99, p99.9) gets as much room as the median.
    """
    streaming = is_streaming(runs[0].case.template.effective_endpoint_type)
    columns = ["latency", "ttft"] if streaming else ["latency"]
    fig = Figure(figsize=(5.2 * len(columns) + 0.8, 4.6), layout="constrained")
    axes = fig.subplots(1, len(columns), squeeze=False)[0]
    targets = runs[0].case.slo.targets()
    for ax, column in zip(axes, columns, strict=True):
        _cdf_panel(ax, runs, column, targets)
    fig.suptitle(f"{title}: current vs proposed, replication {REPLICATION}".lstrip(": "))
    return fig


def _cdf_panel(
    ax: Any, runs: Sequence[ConfigRun], column: str, targets: Mapping[str, float]
) -> None:
    name = "latency" if column == "latency" else "time to first token"
    lows, highs, n_max = [], [], 1
    for run in runs:
        x = _values(run, column)
        if len(x) == 0:
            continue
        # Hazen plotting positions: never exactly 0 or 1, so the logit axis can show them.
        y = (np.arange(1, len(x) + 1) - 0.5) / len(x)
        p99 = run.summary.get(f"{column}_p99_s", math.nan)
        err = run.summary.get("error_rate", 0.0)
        label = f"{run.label} (p99 {p99:.3g} s, errors {err:.2%})"
        ax.step(x, y, where="post", color=run.color, linewidth=1.6, label=label)
        positive = x[x > 0]
        if len(positive):
            lows.append(float(np.quantile(positive, 0.05)))
            highs.append(float(positive[-1]))
        n_max = max(n_max, len(x))
    if not ax.lines:
        _note(ax, "no finished requests")
    for key, target in targets.items():
        if not key.startswith(column + "_"):
            continue
        pct = _label_percentile(key)
        ax.axvline(
            target,
            color=SLO_COLOR,
            linestyle="--",
            linewidth=1.2,
            label=f"SLO {pct} ≤ {target:g} s",
        )
        ax.axhline(int(pct[1:]) / 100, color=SLO_COLOR, linestyle=":", linewidth=0.8)
        lows.append(target)
        highs.append(target)
    if lows:
        ax.set_xscale("log")
        ax.set_xlim(min(lows) / 1.5, max(highs) * 1.5)
        ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_yscale("logit")
    top = min(0.9995, 1 - 0.5 / n_max)
    ax.set_ylim(0.05, max(top, 0.995))
    ticks = [t for t in CDF_TICKS if t <= max(top, 0.995)]
    ax.set_yticks(ticks, [f"{t:g}" for t in ticks])
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel(f"{name} (s, log scale)")
    ax.set_ylabel("fraction of requests ≤ x (logit scale)")
    ax.grid(alpha=0.3, which="major")
    ax.set_title(f"{name} CDF", fontsize=10)
    if ax.lines:
        ax.legend(loc="lower right", fontsize=8)


# ---------------------------------------------------------------- cost vs latency
def cost_latency_figure(
    doc: Recommendation | Mapping[str, Any], targets: Mapping[str, float] | None = None
) -> Figure:
    """Every simulated candidate: $/hour vs p99 latency (and p99 TTFT when tracked),
    the chosen configuration, the current one and the proven lower bound marked."""
    doc = as_recommendation(doc)
    targets = dict(slo_targets(doc) if targets is None else targets)
    explored = doc.explored
    has_ttft = any(not math.isnan(as_number(p.ttft_p99_s)) for p in explored) or (
        "ttft_p99_s" in targets
    )
    metrics = ["latency_p99_s", "ttft_p99_s"] if has_ttft else ["latency_p99_s"]
    fig = Figure(figsize=(5.6 * len(metrics) + 0.8, 4.8), layout="constrained")
    axes = fig.subplots(1, len(metrics), squeeze=False)[0]
    gpus = sorted({p.gpu_type or "CPU only" for p in explored})
    colors = {g: f"C{i % 10}" for i, g in enumerate(gpus)}
    label, chosen_cfg = doc.chosen()
    lower = as_number(doc.lower_bound_cost_per_hour)
    for ax, key in zip(axes, metrics, strict=True):
        for g in gpus:
            pts = [p for p in explored if (p.gpu_type or "CPU only") == g]
            x = [as_number(p.cost_per_hour) for p in pts]
            y = [as_number(getattr(p, key)) for p in pts]
            ax.scatter(x, y, s=22, alpha=0.75, color=colors[g], label=g)
        for name, cfg, marker, color in (
            ("current", doc.current, "s", CURRENT_COLOR),
            (label, chosen_cfg, "*", RECOMMENDED_COLOR),
        ):
            if cfg is not None and not math.isnan(_metric(cfg, key)):
                ax.scatter(
                    [as_number(cfg.cost_per_hour)],
                    [_metric(cfg, key)],
                    marker=marker,
                    s=220 if marker == "*" else 90,
                    color=color,
                    edgecolor="black",
                    zorder=5,
                    label=name,
                )
        if math.isfinite(lower):
            ax.axvline(
                lower,
                color=BOUND_COLOR,
                linestyle="--",
                linewidth=1.2,
                label=f"proven lower bound ${lower:,.2f}/h",
            )
        if key in targets:
            ax.axhline(
                targets[key],
                color=SLO_COLOR,
                linestyle="--",
                linewidth=1.2,
                label=f"SLO p99 ≤ {targets[key]:g} s",
            )
        ys = [as_number(getattr(p, key)) for p in explored]
        if any(v > 0 and math.isfinite(v) for v in ys):
            ax.set_yscale("log")
        if not explored:
            _note(ax, "no candidate was simulated")
        what = "latency" if key.startswith("latency") else "time to first token"
        ax.set_xlabel("cost ($ / hour)")
        ax.set_ylabel(f"p99 {what} (s)")
        ax.set_title(f"p99 {what} of every simulated candidate (1 replication)", fontsize=10)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7, loc="upper right")
    fig.suptitle(f"{doc.template}: cost vs latency")
    return fig


# ---------------------------------------------------------------- cost by GPU type
def cost_by_gpu_figure(doc: Recommendation | Mapping[str, Any]) -> Figure:
    """$/month of the best configuration found on each GPU type; 'no config' where none."""
    doc = as_recommendation(doc)
    rows = gpu_rows(doc)
    fig = Figure(figsize=(9.5, max(3.0, 1.8 + 0.55 * len(rows))), layout="constrained")
    ax = fig.subplots()
    if not rows:
        _note(ax, "no GPU type was considered")
    labels, values = [], []
    for row in rows:
        gpu = f"{row.gpus}× {row.gpu_type}" if row.gpu_type else "CPU only"
        cost = as_number(row.cost_per_hour) * HOURS_PER_MONTH
        labels.append(gpu)
        values.append(cost)
    y = np.arange(len(rows))[::-1]
    finite = [v for v in values if math.isfinite(v)]
    cur = doc.current.cost_per_hour * HOURS_PER_MONTH
    top = max([*finite, cur, 1.0])
    if not math.isfinite(top):
        top = max(finite + [1.0])
    for yi, row, value in zip(y, rows, values, strict=True):
        if row.knobs is None or not math.isfinite(value):
            note = row.note or "no configuration meets the SLO"
            ax.text(top * 0.01, yi, f"no config — {note}", va="center", fontsize=8, color="0.35")
            continue
        rec = row.role == "recommended"
        ax.barh(
            yi,
            value,
            color=RECOMMENDED_COLOR if rec else "#aec7e8",
            edgecolor="black" if rec else "none",
            height=0.6,
        )
        text = f"${value:,.0f}/mo  ({describe_config(row.knobs).split(', ', 1)[1]})"
        if rec:
            text = "recommended: " + text
        elif not row.confirmed:
            text += " *"
        ax.text(value + top * 0.01, yi, text, va="center", fontsize=8)
    if math.isfinite(cur):
        ax.axvline(
            cur,
            color=CURRENT_COLOR,
            linestyle="--",
            linewidth=1.2,
            label=f"current configuration ${cur:,.0f}/mo",
        )
        ax.legend(loc="lower right", fontsize=8)
    ax.set_yticks(y, labels, fontsize=8)
    ax.set_ylabel("GPU type (GPUs per worker)")
    ax.set_xlim(0, top * 1.75)  # room for the labels right of the bars
    ax.set_ylim(-0.7, max(len(rows), 1) - 0.3)
    ax.set_xlabel(f"cost ($ / month, {HOURS_PER_MONTH} h)")
    ax.grid(alpha=0.3, axis="x")
    ax.set_title(
        "best configuration found per GPU type (* = one replication, not confirmed)", fontsize=9
    )
    fig.suptitle(f"{doc.template}: cost per month by GPU type")
    return fig


__all__ = [
    "FIGURE_NAMES",
    "ConfigRun",
    "config_of",
    "cost_by_gpu_figure",
    "cost_latency_figure",
    "describe_config",
    "latency_cdf_figure",
    "simulate_configs",
    "slo_targets",
    "template_figures",
    "traffic_figure",
]
