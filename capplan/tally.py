"""Per-request tallies of one run, fed in chunks: counts, waits, latencies, time to first token.

The summary of a run needs, per request that arrived at or after the warm-up,
its status and three durations. A `RequestTally` takes them in any number of
chunks (the engine hands over finished requests as it goes, and whatever is
still in the system at the horizon at the end) and keeps only counters and
fixed-size `LogHistogram`s, so its memory does not grow with the horizon.
Feeding the whole record at once or in chunks gives the same summary: counts
and histograms are sums; the means agree to rounding (fsum totals per chunk).

Percentiles are within the histogram's bound, |q_est − q| <= ALPHA·q + LOW
(`capplan.quantiles`), of numpy's exact percentiles of the same values.
"""

from __future__ import annotations

import math

import numpy as np

from capplan.engine.records import (
    EXPIRED,
    OK,
    PENDING,
    REJECTED_429,
    REJECTED_503,
    STATUS_NAMES,
)
from capplan.latency import latency_sample
from capplan.quantiles import LogHistogram
from capplan.workload.spans import tail_level

PERCENTILES = (50, 90, 95, 99)
WAITED_EPS = 1e-9  # a request "waited" if it started later than this after arriving


def wait_values(
    arrival: np.ndarray, start: np.ndarray, status: np.ndarray, horizon: float
) -> np.ndarray:
    """Arrival to start of service for every started request; still queued: censored.

    Unlike `latency_sample`, a request started and then rejected (a sync request
    on a pod killed at the end of its grace period) counts: it did wait.
    """
    served = ~np.isnan(start)
    queued = (status == PENDING) & ~served
    return np.concatenate([start[served] - arrival[served], horizon - arrival[queued]])


def tpot_values(
    first_token: np.ndarray, end: np.ndarray, status: np.ndarray, output_tokens: np.ndarray
) -> np.ndarray:
    """(end − first token) / (output tokens − 1) of completed requests with >= 2 output tokens.

    Unfinished requests are left out, not censored: their token count so far is unknown.
    """
    many = (status == OK) & (output_tokens >= 2) & ~np.isnan(first_token)
    return (end[many] - first_token[many]) / (output_tokens[many] - 1.0)


class RequestTally:
    """Status counts and wait / latency / TTFT histograms of the requests that count."""

    def __init__(
        self,
        warmup: float,
        horizon: float,
        ttft: bool,
        excluded: tuple[tuple[float, float], ...] = (),
    ) -> None:
        self.warmup, self.horizon = warmup, horizon
        self.excluded = excluded  # further [lo, hi) of arrival times not counted
        # A spans run (capplan.workload.spans) sets N / n: percentiles are then read at
        # the whole horizon's level (`spans.tail_level`).
        self.tail_ratio = 1.0
        self.status = np.zeros(len(STATUS_NAMES), dtype=np.int64)
        self.waited = 0
        self.wait = LogHistogram()
        self.latency = LogHistogram()
        self.ttft = LogHistogram() if ttft else None
        self.tpot = LogHistogram() if ttft else None

    def add(
        self,
        arrival: np.ndarray,
        start: np.ndarray,
        first_token: np.ndarray,
        end: np.ndarray,
        status: np.ndarray,
        output_tokens: np.ndarray | None = None,
    ) -> None:
        """Tally a chunk of requests (arrays aligned per request; PENDING ones censored)."""
        keep = arrival >= self.warmup
        for lo, hi in self.excluded:
            keep &= (arrival < lo) | (arrival >= hi)
        if not keep.all():
            arrival, start, first_token, end, status = (
                a[keep] for a in (arrival, start, first_token, end, status)
            )
            output_tokens = output_tokens[keep] if output_tokens is not None else None
        self.status += np.bincount(status, minlength=len(STATUS_NAMES))
        wait = wait_values(arrival, start, status, self.horizon)
        self.waited += int(np.count_nonzero(wait > WAITED_EPS))
        self.wait.add(wait)
        self.latency.add(latency_sample(arrival, end, status, self.horizon))
        if self.ttft is not None:
            self.ttft.add(latency_sample(arrival, first_token, status, self.horizon))
        if self.tpot is not None and output_tokens is not None:
            self.tpot.add(tpot_values(first_token, end, status, output_tokens))

    def summary(self) -> dict[str, float]:
        out = self._counts()
        out["p_wait"] = self.waited / self.wait.n if self.wait.n else 0.0
        ratio = self.tail_ratio
        out.update(_stats("wait", self.wait, ratio))
        out.update(_stats("latency", self.latency, ratio))
        out.update(_stats("ttft", self.ttft, ratio))
        out.update(_stats("tpot", self.tpot, ratio))
        if ratio != 1.0:
            out["tail_ratio"] = ratio
        return out

    def _counts(self) -> dict[str, float]:
        counts = self.status
        n = int(counts.sum())
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


def _stats(name: str, hist: LogHistogram | None, ratio: float = 1.0) -> dict[str, float]:
    if hist is None or hist.n == 0:
        return {f"{name}_mean_s": math.nan, **{f"{name}_p{p}_s": math.nan for p in PERCENTILES}}
    if ratio == 1.0:
        pct = hist.percentiles(PERCENTILES)
    else:
        levels = np.array([tail_level(p, hist.n, ratio) for p in PERCENTILES])
        pct = np.where(levels >= 0, hist.percentiles(np.maximum(levels, 0.0).tolist()), 0.0)
    out = {f"{name}_mean_s": hist.mean()}
    out.update({f"{name}_p{p}_s": float(v) for p, v in zip(PERCENTILES, pct, strict=True)})
    return out
