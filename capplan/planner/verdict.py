"""The SLO test: whether a configuration's replications meet the SLO."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import stats

from capplan.analytic import (
    GpuOption,
    closed_clients,
    concurrency_limit,
    work_sample,
)
from capplan.planner.config import Config
from capplan.scenario import Case, SloSpec
from capplan.service import slowdown
from capplan.workload import minute_bins

# ---------------------------------------------------------------- the SLO test
# The test, for a target "percentile p <= D" over R replications: the one-sided
# Student-t upper limit at slo.confidence of the mean of the R per-replication
# percentiles, mean + t(conf, R-1) s / sqrt(R), must be <= D. Replications are
# independent (their own seeds), so the t interval is the standard one; it is
# one-sided because only "too slow" fails. With one replication, or R identical
# values (an exact trace replay), there is no interval: the value is tested as
# it is and the result is marked not confident.
#
# The error rate: pooled counts over replications, and the one-sided
# Clopper-Pearson upper limit at slo.confidence of bad / known must be <= the
# budget (a budget of 0 needs no errors at all). Pooling treats requests as
# independent trials, which they are not quite (a burst fails many at once):
# the limit is exact for the binomial, an approximation for the endpoint.


def upper_limit(vals: Sequence[float], confidence: float) -> tuple[float, bool]:
    """The one-sided upper confidence limit of the mean, and whether it is a real
    interval (at least 2 values, not all equal)."""
    x = np.asarray(vals, dtype=float)
    mean = float(x.mean())
    if len(x) < 2 or float(x.std()) == 0.0:
        return mean, False
    t = float(stats.t.ppf(confidence, len(x) - 1))
    return mean + t * float(x.std(ddof=1)) / math.sqrt(len(x)), True


def slo_values(runs: Sequence[dict], slo: SloSpec) -> dict[str, dict[str, float | bool]]:
    """For each target: the mean value, its one-sided upper limit at slo.confidence, the
    target, and whether the limit comes from a real interval."""
    out: dict[str, dict[str, float | bool]] = {}
    for key, target in slo.targets().items():
        vals = [r[key] for r in runs if not math.isnan(r[key])]
        if not vals:
            continue
        upper, confident = upper_limit(vals, slo.confidence)
        out[key] = {
            "value": float(np.mean(vals)),
            "upper": upper,
            "target": target,
            "confident": confident,
        }
    return out


def error_counts(runs: Sequence[dict]) -> tuple[int, int]:
    """(rejected + expired, requests whose fate is known), pooled over replications."""
    bad = sum(int(r["rejected"] + r["expired"]) for r in runs)
    known = sum(int(r["requests"] - r["in_flight_at_end"]) for r in runs)
    return bad, known


def error_rate(runs: Sequence[dict]) -> float:
    bad, known = error_counts(runs)
    return bad / known if known else 0.0


def error_upper(runs: Sequence[dict], confidence: float) -> float:
    """One-sided Clopper-Pearson upper limit of the pooled error rate (0 if none known)."""
    bad, known = error_counts(runs)
    if known == 0:
        return 0.0
    if bad >= known:
        return 1.0
    return float(stats.beta.ppf(confidence, bad + 1, known - bad))


def errors_ok(runs: Sequence[dict], slo: SloSpec) -> bool:
    if slo.max_error_rate == 0:
        return error_counts(runs)[0] == 0
    return error_upper(runs, slo.confidence) <= slo.max_error_rate


def meets_slo(runs: Sequence[dict], slo: SloSpec) -> bool:
    """Every percentile's one-sided upper limit on target and the error rate's too."""
    checks = slo_values(runs, slo)
    return all(c["upper"] <= c["target"] for c in checks.values()) and errors_ok(runs, slo)


def confident(runs: Sequence[dict], slo: SloSpec) -> bool:
    """Whether every percentile verdict rests on a real interval (see above)."""
    return all(bool(c["confident"]) for c in slo_values(runs, slo).values())


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
    A closed loop never builds a backlog (its clients wait for their answers): 0.
    """
    if closed_clients(case) is not None:
        return 0
    total, _ = work_sample(case, GpuOption(cfg.gpu_type, cfg.gpus, 0.0))
    if not len(total):
        return 0
    k = concurrency_limit(case, cfg.per_worker)
    per_worker = k / (slowdown(k, case.service.batching_alpha) * float(total.mean()))
    return math.floor(mean_rate(case) * traffic / per_worker) + 1


def passes_slo(case: Case, cfg: Config, runs: Sequence[dict], traffic: float = 1.0) -> bool:
    """The planner's verdict: the SLO test, for a pool that can carry the mean rate."""
    return cfg.max_workers >= stable_workers(case, cfg, traffic) and meets_slo(runs, case.slo)
