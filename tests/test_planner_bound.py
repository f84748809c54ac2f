"""The planner's lower bound is a bound: no simulated configuration that passes the
planner's SLO test costs less (the proof is in `capplan.planner.bound.required_work_rate`).

Generated scenarios cover every arrival kind (Poisson, MMPP, diurnal, a window of
the bundled Azure trace) and every endpoint type; configurations are drawn at
random, simulated with the planner's own replications, and judged by the
planner's own test.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from helpers import NAME, REPO, make_template, scenario_dict
from hypothesis import HealthCheck, event, given, settings, target
from hypothesis import strategies as st

from capplan.analytic import GpuOption
from capplan.planner.bound import (
    bound_limit,
    gpu_options,
    late_allowed,
    llm_least_work,
    proven_bound,
    required_work_rate,
    work_rate,
)
from capplan.planner.config import Config, confirm_replications, run_config
from capplan.planner.verdict import meets_slo
from capplan.scenario import build_scenario
from capplan.workload import Requests

A10 = "nvidia-ampere-a10"
TRACE = "scenarios/data/azure_llm_conv_2023.csv"

WORKLOADS = {
    "poisson": lambda rate, horizon: {"kind": "poisson", "rate": rate},
    "mmpp": lambda rate, horizon: {
        "kind": "mmpp",
        "rates": [rate / 4, rate * 2],
        "mean_durations_s": [120.0, 60.0],
    },
    "diurnal": lambda rate, horizon: {
        "kind": "diurnal",
        "base_rate": rate / 5,
        "peak_rate": rate * 2,
        "period_s": horizon,
        "peak_at_s": horizon / 2,
    },
    "trace": lambda rate, horizon: {
        "kind": "trace",
        "path": TRACE,
        "start_s": 600.0,
        "duration_s": horizon,
        "rate_multiplier": min(rate / 4, 1.0),
        "resample": "blocks",
        "block_s": 120.0,
    },
}


def build(kind: str, etype: str, rate: float, mean: float, alpha: float, slo: dict, cfg: dict):
    horizon = 900.0
    workload = WORKLOADS[kind](rate, horizon) | {"warmup_s": 60.0}
    if kind != "trace":
        workload["horizon_s"] = horizon
    raw = scenario_dict(
        workload,
        {"kind": "latency", "distribution": "exponential", "mean_s": mean, "batching_alpha": alpha},
    )
    raw["slo"] = slo
    raw["planner"] = {"gpu_types": [A10], "replications": 2}
    return build_scenario(raw, base_dir=REPO, templates=(make_template(etype, **cfg),))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    kind=st.sampled_from(sorted(WORKLOADS)),
    etype=st.sampled_from(["SYNC", "STREAMING", "ASYNC", "BATCH"]),
    rate=st.floats(0.3, 4.0),
    mean=st.floats(0.2, 2.0),
    alpha=st.floats(0.0, 0.5),
    slack=st.floats(1.5, 20.0),
    pct=st.sampled_from(["p50", "p95", "p99"]),
    error_rate=st.sampled_from([0.0, 0.01, 0.1]),
    reps=st.integers(1, 2),
    workers=st.tuples(st.integers(0, 3), st.integers(1, 6)),
    per_worker=st.sampled_from([1, 2, 4, 8]),
)
def test_nothing_that_meets_the_slo_costs_less_than_the_bound(
    kind: str,
    etype: str,
    rate: float,
    mean: float,
    alpha: float,
    slack: float,
    pct: str,
    error_rate: float,
    reps: int,
    workers: tuple[int, int],
    per_worker: int,
) -> None:
    lo, hi = min(workers), max(workers)
    slo = {f"latency_{pct}_s": slack * mean, "max_error_rate": error_rate}
    cfg: dict[str, Any] = {"min_workers": lo, "max_workers": hi, "per_worker": per_worker}
    scen = build(kind, etype, rate, mean, alpha, slo, cfg)
    case = scen.case(NAME)
    (option,) = gpu_options(case, [A10], change_count=False)
    need = required_work_rate(case, option, reps)
    bound = proven_bound(case, option, need, bound_limit(case, per_worker))
    assert bound is not None and bound >= 0
    runs = [
        run_config(case, Config(A10, 1, lo, hi, per_worker), r) for r in confirm_replications(reps)
    ]
    passed = meets_slo(runs, case.slo)
    event(f"meets the SLO: {passed}")
    if passed:
        cost = sum(r["cost_per_hour"] for r in runs) / reps
        target(bound / cost if cost > 0 else 0.0)  # steer towards configurations near the bound
        assert cost >= bound * (1 - 1e-9), (cost, bound, runs)


def test_the_bound_is_the_work_at_the_best_batching_on_a_steady_stream() -> None:
    """Poisson 2/s of 1 s exponential work on one GPU price, with a p50 target and no
    error budget: the bound is P × (work of the requests that must be on time) /
    (θ × T). With alpha 0 and the sync forwarder limit K, θ = K: no batching
    penalty, so K requests share a worker for free. The bound is at least the
    half of the work above the median that must be done."""
    scen = build("poisson", "SYNC", 2.0, 1.0, 0.0, {"latency_p50_s": 5.0}, {})
    case = scen.case(NAME)
    option = GpuOption(A10, 1, 1.0)
    need = required_work_rate(case, option, 1)
    limit = bound_limit(case)
    assert work_rate(case, limit) == limit
    # Half the requests (those at or below the median) carry at least their work:
    # with exponential work, the smaller half has mean 1 - ln 2 ≈ 0.31 s.
    assert need is not None and 0.1 * 2.0 < need < 2.0 * 1.2
    assert proven_bound(case, option, need, limit) == need / limit


def test_more_late_values_than_allowed_put_the_percentile_above_the_target() -> None:
    """The count the proof relies on: with more than late_allowed(n, p) of n values above
    x, numpy's linear percentile p is above x; with exactly that many at x + 0 (ties at the
    target), it is not, so the count is the largest that holds."""
    for n in (1, 2, 7, 100, 1001):
        for pct in (50.0, 95.0, 99.0):
            m = late_allowed(n, pct)
            if m < n:
                bad = np.array([0.0] * (n - m - 1) + [10.0] * (m + 1))
                assert np.percentile(bad, pct) > 1.0
            edge = np.array([0.0] * (n - m) + [1.0] * m)
            assert np.percentile(edge, pct) <= 1.0


# ---------------------------------------------------------------- the llm kind
def build_llm(etype: str, rate: float, decode: float, alpha: float, max_seqs: int, slo, cfg):
    """Chat-shaped traffic on a small serving engine (speeds on the template's A10)."""
    workload = {
        "kind": "poisson",
        "rate": rate,
        "horizon_s": 600.0,
        "warmup_s": 60.0,
        "context_tokens": {"distribution": "lognormal", "median": 600, "p99": 4000},
        "generated_tokens": {"distribution": "exponential", "mean": 120},
    }
    service = {
        "kind": "llm",
        "prefill_tokens_per_s": 8000.0,
        "decode_tokens_per_s": decode,
        "batching_alpha": alpha,
        "overhead_s": 0.05,
        "max_num_seqs": max_seqs,
        "kv_cache_tokens": 60_000,
        "cold_start": 30,
    }
    raw = scenario_dict(workload, service)
    raw["slo"] = slo
    raw["planner"] = {"gpu_types": [A10], "replications": 2}
    return build_scenario(raw, base_dir=REPO, templates=(make_template(etype, **cfg),))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    etype=st.sampled_from(["SYNC", "STREAMING", "ASYNC"]),
    rate=st.floats(0.2, 3.0),
    decode=st.floats(20.0, 80.0),
    alpha=st.floats(0.0, 0.3),
    max_seqs=st.sampled_from([1, 4, 16]),
    slack=st.floats(1.0, 30.0),
    pct=st.sampled_from(["p50", "p95", "p99"]),
    ttft=st.booleans(),
    error_rate=st.sampled_from([0.0, 0.05]),
    reps=st.integers(1, 2),
    workers=st.tuples(st.integers(0, 2), st.integers(1, 4)),
    per_worker=st.sampled_from([1, 4, 16]),
)
def test_nothing_on_the_llm_engine_that_meets_the_slo_costs_less_than_the_bound(
    etype: str,
    rate: float,
    decode: float,
    alpha: float,
    max_seqs: int,
    slack: float,
    pct: str,
    ttft: bool,
    error_rate: float,
    reps: int,
    workers: tuple[int, int],
    per_worker: int,
) -> None:
    """The llm kind's bound (`llm_least_work`): the same property on the serving-engine
    model, with latency and (STREAMING) TTFT targets."""
    lo, hi = min(workers), max(workers)
    what = "ttft" if ttft and etype == "STREAMING" else "latency"
    # a request alone: ~0.1 s of prefill, 120 tokens at `decode`
    scale = 0.1 if what == "ttft" else 120.0 / decode
    slo = {f"{what}_{pct}_s": slack * scale, "max_error_rate": error_rate}
    cfg: dict[str, Any] = {"min_workers": lo, "max_workers": hi, "per_worker": per_worker}
    case = build_llm(etype, rate, decode, alpha, max_seqs, slo, cfg).case(NAME)
    (option,) = gpu_options(case, [A10], change_count=False)
    need = required_work_rate(case, option, reps)
    bound = proven_bound(case, option, need, bound_limit(case, per_worker))
    assert bound is not None and bound >= 0
    runs = [
        run_config(case, Config(A10, 1, lo, hi, per_worker), r) for r in confirm_replications(reps)
    ]
    passed = meets_slo(runs, case.slo)
    event(f"meets the SLO: {passed}")
    if passed:
        cost = sum(r["cost_per_hour"] for r in runs) / reps
        target(bound / cost if cost > 0 else 0.0)
        assert cost >= bound * (1 - 1e-9), (cost, bound, runs)


