"""A fixed-size, mergeable record of a sample's distribution with a proven quantile bound.

`LogHistogram` keeps, per logarithmic bucket, the count and the smallest and
largest value seen, plus the sum; its memory does not depend on how many
values it has seen (about 5 MB, whatever the horizon). Adding values chunk by
chunk, in any order, or merging two histograms gives the same counts, minima
and maxima, hence the same percentiles; the sum is exact per chunk (fsum) and
rounded once per chunk, so the mean agrees to within 1e-12 relative.

Bound (proof). Bucket i >= 1 holds the values in (L·γ^(i-1), L·γ^i], with
γ = (1 + α)/(1 − α), L = `LOW`; bucket 0 holds the values in [0, L]. The
estimate of the value of rank r (0-based, in sorted order) is the bucket's
representative ρ_i = 2·L·γ^i/(γ + 1), clamped to the bucket's observed
[min, max]. For any x in bucket i >= 1, |ρ_i − x| <= α·x (DDSketch, Masson
et al. 2019, Prop. 1: ρ_i/x lies in [2/(γ+1), 2γ/(γ+1)] = [1 − α, 1 + α]);
clamping to [min, max], an interval that contains x, moves ρ_i towards x and
never further. In bucket 0 the clamped estimate is within L of x. A
percentile p is computed as numpy's default (linear) method does: with
h = (n − 1)·p/100, x_lo and x_hi the order statistics at floor(h) and
ceil(h), q = x_lo + (h − floor h)(x_hi − x_lo). Its estimate from the two
estimated order statistics is the same convex combination, so for values
>= 0:

    |q_est − q| <= α·q + L.

Where a bucket holds one distinct value (a deterministic service time, say),
min = max and that value is exact.
"""

from __future__ import annotations

import math

import numpy as np

ALPHA = 1e-4  # relative error bound of every percentile (see the module docstring)
LOW = 1e-9  # seconds: values at or below this share bucket 0 (absolute error <= LOW)
HIGH = 1e9  # seconds: larger values are refused (a horizon is far shorter)
_GAMMA = (1 + ALPHA) / (1 - ALPHA)
_LOG_GAMMA = math.log(_GAMMA)
BUCKETS = int(math.ceil(math.log(HIGH / LOW) / _LOG_GAMMA)) + 2


class LogHistogram:
    """Counts, per-bucket min/max and the exact sum of non-negative values."""

    __slots__ = ("counts", "lo", "hi", "total", "n")

    def __init__(self) -> None:
        self.counts = np.zeros(BUCKETS, dtype=np.int64)
        self.lo = np.full(BUCKETS, np.inf)
        self.hi = np.full(BUCKETS, -np.inf)
        self.total = 0.0
        self.n = 0

    def add(self, values: np.ndarray) -> None:
        """Record every value (finite, >= 0, <= HIGH)."""
        values = np.asarray(values, dtype=float).ravel()
        if values.size == 0:
            return
        if not (np.all(np.isfinite(values)) and values.min() >= 0 and values.max() <= HIGH):
            raise ValueError(f"LogHistogram: values must be finite and in [0, {HIGH:g}]")
        idx = bucket_of(values)
        self.counts += np.bincount(idx, minlength=BUCKETS)
        np.minimum.at(self.lo, idx, values)
        np.maximum.at(self.hi, idx, values)
        # fsum: each chunk's sum is exact then rounded once, so chunking barely moves the mean.
        self.total = math.fsum((self.total, math.fsum(values.tolist())))
        self.n += int(values.size)

    def merge(self, other: LogHistogram) -> None:
        self.counts += other.counts
        np.minimum(self.lo, other.lo, out=self.lo)
        np.maximum(self.hi, other.hi, out=self.hi)
        self.total = math.fsum((self.total, other.total))
        self.n += other.n

    def mean(self) -> float:
        return self.total / self.n if self.n else math.nan

    def percentiles(self, ps: tuple[float, ...] | list[float]) -> np.ndarray:
        """Estimates of np.percentile(values, ps) within α·q + LOW each (module docstring)."""
        if self.n == 0:
            return np.full(len(ps), math.nan)
        h = (self.n - 1) * np.asarray(ps, dtype=float) / 100.0
        below = np.floor(h)
        lo = self._order_statistic(below.astype(np.int64))
        hi = self._order_statistic(np.ceil(h).astype(np.int64))
        return lo + (h - below) * (hi - lo)

    def _order_statistic(self, ranks: np.ndarray) -> np.ndarray:
        cumulative = np.cumsum(self.counts)
        bucket = np.searchsorted(cumulative, ranks, side="right")
        rep = representative(bucket)
        return np.clip(rep, self.lo[bucket], self.hi[bucket])


def bucket_of(values: np.ndarray) -> np.ndarray:
    """Bucket index of each value: 0 for values <= LOW, else ceil(log_γ(v / LOW)).

    Rounding in the logarithm may put a value lying on a bucket edge into the
    next bucket; the clamp to that bucket's observed [min, max] keeps the bound
    (up to rounding, ~1e-15 relative).
    """
    out = np.zeros(values.shape, dtype=np.int64)
    big = values > LOW
    out[big] = np.ceil(np.log(values[big] / LOW) / _LOG_GAMMA).astype(np.int64)
    return np.clip(out, 0, BUCKETS - 1)


def representative(bucket: np.ndarray) -> np.ndarray:
    """The value reported for a bucket: within α of every value in it (0 for bucket 0)."""
    rep = 2.0 * LOW * np.exp(bucket * _LOG_GAMMA) / (_GAMMA + 1.0)
    return np.where(bucket == 0, 0.0, rep)


def within_sketch_bound(estimate: float, exact: float) -> bool:
    """True if `estimate` is within the stated bound of the exact percentile `exact`."""
    return abs(estimate - exact) <= ALPHA * abs(exact) + LOW + 1e-12 * abs(exact)
