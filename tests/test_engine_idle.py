"""The control loop's jump over idle ticks (capplan.engine.idle) changes no result,
nor does a fixed pool's loop that keeps the timeline without deciding (capplan.engine.fixed).

Every generated endpoint (all four types, min_workers 0 and >= 1, the static pool,
pod failures, sparse traces: bursts separated by gaps longer than every settle
time) is run twice, once ticking every period (`skip_idle=False`) and once
jumping; requests, workers, summary, cost and the timeline as a step function
must be byte-identical. A trace of two requests three years apart must then run
in seconds, in little memory. Generated fixed pools (min_workers == max_workers,
pod failures included) are run with and without their policy, and must match byte
for byte, timeline rows included.
"""

from __future__ import annotations

import dataclasses
import math
import time
import tracemalloc
from typing import Any

import numpy as np
import pytest
from helpers import make_case, same_values, step_integral
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from capplan.engine import TIMELINE_COLUMNS, EngineConfig, EngineRecord, run_endpoint
from capplan.engine.idle import ticks_to_wake
from capplan.metrics import summarize
from capplan.policies import make_autoscaler
from capplan.policies.base import (
    POD_PENDING,
    POD_READY,
    AutoscalerParams,
    Bounds,
    Observation,
    PodView,
)
from capplan.policies.celery import CeleryAutoscaler
from capplan.policies.hpa import HpaAutoscaler
from capplan.policies.keda import KedaAutoscaler
from capplan.policies.static import StaticAutoscaler

SETTINGS = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
THREE_YEARS_S = 3 * 365 * 86400.0


@st.composite
def configs(draw: st.DrawFn) -> EngineConfig:
    etype = draw(st.sampled_from(["SYNC", "STREAMING", "ASYNC", "BATCH"]))
    max_w = draw(st.integers(1, 4))
    service: dict[str, Any] = {
        "kind": "latency",
        "distribution": "exponential",
        "mean_s": 1.0,
        "batching_alpha": draw(st.floats(0.0, 1.0)),
        "concurrency_limit": draw(st.integers(1, 4)),
        "cold_start": draw(st.integers(1, 90)),
        "node_provisioning_s": draw(st.sampled_from([0.0, 30.0])),
    }
    simulation = {
        "autoscaler": draw(st.sampled_from(["launch", "launch", "launch", "static"])),
        "task_expiry_s": draw(st.sampled_from([30.0, 86400.0])),
        "drain_grace_sync_s": draw(st.sampled_from([0.0, 5.0, 600.0])),
        "drain_grace_async_s": draw(st.sampled_from([0.0, 1800.0])),
    }
    case = make_case(
        etype,
        workload={"kind": "poisson", "rate": 1.0, "horizon_s": 100},
        service=service,
        simulation=simulation,
        min_workers=draw(st.integers(0, min(2, max_w))),
        max_workers=max_w,
        per_worker=draw(st.integers(1, 3)),
        readiness_delay_s=draw(st.integers(0, 30)),
        high_priority=draw(st.booleans()),
    )
    # [faults]: pod failures are SimPy events, so a jump stops at each one.
    mtbf = draw(st.sampled_from([math.inf, math.inf, 1800.0, 7200.0]))
    return dataclasses.replace(EngineConfig.from_case(case), worker_mtbf_s=mtbf)


@st.composite
def sparse_traces(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, float]:
    """Bursts of requests separated by gaps up to 1.5 h (past every settle time)."""
    arrivals: list[float] = []
    t = draw(st.floats(0.0, 600.0))
    for _ in range(draw(st.integers(1, 4))):
        t += draw(st.sampled_from([0.0, 30.0, 400.0, 1200.0, 5400.0])) + draw(st.floats(0, 60))
        for _ in range(draw(st.integers(1, 12))):
            t += draw(st.floats(0.0, 3.0))
            arrivals.append(t)
    work = draw(st.lists(st.floats(0.05, 40.0), min_size=len(arrivals), max_size=len(arrivals)))
    horizon = t + draw(st.sampled_from([1.0, 100.0, 2000.0]))
    return np.asarray(arrivals), np.asarray(work), horizon


