"""The SLO test: whether a configuration's replications meet the SLO."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from capplan.analytic import (
    GpuOption,
    concurrency_limit,
    work_sample,
)
from capplan.metrics import confidence_interval
from capplan.planner.config import Config
from capplan.scenario import Case, SloSpec
from capplan.service import slowdown
from capplan.workload import minute_bins


# ---------------------------------------------------------------- the SLO test
def slo_values(runs: Sequence[dict], slo: SloSpec) -> dict[str, dict[str, float]]:
    """For each target: the value, the CI's upper end at slo.confidence, and the target."""
    out: dict[str, dict[str, float]] = {}
    for key, target in slo.targets().items():
        vals = [r[key] for r in runs if not math.isnan(r[key])]
        if not vals:
            continue
        mean = sum(vals) / len(vals)
        high = confidence_interval(vals, slo.confidence)[1] if len(vals) >= 2 else mean
        out[key] = {"value": mean, "upper": mean if math.isnan(high) else high, "target": target}
    return out


def error_rate(runs: Sequence[dict]) -> float:
    bad = sum(r["rejected"] + r["expired"] for r in runs)
    known = sum(r["requests"] - r["in_flight_at_end"] for r in runs)
    return bad / known if known else 0.0


def meets_slo(runs: Sequence[dict], slo: SloSpec) -> bool:
    """Every percentile's CI upper end on target and the error rate within budget."""
    checks = slo_values(runs, slo)
    return all(c["upper"] <= c["target"] for c in checks.values()) and (
        error_rate(runs) <= slo.max_error_rate
    )


def violation(runs: Sequence[dict], slo: SloSpec) -> float:
    """How far from the SLO (1 = on the edge): the worst value/target ratio."""
    ratios = [c["value"] / c["target"] for c in slo_values(runs, slo).values()]
    rate = error_rate(runs)
    ratios.append(rate / slo.max_error_rate if slo.max_error_rate > 0 else (1e6 if rate else 0))
    return max(ratios)


def mean_rate(case: Case) -> float:
    """Requests/s averaged over the whole horizon: the long-run rate a pool must carry."""
    edges, rates = minute_bins(case.workload, case.seed)
    width = np.diff(edges)
    return float(np.sum(rates * width) / np.sum(width)) if rates.size else 0.0


def stable_workers(case: Case, cfg: Config, traffic: float = 1.0) -> int:
    """Fewest workers whose most throughput exceeds the mean rate (utilisation < 1).

    Each worker completes at most k / (s(k) × mean work) requests/s at its
    concurrency limit k. With fewer workers the backlog grows without bound:
    a finite simulation can still pass, because requests still queued at the
    end have no latency yet, but any longer run misses the SLO.
    """
    total, _ = work_sample(case, GpuOption(cfg.gpu_type, cfg.gpus, 0.0))
    if not len(total):
        return 0
    k = concurrency_limit(case, cfg.per_worker)
    per_worker = k / (slowdown(k, case.service.batching_alpha) * float(total.mean()))
    return math.floor(mean_rate(case) * traffic / per_worker) + 1


def passes_slo(case: Case, cfg: Config, runs: Sequence[dict], traffic: float = 1.0) -> bool:
    """The planner's verdict: the SLO test, for a pool that can carry the mean rate."""
    return cfg.max_workers >= stable_workers(case, cfg, traffic) and meets_slo(runs, case.slo)
