"""``diurnal``: λ(t) = base + (peak − base)·(1 + cos(2π (t − peak_at)/period))/2, by thinning."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from capplan.workload.draws import stream_rng, thin, thin_between
from capplan.workload.kind import Kind

if TYPE_CHECKING:
    from capplan.scenario import WorkloadSpec


class Diurnal(Kind):
    name = "diurnal"
    needs = ("base_rate", "peak_rate")
    windowed = True

    @classmethod
    def check(cls, spec: WorkloadSpec) -> None:
        super().check(spec)
        if spec.peak_rate < spec.base_rate:  # type: ignore[operator]
            raise ValueError("peak_rate must be >= base_rate")

    @property
    def base(self) -> float:
        return float(self.spec.base_rate)  # type: ignore[arg-type]

    @property
    def peak(self) -> float:
        return float(self.spec.peak_rate)  # type: ignore[arg-type]

    def arrivals(self, seed: int, replication: int, horizon: float) -> np.ndarray:
        rng = stream_rng(seed, replication, "arrivals")
        return thin(rng, self.peak, horizon, self.rate_at)

    def arrivals_between(self, rng: np.random.Generator, lo: float, hi: float) -> np.ndarray:
        return thin_between(rng, self.peak, lo, hi, self.rate_at)

    def rate_at(self, t: np.ndarray) -> np.ndarray:
        phase = 2 * np.pi * (np.asarray(t, dtype=float) - self.spec.peak_at_s) / self.spec.period_s
        return self.base + (self.peak - self.base) * (1 + np.cos(phase)) / 2

    def cumulative(self, t: np.ndarray, seed: int, replication: int) -> np.ndarray:
        """∫_0^t λ(u) du, closed form."""
        base, peak = self.base, self.peak
        w = 2 * np.pi / self.spec.period_s
        at = self.spec.peak_at_s
        sine = np.sin(w * (t - at)) - np.sin(w * (0 - at))
        return (base + peak) / 2 * t + (peak - base) / 2 * sine / w

    def expected_draws(self) -> float:
        return self.peak * self.horizon  # thinning draws candidates at the peak rate

    def scaled(self, factor: float) -> WorkloadSpec:
        return self.spec.model_copy(
            update={"base_rate": self.base * factor, "peak_rate": self.peak * factor}
        )

    def describe(self) -> str:
        s = self.spec
        return (
            f"diurnal sine from {s.base_rate:g} to {s.peak_rate:g} requests/s, period "
            f"{s.period_s:g} s, peak at {s.peak_at_s:g} s"
        )
