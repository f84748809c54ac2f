"""From engine records to tables and summaries.

Per-request tallies (wait, latency, time to first token) are kept apart from
time-weighted ones (workers, cost); both exclude the warm-up period: a request
counts if it arrived at or after `warmup`, and time-weighted figures integrate
over [warmup, horizon].

Requests still in the system at the horizon are censored, not dropped: their
wait and latency count as at least (horizon - arrival), so an endpoint that
falls behind cannot look fast by leaving its slowest requests unfinished
(`capplan.latency.latency_sample`, the one definition of a latency sample).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from capplan.engine import STATUS_NAMES, TIMELINE_COLUMNS, EngineRecord
from capplan.engine.records import EXPIRED, OK, PENDING, REJECTED_429, REJECTED_503
from capplan.latency import latency_sample

PERCENTILES = (50, 90, 95, 99)
WAITED_EPS = 1e-9  # a request "waited" if it started later than this after arriving

# Metrics whose per-replication values get a confidence interval.
REPLICATED = (
    "error_rate",
    "p_wait",
    "wait_mean_s",
    *(f"wait_p{p}_s" for p in PERCENTILES),
    "latency_mean_s",
    *(f"latency_p{p}_s" for p in PERCENTILES),
    "ttft_mean_s",
    *(f"ttft_p{p}_s" for p in PERCENTILES),
    "worker_hours",
    "cost_usd",
    "cost_per_hour",
    "mean_workers",
    "peak_workers",
    "cold_starts",
)
COUNTS = (
    "requests",
    "completed",
    "rejected",
    "rejected_429",
    "rejected_503",
    "expired",
    "in_flight_at_end",
)


# ---------------------------------------------------------------- tables
def requests_frame(rec: EngineRecord, replication: int = 0) -> pd.DataFrame:
    """One row per request: times, worker, status, retries."""
    return pd.DataFrame(
        {
            "replication": np.full(len(rec.arrival), replication, dtype=np.int32),
            "arrival": rec.arrival,
            "start": rec.start,
            "first_token": rec.first_token,
            "end": rec.end,
            "worker": rec.worker,
            "status": pd.Categorical.from_codes(rec.status.astype(np.int8), STATUS_NAMES),
            "retries": rec.retries,
        }
    )


def timeline_frame(rec: EngineRecord, replication: int = 0) -> pd.DataFrame:
    """One row per control tick or worker state change."""
    df = pd.DataFrame(rec.timeline, columns=list(TIMELINE_COLUMNS))
    for col in TIMELINE_COLUMNS[1:]:
        df[col] = df[col].astype(np.int64)
    df.insert(0, "replication", replication)
    return df


# ---------------------------------------------------------------- one replication
def summarize(rec: EngineRecord, warmup: float, streaming: bool) -> dict[str, float]:
    """Counts, per-request percentiles and time-weighted cost of one run."""
    keep = rec.arrival >= warmup
    status = rec.status[keep]
    arrival = rec.arrival[keep]
    out: dict[str, float] = _counts(status)
    out.update(_waits(arrival, rec.start[keep], status, rec.horizon))
    out.update(_latencies("latency", arrival, rec.end[keep], status, rec.horizon))
    if streaming:
        out.update(_latencies("ttft", arrival, rec.first_token[keep], status, rec.horizon))
    else:
        out.update(_nan_stats("ttft"))
    out.update(_workers(rec, warmup))
    return out


def _counts(status: np.ndarray) -> dict[str, float]:
    counts = np.bincount(status, minlength=len(STATUS_NAMES))
    n = int(len(status))
    rejected = int(counts[REJECTED_429] + counts[REJECTED_503])
    finished = n - int(counts[PENDING])
    return {
        "requests": n,
        "completed": int(counts[OK]),
        "rejected": rejected,
        "rejected_429": int(counts[REJECTED_429]),
        "rejected_503": int(counts[REJECTED_503]),
        "expired": int(counts[EXPIRED]),
        "in_flight_at_end": int(counts[PENDING]),
        # Errors among requests whose fate is known; in-flight ones are not yet errors.
        "error_rate": (rejected + int(counts[EXPIRED])) / finished if finished else 0.0,
    }


def _waits(arrival: np.ndarray, start: np.ndarray, status: np.ndarray, horizon: float) -> dict:
    served = ~np.isnan(start)
    queued = (status == PENDING) & ~served  # still waiting at the horizon: censored
    wait = np.concatenate([start[served] - arrival[served], horizon - arrival[queued]])
    out = {"p_wait": float(np.mean(wait > WAITED_EPS)) if len(wait) else 0.0}
    out.update(_stats("wait", wait))
    return out


def _latencies(
    name: str, arrival: np.ndarray, done_at: np.ndarray, status: np.ndarray, horizon: float
) -> dict:
    return _stats(name, latency_sample(arrival, done_at, status, horizon))


def _stats(name: str, values: np.ndarray) -> dict[str, float]:
    if len(values) == 0:
        return _nan_stats(name)
    pct = np.percentile(values, PERCENTILES)
    out = {f"{name}_mean_s": float(values.mean())}
    out.update({f"{name}_p{p}_s": float(v) for p, v in zip(PERCENTILES, pct, strict=True)})
    return out


def _nan_stats(name: str) -> dict[str, float]:
    return {f"{name}_mean_s": math.nan, **{f"{name}_p{p}_s": math.nan for p in PERCENTILES}}


def _workers(rec: EngineRecord, warmup: float) -> dict[str, float]:
    w = rec.workers
    lo, hi = warmup, rec.horizon
    begin = np.clip(w["requested_at"], lo, hi)
    stop = np.clip(np.minimum(w["stop_at"], hi), lo, hi)
    seconds = float(np.sum(np.maximum(stop - begin, 0.0)))
    hours = seconds / 3600.0
    window = hi - lo
    return {
        "worker_hours": hours,
        "cost_usd": hours * rec.cost_per_hour,
        "cost_per_hour": (seconds / window) * rec.cost_per_hour if window > 0 else 0.0,
        "mean_workers": seconds / window if window > 0 else 0.0,
        "peak_workers": float(_peak(begin, stop)),
        "cold_starts": float(np.sum(w["cold"] & (w["requested_at"] >= lo))),
    }


def _peak(begin: np.ndarray, stop: np.ndarray) -> int:
    """Most workers billed at once (stops before starts at equal times)."""
    live = stop > begin
    if not live.any():
        return 0
    times = np.concatenate([begin[live], stop[live]])
    steps = np.concatenate([np.ones(live.sum()), -np.ones(live.sum())])
    order = np.lexsort((steps, times))
    return int(np.max(np.cumsum(steps[order])))


# ---------------------------------------------------------------- replications
def confidence_interval(values: Sequence[float], level: float = 0.95) -> tuple[float, float]:
    """Student-t interval for the mean of independent replications (NaN-free ones)."""
    x = np.asarray([v for v in values if not math.isnan(v)], dtype=float)
    if len(x) == 0:
        return (math.nan, math.nan)
    mean = float(x.mean())
    if len(x) < 2 or float(x.std()) == 0.0:
        return (mean, mean) if len(x) >= 2 else (math.nan, math.nan)
    half = (
        float(stats.t.ppf(0.5 + level / 2, len(x) - 1)) * float(x.std(ddof=1)) / math.sqrt(len(x))
    )
    return (mean - half, mean + half)


def combine(runs: Sequence[dict[str, float]]) -> dict[str, Any]:
    """Totals of the counts, means of the rest, and a 95 % CI for each replicated metric."""
    out: dict[str, Any] = {k: int(sum(r[k] for r in runs)) for k in COUNTS}
    finished = out["requests"] - out["in_flight_at_end"]
    for key in REPLICATED:
        vals = [r[key] for r in runs if not math.isnan(r[key])]
        out[key] = float(np.mean(vals)) if vals else math.nan
    # The pooled error rate weighs replications by their requests.
    out["error_rate"] = (out["rejected"] + out["expired"]) / finished if finished else 0.0
    out["replications"] = len(runs)
    out["ci95"] = {
        key: list(confidence_interval([r[key] for r in runs], 0.95))
        for key in REPLICATED
        if len(runs) >= 2 and not math.isnan(out[key])
    }
    return out
