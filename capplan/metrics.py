"""From engine records to tables and summaries.

Per-request tallies (wait, latency, time to first token) are kept apart from
time-weighted ones (workers, cost); both exclude the warm-up period: a request
counts if it arrived at or after `warmup`, and time-weighted figures integrate
over [warmup, horizon].

Requests still in the system at the horizon are censored, not dropped: their
wait and latency count as at least (horizon - arrival), so an endpoint that
falls behind cannot look fast by leaving its slowest requests unfinished
(`capplan.latency.latency_sample`, the one definition of a latency sample).

Per-request figures go through a `capplan.tally.RequestTally`: percentiles
from a fixed-size log histogram, within 1e-4 relative of numpy's exact ones
(bound proved in `capplan.quantiles`), so a run that keeps no per-request
record summarises the same way as one that does.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from capplan.engine import STATUS_NAMES, TIMELINE_COLUMNS, EngineRecord
from capplan.tally import PERCENTILES, RequestTally

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
    "tpot_mean_s",
    *(f"tpot_p{p}_s" for p in PERCENTILES),
    "worker_hours",
    "cost_usd",
    "cost_per_hour",
    "mean_workers",
    "peak_workers",
    "cold_starts",
    "worker_failures",
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
            "prompt_tokens": _tokens(rec.prompt_tokens, len(rec.arrival)),
            "output_tokens": _tokens(rec.output_tokens, len(rec.arrival)),
        }
    )


def _tokens(values: np.ndarray | None, n: int) -> np.ndarray:
    """Token counts as nullable integers: absent (latency services) is <NA>."""
    if values is None:
        return pd.array([pd.NA] * n, dtype="Int64")
    return pd.array(values, dtype="Int64")


def timeline_frame(rec: EngineRecord, replication: int = 0) -> pd.DataFrame:
    """One row per control tick or worker state change."""
    df = pd.DataFrame(rec.timeline, columns=list(TIMELINE_COLUMNS))
    for col in TIMELINE_COLUMNS[1:]:
        df[col] = df[col].astype(np.int64)
    df.insert(0, "replication", replication)
    return df


# ---------------------------------------------------------------- one replication
def summarize(
    rec: EngineRecord, warmup: float, streaming: bool, tally: RequestTally | None = None
) -> dict[str, float]:
    """Counts, per-request percentiles and time-weighted cost of one run.

    `tally` holds the requests the engine already handed over (a run that kept
    no per-request record); the record's own requests are added to it.
    """
    tally = tally if tally is not None else RequestTally(warmup, rec.horizon, streaming)
    tally.add(rec.arrival, rec.start, rec.first_token, rec.end, rec.status, rec.output_tokens)
    out = tally.summary()
    out.update(_workers(rec, warmup, tally.excluded))
    return out


def _workers(
    rec: EngineRecord, warmup: float, excluded: tuple[tuple[float, float], ...] = ()
) -> dict[str, float]:
    """Time-weighted worker figures over [warmup, horizon) less the `excluded` spans."""
    w = rec.workers
    lo, hi = warmup, rec.horizon
    begin = np.clip(w["requested_at"], lo, hi)
    stop = np.clip(np.minimum(w["stop_at"], hi), lo, hi)
    seconds = float(np.sum(np.maximum(stop - begin, 0.0)))
    window = hi - lo
    for a, b in excluded:  # billed seconds inside an excluded span do not count
        seconds -= float(np.sum(np.maximum(np.minimum(stop, b) - np.maximum(begin, a), 0.0)))
        window -= max(min(b, hi) - max(a, lo), 0.0)
    hours = seconds / 3600.0
    return {
        "worker_hours": hours,
        "cost_usd": hours * rec.cost_per_hour,
        "cost_per_hour": (seconds / window) * rec.cost_per_hour if window > 0 else 0.0,
        "mean_workers": seconds / window if window > 0 else 0.0,
        "peak_workers": float(_peak(begin, stop)),
        "cold_starts": float(np.sum(w["cold"] & (w["requested_at"] >= lo))),
        "worker_failures": float(np.sum((w["failed_at"] >= lo) & (w["failed_at"] < hi))),
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
