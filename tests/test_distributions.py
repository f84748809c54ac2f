"""Distributions: each class's analytic moments against its own samples, the
scenario spellings (bare numbers, unit-suffixed keys), and what is refused."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from capplan.distributions import (
    DISTRIBUTIONS,
    Deterministic,
    Dist,
    Distribution,
    Exponential,
    Lognormal,
    Uniform,
    parse_dist,
)
from capplan.scenario import ServiceSpec

N = 200_000
# Five standard errors: a correct implementation fails this with probability < 1e-6.
Z = 5.0

EXAMPLES: list[Distribution] = [
    Deterministic(value=2.5),
    Exponential(mean=3.0),
    Exponential(median=3.0),
    Lognormal(median=2.0, p99=9.0),
    Lognormal(mean=3.0, p99=12.0),
    Uniform(low=1.0, high=4.0),
]


@pytest.mark.parametrize("dist", EXAMPLES, ids=lambda d: d.describe())
def test_analytic_mean_and_variance_match_samples(dist: Distribution) -> None:
    x = dist.sample(np.random.default_rng(11), N)
    assert x.dtype == np.float64 and x.shape == (N,) and np.all(x >= 0)
    se_mean = math.sqrt(dist.variance / N)
    assert abs(x.mean() - dist.expected) <= Z * se_mean + 1e-12
    if dist.variance == 0:
        assert np.all(x == dist.expected)
        return
    # Var of the sample variance is (mu4 - sigma^4)/n; bound mu4 by the sample's own.
    centred = x - x.mean()
    se_var = math.sqrt(max(np.mean(centred**4) - x.var() ** 2, 0.0) / N)
    assert abs(x.var() - dist.variance) <= Z * se_var


def test_every_distribution_is_registered_under_its_name() -> None:
    for name, cls in DISTRIBUTIONS.items():
        assert cls.model_fields["distribution"].default == name


def test_exponential_median_is_mean_times_ln2() -> None:
    d = Exponential(median=2.0)
    assert d.expected == pytest.approx(2.0 / math.log(2))
    x = d.sample(np.random.default_rng(2), N)
    # The sample median's standard error for an exponential is 1/(2 f(m) sqrt(n)).
    f_at_median = 0.5 / d.expected
    assert abs(np.median(x) - 2.0) <= Z / (2 * f_at_median * math.sqrt(N))


def test_service_exponential_given_median_is_converted() -> None:
    """Issue 10: median_s on an exponential service used to be taken as its mean."""
    svc = ServiceSpec(distribution="exponential", median_s=1.0)
    assert svc.latency_dist().expected == pytest.approx(1 / math.log(2))
    assert ServiceSpec(distribution="exponential", mean_s=1.0).latency_dist().expected == 1.0


def test_service_accepts_uniform() -> None:
    svc = ServiceSpec(distribution="uniform", low_s=0.5, high_s=1.5)
    assert svc.latency_dist() == Uniform(low=0.5, high=1.5)
    assert svc.latency_dist().expected == 1.0


@pytest.mark.parametrize(
    "data, message",
    [
        ({"distribution": "uniform", "mean_s": 1.0}, "does not take mean_s"),
        ({"distribution": "exponential", "mean_s": 1.0, "p99_s": 3.0}, "does not take p99_s"),
        ({"distribution": "uniform", "low_s": 1.0}, "high"),
        ({"distribution": "lognormal", "median_s": 1.0, "mean_s": 1.2, "p99_s": 3}, "one of"),
    ],
)
def test_service_distribution_keys_are_checked(data: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ServiceSpec(**data)


@pytest.mark.parametrize(
    "plain, suffixed",
    [
        ({"value": 3}, {"value_s": 3}),
        ({"distribution": "exponential", "mean": 2}, {"distribution": "exponential", "mean_s": 2}),
        (
            {"distribution": "lognormal", "median": 2, "p99": 9},
            {"distribution": "lognormal", "median_s": 2, "p99_s": 9},
        ),
        (
            {"distribution": "uniform", "low": 1, "high": 2},
            {"distribution": "uniform", "low_s": 1, "high_s": 2},
        ),
    ],
)
def test_unit_suffixed_keys_mean_the_same(plain: dict, suffixed: dict) -> None:
    assert parse_dist(plain) == parse_dist(suffixed)


@pytest.mark.parametrize(
    "data",
    [
        {"distribution": "exponential", "mean": 1, "mean_s": 1},
        {"distribution": "exponential", "mean": math.inf},
        {"distribution": "lognormal", "median": 1, "p99": math.inf},
        {"distribution": "uniform", "low": 0, "high": math.nan},
        {"distribution": "deterministic", "value": math.inf},
        {"distribution": "exponential", "mean": 1, "p99": 4},
        {"distribution": "deterministic"},
        {"distribution": 3},
        True,
        "fast",
        math.inf,
    ],
)
def test_refused_with_one_line(data: object) -> None:
    with pytest.raises(ValueError) as info:
        parse_dist(data)
    assert "\n" not in str(info.value)


class _Holder(BaseModel):
    d: Dist | None = None


@settings(max_examples=40, deadline=None)
@given(
    st.sampled_from(EXAMPLES),
    st.floats(0.01, 100, allow_nan=False, allow_infinity=False),
)
def test_dump_round_trips_and_scaling_scales_the_moments(dist: Distribution, k: float) -> None:
    held = _Holder(d=dist)
    assert _Holder.model_validate(held.model_dump()).d == dist  # what --set relies on
    scaled = dist.scaled(k)
    assert type(scaled) is type(dist)
    assert scaled.expected == pytest.approx(k * dist.expected)
    assert scaled.variance == pytest.approx(k**2 * dist.variance)
