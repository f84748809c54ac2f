"""``piecewise``: a step rate read from a ``time_s,rate`` CSV, by thinning."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from capplan.errors import CapplanError
from capplan.workload.draws import stream_rng, thin, thin_between
from capplan.workload.files import mtime, numeric_column, read_csv, readonly
from capplan.workload.kind import Kind

if TYPE_CHECKING:
    from capplan.scenario import WorkloadSpec

PIECEWISE_COLUMNS = ("time_s", "rate")


class Piecewise(Kind):
    name = "piecewise"
    needs = ("path",)
    windowed = True

    def step(self) -> StepRate:
        times, rates = load_piecewise(self.spec.path)  # type: ignore[arg-type]
        return StepRate(times, rates * self.spec.rate_multiplier)

    def arrivals(self, seed: int, replication: int, horizon: float) -> np.ndarray:
        step = self.step()
        rng = stream_rng(seed, replication, "arrivals")
        return thin(rng, step.max_before(horizon), horizon, step.at)

    def arrivals_between(self, rng: np.random.Generator, lo: float, hi: float) -> np.ndarray:
        step = self.step()
        return thin_between(rng, step.max_before(hi), lo, hi, step.at)

    def rate_at(self, t: np.ndarray) -> np.ndarray:
        return self.step().at(np.asarray(t, dtype=float))

    def cumulative(self, t: np.ndarray, seed: int, replication: int) -> np.ndarray:
        return self.step().cumulative(t)

    def expected_draws(self) -> float:
        return self.step().max_before(self.horizon) * self.horizon  # thinning candidates

    def scaled(self, factor: float) -> WorkloadSpec:
        return self.spec.model_copy(update={"rate_multiplier": self.spec.rate_multiplier * factor})

    def describe(self) -> str:
        s = self.spec
        return f"piecewise rate from {Path(str(s.path)).name} × {s.rate_multiplier:g}"


@dataclass(frozen=True, slots=True)
class StepRate:
    """A step function: rates[i] holds on [times[i], times[i+1]); 0 before times[0]."""

    times: np.ndarray
    rates: np.ndarray

    def at(self, t: np.ndarray) -> np.ndarray:
        idx = np.searchsorted(self.times, t, side="right") - 1
        return np.where(idx >= 0, self.rates[np.maximum(idx, 0)], 0.0)

    def max_before(self, horizon: float) -> float:
        active = self.rates[self.times < horizon]
        return float(active.max()) if active.size else 0.0

    def cumulative(self, t: np.ndarray) -> np.ndarray:
        seg = np.diff(self.times) * self.rates[:-1]
        area = np.concatenate(([0.0], np.cumsum(seg)))  # Λ at each step start
        idx = np.searchsorted(self.times, t, side="right") - 1
        safe = np.maximum(idx, 0)
        inside = area[safe] + self.rates[safe] * (t - self.times[safe])
        return np.where(idx >= 0, inside, 0.0)


def load_piecewise(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """(times, rates) of a `time_s,rate` CSV, checked; cached per (path, modification
    time), read-only because the arrays are shared."""
    p = Path(path)
    return _load_piecewise(str(p), mtime(p))


@functools.lru_cache(maxsize=32)
def _load_piecewise(path: str, mtime_ns: int) -> tuple[np.ndarray, np.ndarray]:
    """(times, rates) of a `time_s,rate` CSV; mtime_ns in the key so edits are re-read."""
    table = read_csv(path, PIECEWISE_COLUMNS)
    times = numeric_column(table, "time_s", path)
    rates = numeric_column(table, "rate", path)
    check_piecewise(times, rates, path)
    return readonly(times), readonly(rates)


def check_piecewise(times: np.ndarray, rates: np.ndarray, path: str) -> None:
    if times.size == 0:
        raise CapplanError(f"{path}: no rows; need at least one `time_s,rate` row")
    bad = np.flatnonzero(times < 0)
    if bad.size:
        raise CapplanError(f"{path}: row {bad[0] + 2}, column time_s: must be >= 0")
    bad = np.flatnonzero(rates < 0)
    if bad.size:
        raise CapplanError(f"{path}: row {bad[0] + 2}, column rate: must be >= 0")
    bad = np.flatnonzero(np.diff(times) <= 0)
    if bad.size:
        raise CapplanError(
            f"{path}: row {bad[0] + 3}, column time_s: must be greater than the row before"
        )
