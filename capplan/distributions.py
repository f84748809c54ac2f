"""Small distribution objects: validated up front, sampled with a passed-in rng.

Written in a scenario either as a bare number (deterministic) or as a table:
`{distribution = "lognormal", median = 2.0, p99 = 9.0}`. Each knows its
analytic mean so the analytic screen and the tests can use it.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, model_validator

# z-score of the 99th percentile of a standard normal: lognormal from (median, p99).
Z99 = 2.3263478740408408

DistName = Literal["deterministic", "exponential", "lognormal", "uniform"]


class Dist(BaseModel):
    """A non-negative random quantity (seconds, or tokens)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    distribution: DistName = "deterministic"
    value: float | None = None  # deterministic
    mean: float | None = None  # deterministic, exponential or lognormal (with p99)
    median: float | None = None  # lognormal
    p99: float | None = None  # lognormal
    low: float | None = None  # uniform
    high: float | None = None  # uniform

    @model_validator(mode="before")
    @classmethod
    def _bare_number(cls, data: object) -> object:
        if isinstance(data, int | float) and not isinstance(data, bool):
            return {"distribution": "deterministic", "value": data}
        return data

    @model_validator(mode="after")
    def _check(self) -> Dist:
        check = {
            "deterministic": self._check_deterministic,
            "exponential": self._check_exponential,
            "lognormal": self._check_lognormal,
            "uniform": self._check_uniform,
        }[self.distribution]
        check()
        return self

    def _check_deterministic(self) -> None:
        v = self.value if self.value is not None else self.mean
        if v is None or v < 0:
            raise ValueError("deterministic needs value >= 0")

    def _check_exponential(self) -> None:
        if self.mean is None or self.mean <= 0:
            raise ValueError("exponential needs mean > 0")

    def _check_lognormal(self) -> None:
        if self.p99 is None or (self.median is None and self.mean is None):
            raise ValueError("lognormal needs p99 and median (or mean)")
        centre = self.median if self.median is not None else self.mean
        if centre is None or centre <= 0 or self.p99 <= centre:
            raise ValueError("lognormal needs 0 < median < p99 (or 0 < mean < p99)")
        if self.median is None:
            self._mu_sigma()  # mean < p99 must give a real sigma

    def _check_uniform(self) -> None:
        if self.low is None or self.high is None or not 0 <= self.low <= self.high:
            raise ValueError("uniform needs 0 <= low <= high")

    def _mu_sigma(self) -> tuple[float, float]:
        """Parameters of log X ~ Normal(mu, sigma) matching (median|mean, p99)."""
        assert self.p99 is not None
        if self.median is not None:
            mu = math.log(self.median)
            return mu, (math.log(self.p99) - mu) / Z99
        assert self.mean is not None
        # mean = exp(mu + s²/2), p99 = exp(mu + z s) → s²/2 − z s + ln(p99/mean) = 0
        disc = Z99**2 - 2 * math.log(self.p99 / self.mean)
        if disc < 0:
            raise ValueError("lognormal: p99 is too close to the mean for a lognormal")
        sigma = Z99 - math.sqrt(disc)
        return math.log(self.mean) - sigma**2 / 2, sigma

    @property
    def expected(self) -> float:
        """The analytic mean."""
        if self.distribution == "deterministic":
            return float(self.value if self.value is not None else self.mean)  # type: ignore[arg-type]
        if self.distribution == "exponential":
            return float(self.mean)  # type: ignore[arg-type]
        if self.distribution == "uniform":
            return (float(self.low) + float(self.high)) / 2  # type: ignore[arg-type]
        mu, sigma = self._mu_sigma()
        return math.exp(mu + sigma**2 / 2)

    @property
    def scv(self) -> float:
        """Squared coefficient of variation (variance / mean²)."""
        if self.distribution == "deterministic":
            return 0.0
        if self.distribution == "exponential":
            return 1.0
        if self.distribution == "uniform":
            lo, hi = float(self.low), float(self.high)  # type: ignore[arg-type]
            return 0.0 if hi == lo else (hi - lo) ** 2 / 12 / self.expected**2
        _, sigma = self._mu_sigma()
        return math.exp(sigma**2) - 1

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """n independent draws as a float64 array."""
        if self.distribution == "deterministic":
            return np.full(n, self.expected)
        if self.distribution == "exponential":
            return rng.exponential(self.mean, n)
        if self.distribution == "uniform":
            return rng.uniform(self.low, self.high, n)
        mu, sigma = self._mu_sigma()
        return rng.lognormal(mu, sigma, n)

    def scaled(self, factor: float) -> Dist:
        """The same shape with every value multiplied by factor."""
        upd = {
            k: (v * factor if v is not None else None)
            for k, v in self.model_dump(exclude={"distribution"}).items()
        }
        return Dist(distribution=self.distribution, **upd)

    def describe(self) -> str:
        if self.distribution == "deterministic":
            return f"{self.expected:g}"
        if self.distribution == "exponential":
            return f"exponential(mean {self.mean:g})"
        if self.distribution == "uniform":
            return f"uniform({self.low:g}, {self.high:g})"
        centre = f"median {self.median:g}" if self.median is not None else f"mean {self.mean:g}"
        return f"lognormal({centre}, p99 {self.p99:g})"
