"""Random streams, the request arrays, and the draws every kind shares.

Every random quantity comes from its own stream, seeded per (scenario seed,
replication, stream name), so two candidate configurations simulated with the
same seed and replication see exactly the same requests (common random numbers)
and adding a draw to one stream never shifts another.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from capplan.errors import CapplanError

if TYPE_CHECKING:
    from capplan.distributions import Distribution

BIN_S = 60.0  # minute bins for minute_rates: the fluid bound's resolution
MAX_BINS = 2**24  # 31.9 years of minute bins (128 MiB of edges): beyond, the horizon is a typo
DEFAULT_CONTEXT_TOKENS = 1000.0
DEFAULT_GENERATED_TOKENS = 100.0
# Token counts are int64; beyond 2**53 a float no longer holds every integer, and
# far below int64's end. Nothing real comes near it (context windows are < 1e7).
MAX_TOKENS = 2.0**53


@dataclass(frozen=True, slots=True)
class Requests:
    """One replication's requests, sorted by arrival time."""

    arrival: np.ndarray  # float64 seconds from 0, ascending, all < horizon
    context_tokens: np.ndarray  # int64 >= 0: prompt tokens
    generated_tokens: np.ndarray  # int64 >= 1: output tokens
    horizon: float  # simulated seconds
    warmup: float  # seconds excluded from summaries

    def __post_init__(self) -> None:
        n = len(self.arrival)
        if len(self.context_tokens) != n or len(self.generated_tokens) != n:
            raise ValueError("Requests: arrival and token arrays must have the same length")

    def __len__(self) -> int:
        return len(self.arrival)


def stream_rng(seed: int, replication: int, stream: str) -> np.random.Generator:
    """An independent, reproducible generator for one named stream.

    crc32 rather than hash(): Python salts str hashes per process, which would
    make results depend on where a run executes.
    """
    key = zlib.crc32(stream.encode("utf-8"))
    return np.random.default_rng(np.random.SeedSequence([seed, replication, key]))


def poisson_times(rng: np.random.Generator, rate: float, horizon: float) -> np.ndarray:
    """Homogeneous Poisson arrivals on [0, horizon): cumulative sums of exponential gaps.

    Gaps are drawn in chunks sized to cover the horizon with high probability, so
    the usual case is one draw and one cumsum.
    """
    if rate <= 0 or horizon <= 0:
        return np.zeros(0)
    mean_n = rate * horizon
    chunk = int(mean_n + 6 * math.sqrt(mean_n) + 16)
    parts: list[np.ndarray] = []
    last = 0.0
    while last < horizon:
        times = last + np.cumsum(rng.exponential(1.0 / rate, chunk))
        parts.append(times)
        last = float(times[-1])
    times = np.concatenate(parts)
    return times[: np.searchsorted(times, horizon, side="left")]


def thin(
    rng: np.random.Generator,
    rate_max: float,
    horizon: float,
    rate_fn: Callable[[np.ndarray], np.ndarray],
) -> np.ndarray:
    """Lewis–Shedler thinning: keep a rate_max-Poisson point t with probability λ(t)/rate_max."""
    candidates = poisson_times(rng, rate_max, horizon)
    if candidates.size == 0:
        return candidates
    keep = rng.uniform(0.0, rate_max, candidates.size) < rate_fn(candidates)
    return candidates[keep]


def thin_between(
    rng: np.random.Generator,
    rate_max: float,
    lo: float,
    hi: float,
    rate_fn: Callable[[np.ndarray], np.ndarray],
) -> np.ndarray:
    """`thin` on the window [lo, hi); for lo = 0, the same draws as thin(rng, rate_max, hi, ...)."""
    candidates = lo + poisson_times(rng, rate_max, hi - lo)
    candidates = candidates[candidates < hi]  # lo + t may round up to hi
    if candidates.size == 0:
        return candidates
    keep = rng.uniform(0.0, rate_max, candidates.size) < rate_fn(candidates)
    return candidates[keep]


def bin_edges(horizon: float) -> np.ndarray:
    """0, 60, 120, … , horizon. A last bin shorter than 1 s joins the one before: a
    single trace arrival in a sliver of a bin would otherwise read as a huge rate."""
    if horizon <= 0:
        return np.zeros(1)
    if horizon / BIN_S > MAX_BINS:
        raise CapplanError(
            f"workload.horizon_s: {horizon:.3g} s is more than {MAX_BINS} minute bins "
            f"({MAX_BINS * BIN_S / 86400 / 365.25:.1f} years); shorten the horizon"
        )
    edges = np.arange(0.0, horizon, BIN_S)
    if len(edges) > 1 and horizon - edges[-1] < 1.0:
        edges = edges[:-1]
    return np.append(edges, horizon)


def sample_tokens(
    dist: Distribution | None,
    default: float,
    rng: np.random.Generator,
    n: int,
    *,
    low: int,
    key: str,
) -> np.ndarray:
    """n whole token counts >= low; `key` names the scenario field in an error."""
    values = dist.sample(rng, n) if dist is not None else np.full(n, default)
    values = np.maximum(np.rint(values), low)
    if values.size and not values.max() <= MAX_TOKENS:
        # Cast to int64 past its end would wrap to negative counts.
        raise CapplanError(
            f"{key}: drew {values.max():.3g} tokens for one request; must be <= 2^53"
        )
    return values.astype(np.int64)


def check_warmup(warmup_s: float, horizon: float) -> None:
    if warmup_s >= horizon:
        raise CapplanError(
            f"workload.warmup_s: must be < the horizon ({horizon:g} s), got {warmup_s:g}"
        )