def engine(cfg: EngineConfig, trace: tuple, skip_idle: bool, hold: bool = True) -> EngineRecord:
    arrival, work, horizon = trace
    first = work * 0.1 if cfg.endpoint_type == "STREAMING" else None
    rng, faults = np.random.default_rng(7), np.random.default_rng(11)
    return run_endpoint(
        cfg,
        arrival,
        work,
        first,
        horizon,
        rng,
        fault_rng=faults,
        skip_idle=skip_idle,
        hold_fixed=hold,
    )


def collapsed(timeline: np.ndarray) -> np.ndarray:
    """The timeline as a step function: rows equal to the previous one but for time dropped."""
    if len(timeline) == 0:
        return timeline
    same = np.all(timeline[1:, 1:] == timeline[:-1, 1:], axis=1)
    return timeline[np.concatenate([[True], ~same])]


def assert_same_run(a: EngineRecord, b: EngineRecord, streaming: bool) -> None:
    for field in dataclasses.fields(EngineRecord):
        x, y = getattr(a, field.name), getattr(b, field.name)
        if field.name == "timeline":
            continue
        if isinstance(x, dict):
            assert x.keys() == y.keys()
            for key in x:
                assert x[key].tobytes() == y[key].tobytes(), f"workers.{key}"
        elif isinstance(x, np.ndarray):
            assert x.dtype == y.dtype and x.tobytes() == y.tobytes(), field.name
        else:
            assert x == y, field.name
    # The jump drops only rows that repeat their predecessor: the same step function.
    assert collapsed(a.timeline).tobytes() == collapsed(b.timeline).tobytes()
    ta, tb = collapsed(a.timeline), collapsed(b.timeline)
    for col in range(1, len(TIMELINE_COLUMNS)):
        ia = step_integral(ta[:, 0], ta[:, col], 0.0, a.horizon)
        ib = step_integral(tb[:, 0], tb[:, col], 0.0, b.horizon)
        assert ia == ib, TIMELINE_COLUMNS[col]
        # The per-tick timeline integrates to the same value, up to float summation order.
        full = step_integral(b.timeline[:, 0], b.timeline[:, col], 0.0, b.horizon)
        assert full == pytest.approx(ib, rel=1e-12, abs=1e-9)
    for warmup in (0.0, a.horizon / 3):
        assert same_values(summarize(a, warmup, streaming), summarize(b, warmup, streaming))


@SETTINGS
@given(cfg=configs(), trace=sparse_traces())
def test_skipping_idle_ticks_changes_nothing(cfg: EngineConfig, trace: tuple) -> None:
    ticking = engine(cfg, trace, skip_idle=False)
    jumping = engine(cfg, trace, skip_idle=True)
    assert_same_run(jumping, ticking, cfg.endpoint_type == "STREAMING")


@pytest.mark.parametrize("etype", ["SYNC", "STREAMING", "ASYNC"])
@pytest.mark.parametrize("min_workers", [0, 1])
def test_long_gaps_are_actually_skipped(etype: str, min_workers: int) -> None:
    """Three 4-hour gaps: the jumping run keeps a fraction of the rows."""
    cfg = EngineConfig.from_case(
        make_case(
            etype,
            workload={"kind": "poisson", "rate": 1.0, "horizon_s": 100},
            min_workers=min_workers,
            max_workers=2,
        )
    )
    gap = 4 * 3600.0
    trace = (np.array([5.0, gap, 2 * gap, 3 * gap]), np.full(4, 2.0), 3 * gap + 50.0)
    ticking = engine(cfg, trace, skip_idle=False)
    jumping = engine(cfg, trace, skip_idle=True)
    assert_same_run(jumping, ticking, etype == "STREAMING")
    assert len(jumping.timeline) < len(ticking.timeline) / 5


