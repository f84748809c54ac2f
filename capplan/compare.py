"""What-if comparisons: several configurations of one template on the same requests.

Every configuration is simulated with the same scenario seed and the same
replications, so replication r of each sees the same arrivals, request sizes
and cold-start draws (common random numbers). Differences against the
baseline are therefore paired by replication: the confidence interval is a
Student-t interval on the per-replication differences, much narrower than
comparing two independent intervals.

    from capplan.compare import compare
    cmp = compare("scenarios/chat.toml", base={"workload.duration_s": 900},
                  variants=[{"endpoint_config.per_worker": 16}], replications=3)
    cmp.table          # metrics × configurations
    cmp.differences    # one row per (variant, metric): difference and its CI
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from capplan.errors import CapplanError
from capplan.latency import latency_sample
from capplan.metrics import confidence_interval
from capplan.scenario import Scenario, apply_overrides, load_scenario
from capplan.simulate import SimulationResult, resolve_replications, simulate_cases
from capplan.sweep import Progress, Runner, executor_for

if TYPE_CHECKING:
    from matplotlib.figure import Figure

BASELINE = "baseline"

# (summary key, label): what a comparison reports, in this order.
METRICS: tuple[tuple[str, str], ...] = (
    ("latency_p50_s", "latency p50 (s)"),
    ("latency_p95_s", "latency p95 (s)"),
    ("latency_p99_s", "latency p99 (s)"),
    ("ttft_p50_s", "TTFT p50 (s)"),
    ("ttft_p95_s", "TTFT p95 (s)"),
    ("ttft_p99_s", "TTFT p99 (s)"),
    ("error_rate", "error rate"),
    ("rejected", "rejected requests"),
    ("cold_starts", "cold starts"),
    ("mean_workers", "mean workers"),
    ("peak_workers", "peak workers"),
    ("cost_per_hour", "cost ($/h)"),
)
METRIC_LABELS = dict(METRICS)

# A variant may not change what makes the comparison paired.
PINNED = {
    "seed": "the seed must be the same for every configuration (use --seed or --set seed=N)",
    "simulation.replications": "every configuration runs the same replications "
    "(use --replications)",
}


@dataclass(frozen=True)
class Configuration:
    """One simulated configuration: its label, its settings and its result."""

    label: str
    changes: dict[str, Any]  # this configuration's own settings ({} for the baseline)
    overrides: dict[str, Any]  # everything applied to the scenario: baseline + changes
    result: SimulationResult = field(repr=False)

    @property
    def summary(self) -> dict[str, Any]:
        return self.result.summary

    @property
    def runs(self) -> list[dict[str, float]]:
        return self.result.runs


@dataclass(frozen=True)
class Comparison:
    """Configurations of one template run on the same requests, the first one the baseline."""

    scenario: str
    template: str
    seed: int
    replications: int
    level: float
    warmup_s: float
    configurations: tuple[Configuration, ...]

    @property
    def baseline(self) -> Configuration:
        return self.configurations[0]

    @property
    def variants(self) -> tuple[Configuration, ...]:
        return self.configurations[1:]

    @property
    def labels(self) -> list[str]:
        return [c.label for c in self.configurations]

    @property
    def metrics(self) -> list[str]:
        """The reported metrics this template has (TTFT only for streaming endpoints)."""
        return [
            key
            for key, _ in METRICS
            if any(not math.isnan(_mean(c.runs, key)) for c in self.configurations)
        ]

    @property
    def table(self) -> pd.DataFrame:
        """Metrics (rows) × configurations (columns): each the mean over replications."""
        data = {c.label: [_mean(c.runs, k) for k in self.metrics] for c in self.configurations}
        return pd.DataFrame(data, index=pd.Index(self.metrics, name="metric"))

    @property
    def differences(self) -> pd.DataFrame:
        """One row per (variant, metric): variant − baseline, paired by replication, and its CI.

        ci_low/ci_high are NaN with a single replication (no interval can be estimated).
        """
        rows = [
            {"configuration": v.label, "metric": key, **self.difference(v, key)}
            for v in self.variants
            for key in self.metrics
        ]
        return pd.DataFrame(rows)

    def difference(self, variant: Configuration, key: str) -> dict[str, Any]:
        return paired_difference(self.baseline.runs, variant.runs, key, self.level)

    def to_dict(self) -> dict[str, Any]:
        """Everything as plain data (what `capplan compare --json` prints)."""
        return {
            "scenario": self.scenario,
            "template": self.template,
            "seed": self.seed,
            "replications": self.replications,
            "confidence": self.level,
            "note": self.note(),
            "configurations": [
                {
                    "label": c.label,
                    "settings": c.changes,
                    "overrides": c.overrides,
                    "summary": c.summary,
                }
                for c in self.configurations
            ],
            "differences": [
                {
                    "configuration": v.label,
                    "vs": self.baseline.label,
                    "metrics": {key: self.difference(v, key) for key in self.metrics},
                }
                for v in self.variants
            ],
        }

    def note(self) -> str:
        if self.replications < 2:
            return (
                "1 replication: differences are shown without confidence intervals "
                "(run 2 or more replications, e.g. --replications 3, to get them)"
            )
        return (
            f"differences vs {self.baseline.label} are paired by replication (same seed "
            f"{self.seed}: common random numbers), with {self.level:.0%} Student-t intervals "
            f"over {self.replications} replications"
        )

    # ------------------------------------------------------------ figures
    def latency_cdf_figure(self) -> Figure:
        """Empirical CDF of latency (and TTFT for streaming) per configuration."""
        from matplotlib.figure import Figure

        streaming = "ttft_p50_s" in self.metrics
        fig = Figure(figsize=(11 if streaming else 6.5, 4.2), layout="constrained")
        axes = fig.subplots(1, 2 if streaming else 1, squeeze=False)[0]
        columns = [("latency", "latency (s)")] + ([("ttft", "time to first token (s)")] * streaming)
        for ax, (what, xlabel) in zip(axes, columns, strict=True):
            for c in self.configurations:
                values = np.sort(latency_values(c.result, self.warmup_s, what))
                if len(values):
                    ax.step(values, np.arange(1, len(values) + 1) / len(values), label=c.label)
            ax.set_xscale("log")
            ax.set_xlabel(xlabel)
            ax.set_ylabel("share of requests (in flight: time so far)")
            ax.grid(True, alpha=0.3)
        axes[0].legend(loc="lower right", fontsize="small")
        fig.suptitle(f"{self.template}: latency CDF (requests after warm-up, all replications)")
        return fig

    def workers_figure(self, replication: int = 0) -> Figure:
        """Billed workers (provisioning + starting + ready + draining) over time."""
        from matplotlib.figure import Figure

        fig = Figure(figsize=(9, 4), layout="constrained")
        ax = fig.subplots()
        for c in self.configurations:
            tl = c.result.timeline
            tl = tl[tl["replication"] == replication]
            billed = tl["provisioning"] + tl["starting"] + tl["ready"] + tl["draining"]
            ax.step(tl["time"] / 60.0, billed, where="post", label=c.label)
        if self.warmup_s > 0:
            ax.axvline(self.warmup_s / 60.0, color="grey", linestyle=":", label="end of warm-up")
        ax.set_xlabel("time (min)")
        ax.set_ylabel("workers")
        ax.set_title(f"{self.template}: workers over time (replication {replication})")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize="small")
        return fig


# ---------------------------------------------------------------- statistics
def _values(runs: Sequence[Mapping[str, float]], key: str) -> list[float]:
    return [float(r[key]) for r in runs if not math.isnan(r[key])]


def _mean(runs: Sequence[Mapping[str, float]], key: str) -> float:
    vals = _values(runs, key)
    return float(np.mean(vals)) if vals else math.nan


def paired_difference(
    base_runs: Sequence[Mapping[str, float]],
    runs: Sequence[Mapping[str, float]],
    key: str,
    level: float = 0.95,
) -> dict[str, Any]:
    """variant − baseline for one metric, replication by replication.

    Replications where either value is NaN (no request finished) are left out
    of the pairs. With two or more pairs the CI is a t-interval on the
    differences; with one, ci_low/ci_high are NaN.
    """
    if len(base_runs) != len(runs):
        raise CapplanError("paired differences need the same replications for both configurations")
    pairs = [
        (float(b[key]), float(v[key]))
        for b, v in zip(base_runs, runs, strict=True)
        if not (math.isnan(b[key]) or math.isnan(v[key]))
    ]
    base, value = _mean(base_runs, key), _mean(runs, key)
    if not pairs:
        diff, low, high = math.nan, math.nan, math.nan
    else:
        d = [v - b for b, v in pairs]
        diff = float(np.mean(d))
        low, high = confidence_interval(d, level) if len(d) >= 2 else (math.nan, math.nan)
    # A zero-width interval (identical differences in every pair, e.g. an exact replay)
    # measures no noise at all: it is never evidence of significance.
    known = not (math.isnan(low) or math.isnan(high)) and high > low
    return {
        "baseline": base,
        "value": value,
        "difference": diff,
        "relative": diff / base if base and not math.isnan(diff) else math.nan,
        "ci_low": low,
        "ci_high": high,
        "pairs": len(pairs),
        # The interval excludes zero: the difference is not noise at this confidence.
        "significant": bool(known and (low > 0 or high < 0)),
    }


def latency_values(result: SimulationResult, warmup_s: float, what: str = "latency") -> np.ndarray:
    """Latency (or TTFT) of the requests after warm-up in every replication, as the summary
    counts them (`capplan.latency.latency_sample`: in-flight ones censored at the horizon)."""
    parts = []
    for rec in result.records:
        keep = rec.arrival >= warmup_s
        done_at = (rec.end if what == "latency" else rec.first_token)[keep]
        parts.append(latency_sample(rec.arrival[keep], done_at, rec.status[keep], rec.horizon))
    return np.concatenate(parts) if parts else np.empty(0)


# ---------------------------------------------------------------- building
def pick_template(scen: Scenario, template: str | None) -> str:
    """The named template, or the only one; several and none named is an error."""
    if template is not None:
        return scen.template(template).name
    if len(scen.templates) == 1:
        return scen.templates[0].name
    raise CapplanError(
        f"this scenario has {len(scen.templates)} templates "
        f"({', '.join(scen.template_names)}); choose one with --template NAME"
    )


def variant_label(changes: Mapping[str, Any], full: bool = False) -> str:
    """'per_worker=8, max_workers=6' from {'endpoint_config.per_worker': 8, ...}."""
    if not changes:
        return "no changes"
    return ", ".join(
        f"{k if full else k.rsplit('.', 1)[-1]}={_show(v)}" for k, v in changes.items()
    )


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list | tuple):
        return "[" + ",".join(_show(v) for v in value) + "]"
    return str(value)


def _labels(variants: Sequence[Mapping[str, Any]], given: Sequence[str] | None) -> list[str]:
    if given is not None:
        labels = [BASELINE, *given]
        if len(given) != len(variants):
            raise CapplanError(f"labels: need {len(variants)} labels, one per variant")
    else:
        # Short keys unless two different settings would read the same
        # (planner.per_worker=4 vs endpoint_config.per_worker=4).
        short = [variant_label(v) for v in variants]
        full = [variant_label(v, full=True) for v in variants]
        labels = [BASELINE] + [
            f if len({g for t, g in zip(short, full, strict=True) if t == s}) > 1 else s
            for s, f in zip(short, full, strict=True)
        ]
    # Still equal (the same settings twice): number them.
    seen: dict[str, int] = {}
    out = []
    for label in labels:
        seen[label] = seen.get(label, 0) + 1
        out.append(label if seen[label] == 1 else f"{label} (#{seen[label]})")
    return out


def compare(
    scenario: Scenario | str | Path,
    template: str | None = None,
    *,
    base: Mapping[str, Any] | None = None,
    variants: Sequence[Mapping[str, Any]] = (),
    replications: int | None = None,
    seed: int | None = None,
    level: float = 0.95,
    labels: Sequence[str] | None = None,
    workers: int | None = 1,
    dask_address: str | None = None,
    progress: Progress | None = None,
) -> Comparison:
    """Simulate the baseline (`base` settings) and each variant (base + its settings).

    Settings are the dotted paths of `capplan simulate --set`. Every
    configuration runs with the same seed and replications (default: the
    scenario's), so differences are paired. `workers`/`dask_address` choose the
    executor as in `simulate`; the numbers never depend on it.
    """
    if not variants:
        raise CapplanError("compare: needs at least one variant to compare with the baseline")
    if not 0 < level < 1:
        raise CapplanError(f"level: must be between 0 and 1, got {level}")
    scen = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    name = pick_template(scen, template)
    names = _labels(variants, labels)
    base = dict(base or {})
    base_scen = apply_overrides(scen, base, name)
    if seed is not None:
        base_scen = apply_overrides(base_scen, {"seed": seed})
    reps = resolve_replications(base_scen, replications)
    cases = [base_scen.case(name)]
    for label, changes in zip(names[1:], variants, strict=True):
        for key in changes:
            if key in PINNED:
                raise CapplanError(f"--vs (variant {label!r}): cannot set {key}: {PINNED[key]}")
        try:
            cases.append(apply_overrides(base_scen, changes, name, option="--vs").case(name))
        except CapplanError as exc:
            raise CapplanError(f"variant {label!r}: {exc}") from None
    with executor_for(workers, dask_address) as executor:
        results = simulate_cases(cases, reps, Runner(executor, progress))
    configs = [Configuration(names[0], {}, base, results[0])]
    configs += [
        Configuration(label, dict(changes), {**base, **changes}, result)
        for label, changes, result in zip(names[1:], variants, results[1:], strict=True)
    ]
    return Comparison(
        scenario=scen.name,
        template=name,
        seed=base_scen.seed,
        replications=reps,
        level=level,
        warmup_s=base_scen.case(name).workload.warmup_s,
        configurations=tuple(configs),
    )


__all__ = [
    "BASELINE",
    "METRICS",
    "Comparison",
    "Configuration",
    "compare",
    "latency_values",
    "paired_difference",
    "pick_template",
    "variant_label",
]