def test_the_llm_least_work_is_prefill_plus_decode_at_the_best_batch() -> None:
    """Two requests on an A10 profile measured on the A10 itself: 800-token prompt at
    8000 tokens/s is 0.1 s, whatever the batch; 101 output tokens are the first (from
    the prefill) and 100 decoded, at best 16 per step of (1 + 0.05·15)/40 s."""
    case = build_llm("SYNC", 1.0, 40.0, 0.05, 16, {"latency_p99_s": 60.0}, {}).case(NAME)
    (option,) = gpu_options(case, [A10], change_count=False)
    reqs = Requests(np.array([0.0, 1.0]), np.array([800.0, 0.0]), np.array([101.0, 1.0]), 10.0, 0.0)
    work = llm_least_work(case, option, reqs)
    per_token = (1 + 0.05 * 15) / 40.0 / 16
    assert np.allclose(work.first_token, [0.1, 0.0])
    assert np.allclose(work.total, [0.1 + 100 * per_token, 0.0])


def test_the_llm_bound_is_positive_and_below_a_saturated_engine() -> None:
    """One static worker under steady load with a p50 target: the bound charges the
    requests that must be on time, so it is positive, and the worker costs no less."""
    slo = {"latency_p50_s": 120.0}
    cfg = {"min_workers": 1, "max_workers": 1, "per_worker": 16}
    case = build_llm("ASYNC", 0.5, 40.0, 0.05, 16, slo, cfg).case(NAME)
    (option,) = gpu_options(case, [A10], change_count=False)
    need = required_work_rate(case, option, 1)
    assert need is not None and 0.0 < need <= 1.0  # at most one worker's time per second
    run = run_config(case, Config(A10, 1, 1, 1, 16), 1)
    assert run["cost_per_hour"] >= proven_bound(case, option, need, bound_limit(case, 16))