@pytest.mark.parametrize("etype", ["SYNC", "ASYNC"])
@pytest.mark.parametrize("min_workers", [0, 1])
def test_two_requests_three_years_apart_run_in_seconds(etype: str, min_workers: int) -> None:
    cfg = EngineConfig.from_case(
        make_case(
            etype,
            workload={"kind": "poisson", "rate": 1.0, "horizon_s": 100},
            min_workers=min_workers,
            max_workers=3,
        )
    )
    trace = (np.array([10.0, 10.0 + THREE_YEARS_S]), np.ones(2), THREE_YEARS_S + 3600.0)
    tracemalloc.start()
    began = time.perf_counter()
    rec = engine(cfg, trace, skip_idle=True)
    elapsed = time.perf_counter() - began
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    # Ticking every period this is 6.3 million HPA syncs (> 300 s, ~900 MB of rows).
    assert elapsed < 5.0
    assert peak < 20e6
    assert len(rec.timeline) < 2000
    # Both meet the endpoint in the same idle state: same outcome (SYNC from zero: a 503
    # when the cold start outlasts the gateway timeout), the same wait with a warm pool.
    assert rec.status[0] == rec.status[1] != 0
    if min_workers:
        assert np.isclose(rec.end[0] - rec.arrival[0], rec.end[1] - rec.arrival[1])


@given(
    now=st.integers(0, 10**9),
    period=st.integers(1, 60),
    ahead=st.floats(0.0, 1e7, allow_nan=False),
)
def test_wake_tick_is_the_first_grid_tick_at_or_after_the_event(
    now: int, period: int, ahead: float
) -> None:
    event_at = now + ahead
    n = ticks_to_wake(float(now), float(period), event_at)
    assert n is not None and n >= 1
    assert now + n * period >= event_at
    assert n == 1 or now + (n - 1) * period < event_at


@given(first=st.integers(0, 10**6), n=st.integers(0, 500), due=st.integers(0, 10**6 + 600))
def test_keda_skip_keeps_the_hpa_sync_phase(first: int, n: int, due: int) -> None:
    """skip_ticks leaves the HPA sync clock where n polls of _hpa_due would."""
    params = AutoscalerParams()
    poll = params.keda_polling_interval_s
    a = KedaAutoscaler(Bounds(0, 3, 1), params)
    b = KedaAutoscaler(Bounds(0, 3, 1), params)
    a._next_hpa_sync = b._next_hpa_sync = float(due)
    a.skip_ticks(float(first), n)
    for j in range(n):
        b._hpa_due(first + j * poll)
    assert a._next_hpa_sync == b._next_hpa_sync


@settings(max_examples=8, deadline=None, derandomize=True, database=None)
@given(trace=sparse_traces(), min_workers=st.integers(0, 1), seed=st.integers(0, 2**16))
def test_llm_workers_skip_the_same_way(trace: tuple, min_workers: int, seed: int) -> None:
    """The serving-engine worker (service kind llm) under sparse traffic, with and without."""
    service = {"kind": "llm", "model": {"name": "Qwen/Qwen2-7B-Instruct"}, "cold_start": 30}
    case = make_case(
        "STREAMING",
        workload={"rate": 1},
        service=service,
        min_workers=min_workers,
        max_workers=2,
        per_worker=4,
    )
    cfg = EngineConfig.from_case(case)
    arrival, _, horizon = trace
    rng = np.random.default_rng(seed)
    tokens = (rng.integers(16, 2000, len(arrival)), rng.integers(1, 300, len(arrival)))
    zero = np.zeros(len(arrival))
    runs = [
        run_endpoint(
            cfg, arrival, zero + 1, zero, horizon, np.random.default_rng(3), tokens, skip_idle=s
        )
        for s in (True, False)
    ]
    assert_same_run(runs[0], runs[1], streaming=True)


