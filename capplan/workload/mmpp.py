"""``mmpp``: Markov-modulated Poisson: exponential sojourns in phases, starting in phase 0."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from capplan.workload.draws import stream_rng
from capplan.workload.kind import Kind

if TYPE_CHECKING:
    from capplan.scenario import WorkloadSpec


class Mmpp(Kind):
    name = "mmpp"
    needs = ("rates", "mean_durations_s")

    @classmethod
    def check(cls, spec: WorkloadSpec) -> None:
        super().check(spec)
        assert spec.rates is not None and spec.mean_durations_s is not None
        if len(spec.rates) != len(spec.mean_durations_s):
            raise ValueError("rates and mean_durations_s must have the same length")
        if any(d <= 0 for d in spec.mean_durations_s):
            raise ValueError("mean_durations_s must all be > 0")
        if max(spec.rates) <= 0:
            raise ValueError("rates: at least one phase needs a rate > 0")

    @property
    def rates(self) -> np.ndarray:
        return np.asarray(self.spec.rates, dtype=float)

    @property
    def durations(self) -> np.ndarray:
        return np.asarray(self.spec.mean_durations_s, dtype=float)

    def mean_rate(self) -> float:
        # Uniform choice among the other phases makes the jump chain's stationary law
        # uniform, so the time spent in phase i is proportional to its mean sojourn.
        return float((self.rates * self.durations).sum() / self.durations.sum())

    def path(self, seed: int, replication: int, horizon: float) -> MmppPath:
        return MmppPath.draw(self, stream_rng(seed, replication, "phases"), horizon)

    def arrivals(self, seed: int, replication: int, horizon: float) -> np.ndarray:
        rng = stream_rng(seed, replication, "arrivals")
        return self.path(seed, replication, horizon).arrivals(rng)

    def rate_at(self, t: np.ndarray) -> np.ndarray:
        """The stationary mean rate: the phase at t is random."""
        return np.full(np.shape(t), self.mean_rate())

    def cumulative(self, t: np.ndarray, seed: int, replication: int) -> np.ndarray:
        """Λ(t) given the phases the chain of (seed, replication) visited, so bursts show."""
        return self.path(seed, replication, self.horizon).cumulative(t)

    def expected_draws(self) -> float:
        # Arrivals at the mean rate, plus the phase segments the chain draws.
        segments = self.horizon / float(self.durations.mean())
        return self.mean_rate() * self.horizon + segments

    def scaled(self, factor: float) -> WorkloadSpec:
        return self.spec.model_copy(update={"rates": tuple(r * factor for r in self.spec.rates)})  # type: ignore[union-attr]

    def describe(self) -> str:
        phases = ", ".join(
            f"{r:g}/s for ~{d:g} s"
            for r, d in zip(self.spec.rates or (), self.spec.mean_durations_s or (), strict=True)
        )
        return f"bursty MMPP with phases {phases}"


@dataclass(frozen=True, slots=True)
class MmppPath:
    """The modulating chain's realisation: phase segments covering [0, horizon)."""

    starts: np.ndarray  # segment start times, starts[0] = 0
    ends: np.ndarray  # segment ends, ends[-1] = horizon
    rates: np.ndarray  # arrival rate in each segment

    @classmethod
    def draw(cls, kind: Mmpp, rng: np.random.Generator, horizon: float) -> MmppPath:
        """Start in phase 0; each sojourn is exponential with the phase's mean; the next
        phase is uniform among the others (with two phases they alternate)."""
        phases, ends = phase_segments(rng, kind.durations, horizon)
        starts = np.concatenate(([0.0], ends[:-1]))
        return cls(starts, ends, kind.rates[phases])

    def cumulative(self, t: np.ndarray) -> np.ndarray:
        area = np.concatenate(([0.0], np.cumsum((self.ends - self.starts) * self.rates)))
        idx = np.clip(np.searchsorted(self.ends, t, side="right"), 0, len(self.ends) - 1)
        return area[idx] + self.rates[idx] * (np.minimum(t, self.ends[idx]) - self.starts[idx])

    def arrivals(self, rng: np.random.Generator) -> np.ndarray:
        """Given the phases, a Poisson count per segment, placed uniformly within it."""
        lengths = self.ends - self.starts
        counts = rng.poisson(self.rates * lengths)
        offsets = rng.uniform(0.0, 1.0, int(counts.sum())) * np.repeat(lengths, counts)
        times = np.sort(np.repeat(self.starts, counts) + offsets)
        # Guard the open end: start + u·length can round up to the segment end.
        return times[times < self.ends[-1]]


def phase_segments(
    rng: np.random.Generator, durations: np.ndarray, horizon: float
) -> tuple[np.ndarray, np.ndarray]:
    """(phase of each segment, segment end times), the last end clipped to horizon."""
    m = len(durations)
    if m == 1 or horizon <= 0:
        return np.zeros(1, dtype=np.int64), np.array([max(horizon, 0.0)])
    chunk = int(horizon / durations.mean() * 1.2) + 16
    phase_parts: list[np.ndarray] = []
    end_parts: list[np.ndarray] = []
    phase, clock = 0, 0.0
    while clock < horizon:
        # Jumps of 1..m-1 modulo m: the next phase is uniform among the others.
        jumps = rng.integers(1, m, chunk)
        phases = (phase + np.concatenate(([0], np.cumsum(jumps[:-1])))) % m
        ends = clock + np.cumsum(rng.exponential(1.0, chunk) * durations[phases])
        phase_parts.append(phases)
        end_parts.append(ends)
        phase, clock = int((phases[-1] + jumps[-1]) % m), float(ends[-1])
    phases, ends = np.concatenate(phase_parts), np.concatenate(end_parts)
    n = int(np.searchsorted(ends, horizon, side="left")) + 1
    phases, ends = phases[:n], ends[:n].copy()
    ends[-1] = horizon
    return phases, ends
