"""The analytic screen against queueing theory and its own definitions.

- erlang_c: the textbook M/M/c formula, the M/M/1 identities, monotone in c;
  erlang_c_servers returns the fewest servers that meet the wait.
- usable_concurrency: the largest k with s(k) × (the work's percentile) on
  every target, s(k) = 1 + α (k − 1).
- fluid_cost_per_hour: whole workers per minute at a given throughput; exact
  for a constant rate, monotone in throughput, within one worker of the
  fractional (fluid) need.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from helpers import NAME, REPO, make_template, scenario_dict
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from capplan.analytic import (
    GpuOption,
    erlang_c,
    erlang_c_servers,
    fluid_cost_per_hour,
    screen,
    usable_concurrency,
)
from capplan.errors import CapplanError
from capplan.scenario import Case, build_scenario
from capplan.service import slowdown


def make_case(
    slo: dict[str, float] | None = None,
    *,
    alpha: float = 0.1,
    endpoint_type: str = "SYNC",
    workload: dict[str, Any] | None = None,
    service: dict[str, Any] | None = None,
) -> Case:
    raw = scenario_dict(
        workload or {"kind": "poisson", "rate": 1.0, "horizon_s": 600},
        service
        or {
            "kind": "latency",
            "distribution": "exponential",
            "mean_s": 1.0,
            "batching_alpha": alpha,
        },
    )
    raw["slo"] = dict(slo or {})
    tpl = make_template(endpoint_type)
    return build_scenario(raw, base_dir=REPO, templates=(tpl,)).case(NAME)


# ---------------------------------------------------------------- Erlang C
def erlang_c_textbook(lam: float, mu: float, c: int) -> tuple[float, float]:
    """P(wait) = (a^c / c!) (c / (c − a)) / (Σ_{k<c} a^k / k! + (a^c / c!) (c / (c − a)))."""
    a = lam / mu
    tail = a**c / math.factorial(c) * c / (c - a)
    p = tail / (sum(a**k / math.factorial(k) for k in range(c)) + tail)
    return p, p / (c * mu - lam)


@pytest.mark.parametrize(
    ("lam", "mu", "c"),
    [(0.5, 1.0, 1), (3.2, 1.0, 4), (9.0, 2.0, 5), (40.0, 1.0, 48), (0.01, 0.5, 3)],
)
def test_erlang_c_matches_the_textbook_formula(lam: float, mu: float, c: int) -> None:
    p, wq = erlang_c(lam, mu, c)
    p_ref, wq_ref = erlang_c_textbook(lam, mu, c)
    assert p == pytest.approx(p_ref, rel=1e-9)
    assert wq == pytest.approx(wq_ref, rel=1e-9)


@given(st.floats(0.01, 50.0), st.floats(0.01, 0.99))
def test_mm1_identities(mu: float, rho: float) -> None:
    """One server: P(wait) = ρ and Wq = ρ / (μ − λ)."""
    lam = rho * mu
    p, wq = erlang_c(lam, mu, 1)
    assert p == pytest.approx(rho, rel=1e-9)
    assert wq == pytest.approx(rho / (mu - lam), rel=1e-9)


@pytest.mark.parametrize(("lam", "c"), [(2.0, 2), (2.0, 1), (5.0, 0), (7.5, 7)])
def test_unstable_or_no_servers_waits_forever(lam: float, c: int) -> None:
    assert erlang_c(lam, 1.0, c) == (1.0, math.inf)


@given(st.floats(0.1, 200.0), st.floats(0.1, 10.0))
def test_erlang_c_falls_as_servers_are_added(lam: float, mu: float) -> None:
    first = math.floor(lam / mu) + 1  # the fewest servers that are stable
    results = [erlang_c(lam, mu, c) for c in range(first, first + 15)]
    for (p0, w0), (p1, w1) in zip(results, results[1:], strict=False):
        assert 0.0 <= p1 <= p0 <= 1.0
        assert 0.0 <= w1 <= w0


@settings(max_examples=60)
@given(st.floats(0.1, 100.0), st.floats(0.1, 5.0), st.floats(1e-4, 100.0))
def test_erlang_c_servers_is_the_fewest_that_meet_the_wait(
    lam: float, mu: float, max_wait: float
) -> None:
    c = erlang_c_servers(lam, mu, max_wait)
    assert erlang_c(lam, mu, c)[1] <= max_wait
    assert c == 1 or erlang_c(lam, mu, c - 1)[1] > max_wait


def test_erlang_c_servers_stops_at_the_cap() -> None:
    assert erlang_c_servers(50.0, 1.0, 0.0, cap=60) == 60


# ---------------------------------------------------------------- usable concurrency
def test_no_batching_penalty_gives_the_limit() -> None:
    case = make_case({"latency_p99_s": 5.0}, alpha=0.0)
    total = np.full(100, 2.0)
    assert usable_concurrency(case, total, total / 2, 37) == 37.0


def test_no_latency_target_gives_the_limit() -> None:
    case = make_case({}, alpha=0.5)
    assert usable_concurrency(case, np.full(10, 2.0), np.full(10, 1.0), 12) == 12.0


@pytest.mark.parametrize("key", ["latency_p50_s", "latency_p95_s", "latency_p99_s"])
def test_a_target_below_the_work_itself_gives_zero(key: str) -> None:
    case = make_case({key: 1.99}, alpha=0.1)
    assert usable_concurrency(case, np.full(50, 2.0), np.full(50, 0.1), 200) == 0.0


@settings(max_examples=60)
@given(
    work=st.floats(0.05, 20.0),
    ratio=st.floats(1.0, 40.0),
    alpha=st.floats(0.01, 1.0),
    limit=st.integers(1, 300),
)
def test_the_batching_formula(work: float, ratio: float, alpha: float, limit: int) -> None:
    """k = floor(1 + (target / p99 − 1) / α), at most the limit: s(k)·p99 is on target,
    and s(k + 1)·p99 is not (unless the limit binds)."""
    target = ratio * work
    case = make_case({"latency_p99_s": target}, alpha=alpha)
    k = usable_concurrency(case, np.full(20, work), np.full(20, work / 4), limit)
    assert k == min(limit, math.floor(1 + (ratio - 1) / alpha + 1e-9))
    assert slowdown(k, alpha) * work <= target * (1 + 1e-9)
    if k < limit:
        assert slowdown(k + 1, alpha) * work > target * (1 - 1e-9)


def test_each_target_uses_its_own_percentile_and_the_tightest_wins() -> None:
    total = np.arange(1.0, 101.0)  # p50 = 50.5, p99 = 99.01 (numpy's linear rule)
    alpha = 0.1
    p50, p99 = np.percentile(total, 50), np.percentile(total, 99)
    only_p50 = make_case({"latency_p50_s": 3 * p50}, alpha=alpha)
    assert usable_concurrency(only_p50, total, total, 500) == 21  # 1 + (3 − 1) / 0.1
    both = make_case({"latency_p50_s": 3 * p50, "latency_p99_s": 1.5 * p99}, alpha=alpha)
    assert usable_concurrency(both, total, total, 500) == 6  # 1 + (1.5 − 1) / 0.1


def test_ttft_targets_bind_only_streaming_endpoints() -> None:
    slo = {"latency_p99_s": 100.0, "ttft_p99_s": 2.0}
    total, first = np.full(30, 10.0), np.full(30, 1.0)  # latency allows k = 91, TTFT k = 11
    streaming = make_case(slo, alpha=0.1, endpoint_type="STREAMING")
    # A TTFT target on a SYNC template is refused at load (slo.ttft_p99_s names it).
    sync = make_case({"latency_p99_s": 100.0}, alpha=0.1, endpoint_type="SYNC")
    assert usable_concurrency(streaming, total, first, 200) == 11
    assert usable_concurrency(sync, total, first, 200) == 91
    with pytest.raises(CapplanError, match=r"slo\.ttft_p99_s: .*not STREAMING"):
        make_case(slo, alpha=0.1, endpoint_type="SYNC")


# ---------------------------------------------------------------- fluid bound
@given(rate=st.floats(0.01, 50.0), thr=st.floats(0.05, 20.0), price=st.floats(0.1, 40.0))
def test_fluid_bound_of_a_constant_rate(rate: float, thr: float, price: float) -> None:
    x = rate / thr
    assume(abs(x - round(x)) > 1e-6)  # clear of the ceiling's edge
    case = make_case(workload={"kind": "poisson", "rate": rate, "horizon_s": 900, "warmup_s": 100})
    assert fluid_cost_per_hour(case, thr, price) == pytest.approx(math.ceil(x) * price, rel=1e-9)


DIURNAL = {"kind": "diurnal", "base_rate": 0.5, "peak_rate": 9.0, "period_s": 3600}


@given(st.floats(0.05, 30.0), st.floats(0.05, 30.0))
def test_fluid_bound_falls_as_throughput_rises(t1: float, t2: float) -> None:
    case = make_case(workload=DIURNAL)
    lo, hi = sorted((t1, t2))
    assert fluid_cost_per_hour(case, hi, 1.0) <= fluid_cost_per_hour(case, lo, 1.0)


@given(st.floats(0.05, 30.0))
def test_fluid_bound_is_within_one_worker_of_the_fluid_need(thr: float) -> None:
    """Over a whole period the mean rate is (base + peak) / 2: whole workers per minute
    cost at least that fluid need and less than one more worker."""
    case = make_case(workload=DIURNAL)
    need = (DIURNAL["base_rate"] + DIURNAL["peak_rate"]) / 2 / thr
    cost = fluid_cost_per_hour(case, thr, 2.0)
    assert need * 2.0 * (1 - 1e-9) <= cost < (need + 1) * 2.0


def test_screen_of_a_deterministic_service() -> None:
    """Every request takes exactly 2 s: p99 = 2, so a 7 s target allows s(k) <= 3.5;
    with α = 0.25 that is k = 11, each worker completing 11 / (3.5 × 2) requests/s."""
    case = make_case(
        {"latency_p99_s": 7.0},
        workload={"kind": "poisson", "rate": 6.0, "horizon_s": 600},
        service={
            "kind": "latency",
            "distribution": "deterministic",
            "mean_s": 2.0,
            "batching_alpha": 0.25,
        },
    )
    scr = screen(case, GpuOption("nvidia-ampere-a10", 1, 1.5))
    assert scr.feasible and scr.mean_work_s == pytest.approx(2.0)
    assert scr.k_max == 11
    assert scr.throughput == pytest.approx(11 / 7)
    assert scr.fluid_cost_per_hour == pytest.approx(math.ceil(6.0 / (11 / 7)) * 1.5)


def test_screen_when_the_work_alone_misses() -> None:
    case = make_case(
        {"latency_p99_s": 1.0},
        service={"kind": "latency", "distribution": "deterministic", "mean_s": 2.0},
    )
    scr = screen(case, GpuOption("nvidia-ampere-a10", 1, 1.5))
    assert not scr.feasible and scr.k_max == 0 and scr.fluid_cost_per_hour == math.inf


# ---------------------------------------------------------------- the static search's start
def test_workers_for_peak_is_the_larger_of_fluid_and_erlang_c() -> None:
    """A tight wait budget makes Erlang C ask for more slots than the fluid count."""
    from capplan.analytic import workers_for_peak

    rate, mean = 8.0, 1.0
    loose = make_case(
        {"latency_p99_s": 60.0},
        alpha=0.0,
        workload={"kind": "poisson", "rate": rate, "horizon_s": 600},
        service={"kind": "latency", "distribution": "deterministic", "mean_s": mean},
    )
    tight = make_case(
        {"latency_p99_s": mean + 0.05},
        alpha=0.0,
        workload={"kind": "poisson", "rate": rate, "horizon_s": 600},
        service={"kind": "latency", "distribution": "deterministic", "mean_s": mean},
    )
    option = GpuOption("nvidia-ampere-a10", 1, 1.0)
    k = 2
    fluid = math.ceil(rate * mean / k)  # alpha 0: each slot serves 1/mean
    assert workers_for_peak(loose, screen(loose, option), k) == max(
        fluid, math.ceil(erlang_c_servers(rate, 1 / mean, 60.0 - mean) / k)
    )
    slots = erlang_c_servers(rate, 1 / mean, 0.05)
    assert erlang_c(rate, 1 / mean, slots)[1] <= 0.05 < erlang_c(rate, 1 / mean, slots - 1)[1]
    assert workers_for_peak(tight, screen(tight, option), k) == math.ceil(slots / k) > fluid