def test_a_burst_right_after_a_jump_sees_the_same_metric_window() -> None:
    """The window after a jump interpolates from the last tick before the burst, as ticking does.

    Found by the property test: waking on the first tick after the burst left the
    metric's area linear over the whole skipped span, so the HPA scaled 15 s late.
    """
    case = make_case(
        "SYNC",
        workload={"kind": "poisson", "rate": 1.0, "horizon_s": 100},
        service={
            "kind": "latency",
            "distribution": "exponential",
            "mean_s": 1.0,
            "batching_alpha": 1.0,
            "concurrency_limit": 4,
            "cold_start": 1,
        },
        simulation={"drain_grace_sync_s": 0.0},
        min_workers=1,
        max_workers=2,
    )
    cfg = EngineConfig.from_case(case)
    arrival = np.array([5407.62] * 5 + [5437.62, 5467.62])
    trace = (arrival, np.array([3.0, 16, 15, 15, 8, 1, 1]), 5468.62)
    assert_same_run(engine(cfg, trace, True), engine(cfg, trace, False), streaming=False)


# ---------------------------------------------------------------- fixed pools
@st.composite
def fixed_configs(draw: st.DrawFn) -> EngineConfig:
    """A generated endpoint with min_workers == max_workers (0 included: KEDA), policy
    constants off their defaults (periods that are not whole seconds, behavior HPA) and
    pod failures often enough to hit a busy pool."""
    cfg = draw(configs())
    m = draw(st.integers(0, 3))
    params = AutoscalerParams(
        hpa_behavior_policies=draw(st.booleans()),
        celery_period_s=draw(st.sampled_from([3.0, 2.5])),
        keda_polling_interval_s=draw(st.sampled_from([5.0, 7.5])),
    )
    mtbf = draw(st.sampled_from([math.inf, 120.0, 900.0, 7200.0]))
    return dataclasses.replace(
        cfg, min_workers=m, max_workers=m, autoscaler_params=params, worker_mtbf_s=mtbf
    )


@st.composite
def busy_traces(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, float]:
    """Poisson arrivals for up to 10 minutes, from light load to overload."""
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    rate = draw(st.sampled_from([0.3, 1.0, 3.0]))
    arrival = np.cumsum(rng.exponential(1 / rate, int(rate * 600)))
    arrival = arrival[arrival < draw(st.sampled_from([60.0, 600.0]))]
    return (
        arrival,
        rng.exponential(1.0, len(arrival)),
        float(arrival[-1] if len(arrival) else 0) + 30,
    )


def assert_identical(a: EngineRecord, b: EngineRecord) -> None:
    """Every array of the two records byte for byte, the timeline's rows included."""
    for field in dataclasses.fields(EngineRecord):
        x, y = getattr(a, field.name), getattr(b, field.name)
        if isinstance(x, dict):
            assert x.keys() == y.keys()
            for key in x:
                assert x[key].tobytes() == y[key].tobytes(), f"workers.{key}"
        elif isinstance(x, np.ndarray):
            assert x.dtype == y.dtype and x.shape == y.shape, field.name
            assert x.tobytes() == y.tobytes(), field.name
        else:
            assert x == y, field.name


@SETTINGS
@given(cfg=fixed_configs(), trace=st.one_of(busy_traces(), sparse_traces()))
def test_a_fixed_pool_without_decisions_changes_nothing(cfg: EngineConfig, trace: tuple) -> None:
    streaming = cfg.endpoint_type == "STREAMING"
    for skip_idle in (True, False):
        deciding = engine(cfg, trace, skip_idle, hold=False)
        holding = engine(cfg, trace, skip_idle, hold=True)
        assert_identical(holding, deciding)
        for warmup in (0.0, deciding.horizon / 3):
            assert same_values(
                summarize(holding, warmup, streaming), summarize(deciding, warmup, streaming)
            )


