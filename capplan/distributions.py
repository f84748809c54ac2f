"""Distributions as small classes: each validates its parameters, samples with a
passed-in rng and knows its analytic mean and variance (Ciw's `dists` style).

Written in a scenario either as a bare number (deterministic) or as a table:
`{distribution = "lognormal", median = 2.0, p99 = 9.0}`. Every parameter may
also carry the unit suffix the service table uses (`mean_s`, `median_s`,
`p99_s`, `low_s`, `high_s`, `value_s`); the two spellings mean the same.

`parse_dist` is the factory; `Dist` is the annotation pydantic models use for
a field holding one (it runs the factory, so error messages name the table's
own keys). Adding a distribution: one class here and one entry in
`DISTRIBUTIONS`.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SerializeAsAny,
    ValidationError,
    model_validator,
)

# z-score of the 99th percentile of a standard normal: lognormal from (median, p99).
Z99 = 2.3263478740408408
# Parameters that may be written with the service table's unit suffix.
_SUFFIXED = ("value", "mean", "median", "p99", "low", "high")


class Distribution(BaseModel):
    """A non-negative random quantity (seconds, or tokens). Subclasses are the
    distributions; all numbers are finite (inf and nan are refused)."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    distribution: str

    @model_validator(mode="before")
    @classmethod
    def _unit_suffix(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        out = dict(data)
        for name in _SUFFIXED:
            if f"{name}_s" in out:
                if name in out:
                    raise ValueError(f"give {name} or {name}_s, not both")
                out[name] = out.pop(f"{name}_s")
        return out

    @property
    def expected(self) -> float:
        """The analytic mean."""
        raise NotImplementedError

    @property
    def variance(self) -> float:
        """The analytic variance."""
        raise NotImplementedError

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """n independent draws as a float64 array."""
        raise NotImplementedError

    def scaled(self, factor: float) -> Distribution:
        """The same shape with every value multiplied by factor."""
        data = self.model_dump(exclude_none=True)
        for key, value in data.items():
            if key != "distribution":
                data[key] = value * factor
        return type(self).model_validate(data)

    def describe(self) -> str:
        raise NotImplementedError


def _one_of(owner: str, **given: float | None) -> float:
    """The single parameter given among alternatives (e.g. median or mean)."""
    names = [k for k, v in given.items() if v is not None]
    if len(names) != 1:
        raise ValueError(f"{owner} needs exactly one of {' or '.join(given)}")
    return float(given[names[0]])  # type: ignore[arg-type]


class Deterministic(Distribution):
    """Always the same value (its mean and median)."""

    distribution: Literal["deterministic"] = "deterministic"
    value: float | None = Field(None, ge=0)
    mean: float | None = Field(None, ge=0)
    median: float | None = Field(None, ge=0)

    @model_validator(mode="after")
    def _check(self) -> Deterministic:
        _one_of("deterministic", value=self.value, mean=self.mean, median=self.median)
        return self

    @property
    def expected(self) -> float:
        return _one_of("deterministic", value=self.value, mean=self.mean, median=self.median)

    @property
    def variance(self) -> float:
        return 0.0

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return np.full(n, self.expected)

    def describe(self) -> str:
        return f"{self.expected:g}"


class Exponential(Distribution):
    """Memoryless; given its mean, or its median (= mean · ln 2)."""

    distribution: Literal["exponential"] = "exponential"
    mean: float | None = Field(None, gt=0)
    median: float | None = Field(None, gt=0)

    @model_validator(mode="after")
    def _check(self) -> Exponential:
        _one_of("exponential", mean=self.mean, median=self.median)
        return self

    @property
    def expected(self) -> float:
        # P(X <= m) = 1 − exp(−m/mean) = 1/2  ⇔  mean = m / ln 2.
        return float(self.mean) if self.mean is not None else float(self.median) / math.log(2)  # type: ignore[arg-type]

    @property
    def variance(self) -> float:
        return self.expected**2

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.exponential(self.expected, n)

    def describe(self) -> str:
        if self.mean is None:
            return f"exponential(median {self.median:g})"
        return f"exponential(mean {self.mean:g})"


class Lognormal(Distribution):
    """log X ~ Normal(mu, sigma), fixed by its p99 and its median (or its mean)."""

    distribution: Literal["lognormal"] = "lognormal"
    median: float | None = Field(None, gt=0)
    mean: float | None = Field(None, gt=0)
    p99: float = Field(gt=0)

    @model_validator(mode="after")
    def _check(self) -> Lognormal:
        centre = _one_of("lognormal", median=self.median, mean=self.mean)
        if self.p99 <= centre:
            raise ValueError("lognormal needs 0 < median < p99 (or 0 < mean < p99)")
        self.mu_sigma()  # mean < p99 must also give a real sigma
        return self

    def mu_sigma(self) -> tuple[float, float]:
        """Parameters of log X ~ Normal(mu, sigma) matching (median|mean, p99)."""
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
        mu, sigma = self.mu_sigma()
        return math.exp(mu + sigma**2 / 2)

    @property
    def variance(self) -> float:
        mu, sigma = self.mu_sigma()
        return math.expm1(sigma**2) * math.exp(2 * mu + sigma**2)

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        mu, sigma = self.mu_sigma()
        return rng.lognormal(mu, sigma, n)

    def describe(self) -> str:
        centre = f"median {self.median:g}" if self.median is not None else f"mean {self.mean:g}"
        return f"lognormal({centre}, p99 {self.p99:g})"


class Uniform(Distribution):
    """Uniform on [low, high]."""

    distribution: Literal["uniform"] = "uniform"
    low: float = Field(ge=0)
    high: float = Field(ge=0)

    @model_validator(mode="after")
    def _check(self) -> Uniform:
        if self.low > self.high:
            raise ValueError("uniform needs 0 <= low <= high")
        return self

    @property
    def expected(self) -> float:
        return (self.low + self.high) / 2

    @property
    def variance(self) -> float:
        return (self.high - self.low) ** 2 / 12

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.uniform(self.low, self.high, n)

    def describe(self) -> str:
        return f"uniform({self.low:g}, {self.high:g})"


DISTRIBUTIONS: dict[str, type[Distribution]] = {
    "deterministic": Deterministic,
    "exponential": Exponential,
    "lognormal": Lognormal,
    "uniform": Uniform,
}
NAMES: tuple[str, ...] = tuple(DISTRIBUTIONS)
DistName = Literal["deterministic", "exponential", "lognormal", "uniform"]


def parse_dist(data: object) -> Distribution:
    """A distribution from a bare number or a `{distribution = …, …}` table.

    Raises ValueError with one line naming the offending key.
    """
    if isinstance(data, Distribution):
        return data
    if isinstance(data, int | float) and not isinstance(data, bool):
        data = {"distribution": "deterministic", "value": data}
    if not isinstance(data, dict):
        raise ValueError(
            'must be a number or a table like {distribution = "exponential", mean = 2}'
        )
    name = data.get("distribution", "deterministic")
    cls = DISTRIBUTIONS.get(name) if isinstance(name, str) else None
    if cls is None:
        raise ValueError(f"distribution: must be one of {', '.join(NAMES)}; got {name!r}")
    try:
        return cls.model_validate(data)
    except ValidationError as exc:
        raise ValueError(_one_line(exc)) from None


def _one_line(exc: ValidationError) -> str:
    first = exc.errors()[0]
    msg = first["msg"].removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        msg = "unknown key"
    loc = ".".join(str(x) for x in first["loc"])
    return f"{loc}: {msg}" if loc else msg


# The annotation for a pydantic field holding a distribution. SerializeAsAny: dump
# the subclass's own fields (a dump then re-validates, as `--set` overrides do).
Dist = Annotated[SerializeAsAny[Distribution], BeforeValidator(parse_dist)]

__all__ = [
    "DISTRIBUTIONS",
    "Deterministic",
    "Dist",
    "Distribution",
    "Exponential",
    "Lognormal",
    "Uniform",
    "Z99",
    "parse_dist",
]
