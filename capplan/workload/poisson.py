"""``poisson``: a homogeneous Poisson process, exponential gaps at `rate`."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from capplan.workload.draws import poisson_times, stream_rng
from capplan.workload.kind import Kind

if TYPE_CHECKING:
    from capplan.scenario import WorkloadSpec


class Poisson(Kind):
    name = "poisson"
    needs = ("rate",)
    windowed = True

    @property
    def rate(self) -> float:
        return float(self.spec.rate)  # type: ignore[arg-type]

    def arrivals(self, seed: int, replication: int, horizon: float) -> np.ndarray:
        return poisson_times(stream_rng(seed, replication, "arrivals"), self.rate, horizon)

    def arrivals_between(self, rng: np.random.Generator, lo: float, hi: float) -> np.ndarray:
        times = lo + poisson_times(rng, self.rate, hi - lo)
        return times[times < hi]

    def rate_at(self, t: np.ndarray) -> np.ndarray:
        return np.full(np.shape(t), self.rate)

    def cumulative(self, t: np.ndarray, seed: int, replication: int) -> np.ndarray:
        return self.rate * t

    def expected_draws(self) -> float:
        return self.rate * self.horizon

    def scaled(self, factor: float) -> WorkloadSpec:
        return self.spec.model_copy(update={"rate": self.rate * factor})

    def describe(self) -> str:
        return f"Poisson arrivals at {self.spec.rate:g} requests/s"