def test_a_fixed_pool_with_failures_is_compared_while_a_replacement_starts() -> None:
    """The generated cases above do reach a failed pod's replacement starting (the pool
    then has a pending pod): here one is shown, so that test cannot pass vacuously."""
    cfg = EngineConfig.from_case(
        make_case(
            "ASYNC",
            workload={"kind": "poisson", "rate": 1.0, "horizon_s": 100},
            min_workers=2,
            max_workers=2,
        )
    )
    cfg = dataclasses.replace(cfg, worker_mtbf_s=300.0)
    rng = np.random.default_rng(5)
    arrival = np.cumsum(rng.exponential(1.0, 1500))
    trace = (arrival, rng.exponential(1.5, 1500), float(arrival[-1]) + 10)
    holding = engine(cfg, trace, True, hold=True)
    assert_identical(holding, engine(cfg, trace, True, hold=False))
    assert np.isfinite(holding.workers["failed_at"]).sum() >= 2
    starting = TIMELINE_COLUMNS.index("starting")
    assert holding.timeline[:, starting].max() >= 1


@pytest.mark.parametrize("etype", ["SYNC", "ASYNC"])
def test_a_fixed_pool_runs_no_policy(etype: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The fast path is taken: no policy is asked anything in a fixed pool."""

    def refuse(*_: object) -> int:
        raise AssertionError("a fixed pool consulted its policy")

    for policy in (CeleryAutoscaler, HpaAutoscaler, KedaAutoscaler):
        monkeypatch.setattr(policy, "decide", refuse)
    cfg = EngineConfig.from_case(
        make_case(etype, workload={"kind": "poisson", "rate": 1.0}, min_workers=2, max_workers=2)
    )
    trace = (np.arange(1.0, 200.0), np.ones(199), 300.0)
    rec = engine(cfg, trace, True)
    assert len(rec.timeline) >= 300 // 15  # the ticks' rows are still there
    with pytest.raises(AssertionError, match="consulted"):
        engine(cfg, trace, True, hold=False)


def policies(m: int, params: AutoscalerParams) -> list[Any]:
    bounds = Bounds(m, m, 2)
    launch = [make_autoscaler("launch", etype, bounds, params) for etype in ("SYNC", "ASYNC")]
    return [*launch, HpaAutoscaler(bounds, params), StaticAutoscaler(bounds, params)]


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(
    m=st.integers(0, 5),
    behavior=st.booleans(),
    steps=st.lists(
        st.tuples(
            st.integers(1, 400),  # seconds since the last tick (ticks are >= 1 s apart)
            st.integers(0, 40),  # in flight
            st.integers(0, 40),  # queued
            st.floats(0.0, 1e5),  # area growth
            st.integers(0, 5),  # how many of the m pods are pending (a replacement)
            st.booleans(),  # a request just arrived
        ),
        min_size=1,
        max_size=30,
    ),
)
def test_every_policy_decides_m_when_min_equals_max(
    m: int, behavior: bool, steps: list[tuple[int, int, int, float, int, bool]]
) -> None:
    """Point 1 of capplan.engine.fixed: whatever it observes, with min == max == m and the
    spec at m, every policy answers m."""
    for policy in policies(m, AutoscalerParams(hpa_behavior_policies=behavior)):
        now = area = 0.0
        last = None
        for gap, in_flight, queued, grow, pending, arrived in steps:
            now, area = now + gap, area + grow
            last = now if arrived else last
            pending = min(pending, m)
            pods = tuple(PodView(j, POD_PENDING, 0.0, math.inf) for j in range(pending))
            pods += tuple(PodView(j, POD_READY, area / max(m, 1), 0.0) for j in range(pending, m))
            obs = Observation(now, m, m - pending, in_flight, area, queued, last, pods)
            assert policy.decide(obs) == m
