"""Each Launch rule the engine models, visible end to end in its records.

Expectations are computed in each test from the rule itself (the readiness
probe grid, the gateway's tenacity schedule, KEDA's key expiry and cooldown,
the celery autoscaler's formula and cooldown, the drain rule), never pinned.
Some tests drive `run_endpoint` with hand-made arrivals to make a rule exact.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest
from helpers import (
    NAME,
    make_case,
    make_scenario,
    max_overlap,
    retry_schedule,
    run,
    step_integral,
    write_piecewise,
)

from capplan.engine import TIMELINE_COLUMNS, EngineConfig, EngineRecord, run_endpoint
from capplan.engine.records import EXPIRED, OK, PENDING, REJECTED_429, REJECTED_503
from capplan.quantiles import within_sketch_bound
from capplan.scenario import Case
from capplan.simulate import simulate
from capplan.workload import generate

COL = {name: i for i, name in enumerate(TIMELINE_COLUMNS)}
HPA_SYNC_S, KEDA_POLL_S, CELERY_PERIOD_S, PROBE_PERIOD_S = 15.0, 5.0, 3.0, 5.0


def time_to_ready(cold_start: float, delay: float, period: float = PROBE_PERIOD_S) -> float:
    """Kubernetes readiness: first probe at the initial delay, then one every period."""
    if cold_start <= delay:
        return delay
    return delay + math.ceil((cold_start - delay) / period) * period


def engine(case: Case, arrival, work, horizon: float, first_token=None, **changes) -> EngineRecord:
    """run_endpoint on hand-made requests, with the case's config (plus changes)."""
    cfg = dataclasses.replace(EngineConfig.from_case(case), **changes)
    return run_endpoint(
        cfg,
        np.asarray(arrival, dtype=float),
        np.asarray(work, dtype=float),
        None if first_token is None else np.asarray(first_token, dtype=float),
        horizon,
        np.random.default_rng(0),
    )


def rows(rec: EngineRecord, column: str) -> tuple[np.ndarray, np.ndarray]:
    return rec.timeline[:, COL["time"]], rec.timeline[:, COL[column]]


def tick_rows(rec: EngineRecord, period: float) -> np.ndarray:
    """The last timeline row at each control tick (the control loop records after scaling)."""
    tl = rec.timeline
    t = tl[:, COL["time"]]
    on_tick = np.isclose(np.mod(t + 1e-9, period), 0.0, atol=1e-6)
    last_at_time = np.append(t[1:] != t[:-1], True)
    return tl[on_tick & last_at_time]


# ---------------------------------------------------------------- HPA scale-up and readiness
def step_case(tmp_path: Path, cold_start: float, delay: int, **kw) -> Case:
    """SYNC, min 1: 0.5 req/s, then a step to 8 req/s at t = 300 (4 workers' worth)."""
    csv = write_piecewise(tmp_path / "step.csv", [(0, 0.5), (300, 8.0)])
    service = {
        "kind": "latency",
        "distribution": "exponential",
        "mean_s": 1.0,
        "cold_start": cold_start,
        **kw.pop("service", {}),
    }
    return make_case(
        "SYNC",
        workload={"kind": "piecewise", "path": str(csv), "horizon_s": 900},
        service=service,
        base_dir=tmp_path,
        min_workers=1,
        max_workers=5,
        per_worker=2,
        readiness_delay_s=delay,
        **kw,
    )


@pytest.mark.parametrize(
    ("cold_start", "delay"), [(42.0, 30), (20.0, 30), (30.0, 30), (31.0, 30), (12.0, 0)]
)
def test_hpa_scale_up_waits_for_readiness(tmp_path: Path, cold_start: float, delay: int) -> None:
    case = step_case(tmp_path, cold_start, delay)
    _, rec = run(case)
    w = rec.workers
    cold = w["cold"]
    assert cold.sum() >= 2, "the load step should make the HPA add workers"
    # The HPA acts on its 15 s sync grid, and only after the step.
    assert np.allclose(np.mod(w["requested_at"][cold], HPA_SYNC_S), 0.0)
    # Never ready before the initial delay; on the probe grid after it.
    became_ready = cold & np.isfinite(w["ready_at"])
    took = w["ready_at"][became_ready] - w["requested_at"][became_ready]
    assert np.all(took >= delay)
    np.testing.assert_allclose(took, time_to_ready(cold_start, delay))
    # The timeline's ready count only grows once a launched pod has passed its readiness.
    t, ready = rows(rec, "ready")
    first_up = t[np.argmax(ready > 1)]
    assert ready.max() > 1
    assert first_up >= w["requested_at"][cold].min() + max(delay, cold_start)
    for ti, r in zip(t, ready, strict=True):
        assert r <= np.sum(w["ready_at"] <= ti)


@pytest.mark.parametrize("high_priority", [False, True])
def test_node_provisioning_delays_readiness_unless_high_priority(
    tmp_path: Path, high_priority: bool
) -> None:
    provisioning = 100.0
    case = step_case(
        tmp_path,
        42.0,
        30,
        service={"node_provisioning_s": provisioning},
        high_priority=high_priority,
    )
    _, rec = run(case)
    w = rec.workers
    became_ready = w["cold"] & np.isfinite(w["ready_at"])
    assert became_ready.sum() >= 1
    took = w["ready_at"][became_ready] - w["requested_at"][became_ready]
    expected = time_to_ready(42.0, 30) + (0.0 if high_priority else provisioning)
    np.testing.assert_allclose(took, expected)
    # The timeline shows pods waiting for a GPU node for exactly that long (none if high_priority).
    t, prov = rows(rec, "provisioning")
    cold = w["cold"]
    waited = np.minimum(np.minimum(w["requested_at"] + provisioning, w["stop_at"]), rec.horizon)
    expected_area = 0.0 if high_priority else float(np.sum(waited[cold] - w["requested_at"][cold]))
    assert step_integral(t, prov, 0.0, rec.horizon) == pytest.approx(expected_area)
    assert (prov.max() > 0) != high_priority


# ---------------------------------------------------------------- KEDA scale from zero
def keda_case(
    tmp_path: Path, steps: list[tuple[float, float]], horizon: float, cold_start: float
) -> Case:
    csv = write_piecewise(tmp_path / "traffic.csv", steps)
    return make_case(
        "SYNC",
        workload={"kind": "piecewise", "path": str(csv), "horizon_s": horizon},
        service={
            "kind": "latency",
            "distribution": "exponential",
            "mean_s": 1.0,
            "cold_start": cold_start,
        },
        base_dir=tmp_path,
        min_workers=0,
        max_workers=2,
        per_worker=4,
        readiness_delay_s=0,
    )


def expected_zero_time(rec: EngineRecord, since: float, until: float) -> float:
    """KEDA's rule for the traffic in [since, until): poll times are multiples of 5 s.

    Active while the Redis key lives (60 s after the last request) or while the
    2-minute concurrency window saw a request in service; scale to 0 at the
    first poll more than the 300 s cooldown after the last active poll.
    """
    mine = (rec.arrival >= since) & (rec.arrival < until)
    last_arrival = rec.arrival[mine].max()
    served = mine & ~np.isnan(rec.start)
    last_busy = np.nanmax(np.where(np.isnan(rec.end[served]), np.inf, rec.end[served]))
    t = KEDA_POLL_S * math.floor(last_arrival / KEDA_POLL_S)
    last_active = t
    while t < until + 1000:
        t += KEDA_POLL_S
        if t - last_arrival < 60.0 or last_busy > t - 120.0:
            last_active = t
    return KEDA_POLL_S * (math.floor((last_active + 300.0) / KEDA_POLL_S) + 1)


def test_keda_scale_from_zero_503s_then_back_to_zero(tmp_path: Path) -> None:
    # Two bursts separated by a long idle period: both meet an endpoint at zero.
    case = keda_case(tmp_path, [(0, 1.0), (200, 0.0), (1000, 1.0), (1200, 0.0)], 2000.0, 60.0)
    _, rec = run(case)
    w = rec.workers
    sched = retry_schedule()
    budget = sched[-1]  # elapsed time of the last attempt the gateway makes
    t, desired = rows(rec, "desired")
    for since, until in [(0.0, 200.0), (1000.0, 1200.0)]:
        burst = (rec.arrival >= since) & (rec.arrival < until)
        first = rec.arrival[burst][0]
        # KEDA activates 0 -> 1 at the first poll after the first request.
        woken = w["requested_at"] >= since
        wid = np.flatnonzero(woken)[0]
        assert w["requested_at"][wid] == KEDA_POLL_S * math.ceil(first / KEDA_POLL_S)
        ready_at = w["ready_at"][wid]
        assert ready_at - w["requested_at"][wid] == time_to_ready(60.0, 0)
        # Requests whose whole retry budget ends before the pod is ready get 503s.
        doomed = burst & (rec.arrival + budget < ready_at)
        assert doomed.sum() >= 5
        assert np.all(rec.status[doomed] == REJECTED_503)
        np.testing.assert_array_equal(rec.retries[doomed], len(sched) - 1)
        np.testing.assert_allclose(rec.end[doomed] - rec.arrival[doomed], budget)
        # ... and everything from the first ready pod on is served.
        assert np.all(rec.status[burst & (rec.arrival >= ready_at)] == OK)
        # Back to zero on KEDA's rule, about 360 s after the traffic ends.
        zero_at = expected_zero_time(rec, since, until)
        after = (t > since) & (desired == 0) & (t >= first)
        assert t[after][0] == zero_at
        last_arrival = rec.arrival[burst].max()
        assert 360.0 <= zero_at - last_arrival <= 120.0 + 300.0 + 2 * KEDA_POLL_S + 30.0
        assert np.all(desired[(t > first + KEDA_POLL_S) & (t < zero_at)] >= 1)
        assert np.all(w["stop_at"][woken & (w["requested_at"] < until)] <= zero_at)


def test_keda_short_cold_start_serves_first_requests_on_a_retry(tmp_path: Path) -> None:
    case = keda_case(tmp_path, [(0, 0.5), (100, 0.0)], 600.0, 4.0)
    _, rec = run(case)
    ready_at = rec.workers["ready_at"][0]
    assert ready_at - rec.arrival[0] <= KEDA_POLL_S + PROBE_PERIOD_S  # within the retry budget
    assert np.all(rec.status == OK)
    sched = np.array(retry_schedule())
    early = rec.arrival < ready_at
    assert early.any()
    # Started on the first attempt at or after the pod became ready.
    for i in np.flatnonzero(early):
        k = np.argmax(rec.arrival[i] + sched >= ready_at - 1e-9)
        assert rec.retries[i] == k
        assert rec.start[i] == pytest.approx(rec.arrival[i] + sched[k])


# ---------------------------------------------------------------- the gateway's retries
def test_retry_schedule_constants() -> None:
    """Launch's gateway: waits 1, 1.2, 1.44, … (base 1.2, min 1, max 5), 10 s budget, 8 retries."""
    sim = make_case("SYNC", workload={"kind": "poisson", "rate": 1.0}).simulation
    assert (sim.retry_backoff_base, sim.retry_min_wait_s, sim.retry_max_wait_s) == (1.2, 1.0, 5.0)
    assert (sim.max_retries, sim.gateway_timeout_s) == (8, 10.0)
    waits = np.diff(retry_schedule())
    np.testing.assert_allclose(waits[:3], [1.0, 1.2, 1.44])


@pytest.mark.parametrize(
    ("max_retries", "timeout"),
    [(8, 10.0), (8, 100.0), (12, 1000.0), (0, 10.0), (3, 2.5)],
)
def test_no_pods_means_503_after_the_retry_schedule(max_retries: int, timeout: float) -> None:
    case = make_case(
        "SYNC",
        workload={"kind": "poisson", "rate": 1.0, "horizon_s": 100},
        simulation={
            "autoscaler": "static",
            "max_retries": max_retries,
            "gateway_timeout_s": timeout,
        },
        min_workers=0,
        max_workers=1,
    )
    sched = retry_schedule(max_retries=max_retries, timeout=timeout)
    arrival = np.array([1.0, 7.5, 20.0])
    rec = engine(case, arrival, np.ones(3), 2000.0)
    assert np.all(rec.status == REJECTED_503)
    np.testing.assert_array_equal(rec.retries, len(sched) - 1)
    np.testing.assert_allclose(rec.end - arrival, sched[-1])
    assert np.all(np.isnan(rec.start))
    waits = np.diff(sched)
    if max_retries >= 10:
        assert waits.max() == 5.0  # the wait is capped at retry_max_wait_s


def test_full_pods_mean_429_and_retries_find_freed_capacity() -> None:
    case = make_case(
        "SYNC",
        workload={"kind": "poisson", "rate": 1.0, "horizon_s": 100},
        service={
            "kind": "latency",
            "distribution": "exponential",
            "mean_s": 1.0,
            "concurrency_limit": 1,
        },
        simulation={"autoscaler": "static"},
        min_workers=1,
        max_workers=1,
    )
    sched = np.array(retry_schedule())
    # Request 0 holds the only slot for 5 s; request 1 retries until it is free;
    # requests 2 and 3 meet a slot held for 500 s and give up with 429.
    arrival = np.array([0.0, 0.5, 10.0, 11.0, 700.0])
    work = np.array([5.0, 1.0, 500.0, 1.0, 1.0])
    rec = engine(case, arrival, work, 1000.0)
    k = int(np.argmax(0.5 + sched >= 5.0))
    assert rec.status[1] == OK and rec.retries[1] == k
    assert rec.start[1] == pytest.approx(0.5 + sched[k])
    assert list(rec.status[[0, 2, 3, 4]]) == [OK, OK, REJECTED_429, OK]
    assert rec.retries[3] == len(sched) - 1
    assert rec.end[3] - arrival[3] == pytest.approx(sched[-1])
    assert rec.retries[4] == 0 and rec.start[4] == arrival[4]


# ---------------------------------------------------------------- async queue
def async_case(per_worker: int, **kw) -> Case:
    workers = kw.pop("workers", 1)
    return make_case(
        "ASYNC",
        workload={
            "kind": "poisson",
            "rate": kw.pop("rate", 8.0),
            "horizon_s": kw.pop("horizon_s", 600),
        },
        service={
            "kind": "latency",
            "distribution": "exponential",
            "mean_s": 2.0,
            "batching_alpha": kw.pop("alpha", 0.0),
        },
        simulation={"autoscaler": "static", **kw.pop("simulation", {})},
        min_workers=workers,
        max_workers=workers,
        per_worker=per_worker,
        **kw,
    )


@pytest.mark.parametrize(("per_worker", "workers"), [(1, 1), (3, 2), (30, 1)])
def test_async_fifo_and_concurrency_cap(per_worker: int, workers: int) -> None:
    limit = min(per_worker, 20)  # Launch: an async worker runs min(per_worker, 20) tasks
    capacity = limit * workers / 2.0  # tasks/s at α = 0, mean service 2 s
    _, rec = run(async_case(per_worker, workers=workers, rate=1.5 * capacity))
    started = ~np.isnan(rec.start)
    assert (~started).sum() > 0, "the queue should be backed up"
    # FIFO: tasks start in arrival order (arrival is sorted).
    assert np.all(np.diff(rec.start[started]) >= 0)
    # Nobody waits while a slot is free: a later task never starts before an earlier one.
    assert np.isnan(rec.start[np.flatnonzero(started)[-1] + 1 :]).all()
    for wid in range(workers):
        mine = started & (rec.worker == wid)
        end = np.where(np.isnan(rec.end[mine]), rec.horizon, rec.end[mine])
        assert max_overlap(rec.start[mine], end) == limit
        assert rec.workers["max_k"][wid] == limit


def test_async_tasks_expire_after_task_expiry() -> None:
    expiry = 30.0
    _, rec = run(async_case(2, rate=3.0, simulation={"task_expiry_s": expiry}))
    expired = rec.status == EXPIRED
    assert expired.sum() > 10
    assert np.all(np.isnan(rec.start[expired]))
    np.testing.assert_allclose(rec.end[expired], rec.arrival[expired] + expiry)
    started = ~np.isnan(rec.start)
    assert np.all(rec.start[started] - rec.arrival[started] < expiry)
    # Still queued at the horizon but not yet expired: in flight, not expired.
    queued = rec.status == PENDING
    assert np.all(rec.horizon - rec.arrival[queued & ~started] < expiry)


# ---------------------------------------------------------------- celery autoscaler
def celery_wanted_rule(rec: EngineRecord, per_worker: int, lo: int, hi: int) -> None:
    """At every tick: desired = clamp(max over (t - 600, t] of ceil((queued + in_flight) / pw))."""
    ticks = tick_rows(rec, CELERY_PERIOD_S)
    t = ticks[:, COL["time"]]
    wanted = np.ceil((ticks[:, COL["queued"]] + ticks[:, COL["in_flight"]]) / per_worker)
    for i, now in enumerate(t):
        window = (t > now - 600.0) & (t <= now)
        expected = min(max(wanted[window].max(), lo), hi)
        assert ticks[i, COL["desired"]] == expected, f"tick {now}"


def test_celery_scales_to_backlog_and_holds_600_s() -> None:
    case = make_case(
        "ASYNC",
        workload={"kind": "poisson", "rate": 1.0, "horizon_s": 100},
        service={"kind": "latency", "distribution": "exponential", "mean_s": 1.0, "cold_start": 31},
        min_workers=0,
        max_workers=10,
        per_worker=2,
    )
    n, work = 12, 20.0
    arrival = 1.0 + 0.01 * np.arange(n)
    rec = engine(case, arrival, np.full(n, work), 1500.0)
    ticks = tick_rows(rec, CELERY_PERIOD_S)
    t, desired = ticks[:, COL["time"]], ticks[:, COL["desired"]]
    peak = math.ceil(n / 2)
    assert desired[t == 3.0][0] == peak  # one step: no tolerance, no rate limit
    assert np.all(rec.status == OK)
    # Held for 600 s after the last tick that still wanted the peak, then back to min (0).
    wanted = np.ceil((ticks[:, COL["queued"]] + ticks[:, COL["in_flight"]]) / 2)
    last_peak = t[wanted == peak].max()
    assert last_peak < rec.end.max()
    drop = t[(t > last_peak) & (desired < peak)][0]
    assert drop == pytest.approx(last_peak + 600.0)
    assert desired[-1] == 0
    celery_wanted_rule(rec, 2, 0, 10)


def test_celery_rule_holds_on_bursty_traffic() -> None:
    case = make_case(
        "BATCH",
        workload={
            "kind": "mmpp",
            "rates": [0.2, 6.0],
            "mean_durations_s": [400.0, 120.0],
            "horizon_s": 3000,
        },
        service={"kind": "latency", "distribution": "exponential", "mean_s": 3.0, "cold_start": 25},
        seed=9,
        min_workers=1,
        max_workers=6,
        per_worker=3,
        readiness_delay_s=10,
    )
    _, rec = run(case)
    _, desired = rows(rec, "desired")
    assert desired.max() > 2 and desired.min() == 1
    celery_wanted_rule(rec, 3, 1, 6)


# ---------------------------------------------------------------- draining and cost
def drain_case(tmp_path: Path, grace: float) -> Case:
    # ~30 requests in flight (the HPA wants 8 workers; max 4), then ~9 (it wants 3): the
    # worker removed on the way down is still serving a share of them.
    csv = write_piecewise(tmp_path / "drop.csv", [(0, 1.0), (400, 0.3)])
    return make_case(
        "SYNC",
        workload={"kind": "piecewise", "path": str(csv), "horizon_s": 1500, "warmup_s": 100},
        service={
            "kind": "latency",
            "distribution": "deterministic",
            "mean_s": 30.0,
            "cold_start": 20,
        },
        simulation={"drain_grace_sync_s": grace},
        base_dir=tmp_path,
        min_workers=1,
        max_workers=4,
        per_worker=4,
        readiness_delay_s=0,
    )


def test_scale_down_drains_in_flight_requests(tmp_path: Path) -> None:
    case = drain_case(tmp_path, 600.0)
    _, rec = run(case)
    w = rec.workers
    drained = np.flatnonzero(np.isfinite(w["drain_at"]))
    assert len(drained) >= 1
    busy_at_drain = 0
    for wid in drained:
        mine = rec.worker == wid
        assert np.all(rec.start[mine] <= w["drain_at"][wid]), "a draining worker took a request"
        assert np.all(rec.status[mine] == OK)  # every in-flight request finished
        last_end = max(rec.end[mine].max(initial=-np.inf), w["drain_at"][wid])
        assert w["stop_at"][wid] == last_end  # stops as soon as it is idle
        busy_at_drain += w["stop_at"][wid] > w["drain_at"][wid]
    assert busy_at_drain >= 1, "no worker was draining with requests in flight"
    _, draining = rows(rec, "draining")
    assert draining.max() >= 1


def test_drain_grace_period_ends_sync_requests_with_503(tmp_path: Path) -> None:
    grace = 5.0
    case = drain_case(tmp_path, grace)
    _, rec = run(case)
    w = rec.workers
    killed = (rec.status == REJECTED_503) & ~np.isnan(rec.start)
    assert killed.sum() >= 1
    wid = rec.worker[killed]
    np.testing.assert_allclose(rec.end[killed], w["drain_at"][wid] + grace)
    np.testing.assert_allclose(w["stop_at"][wid], w["drain_at"][wid] + grace)


def test_drain_grace_period_requeues_async_tasks() -> None:
    case = make_case(
        "ASYNC",
        workload={"kind": "poisson", "rate": 1.0, "horizon_s": 100},
        service={"kind": "latency", "distribution": "exponential", "mean_s": 1.0, "cold_start": 31},
        simulation={"drain_grace_async_s": 5.0},
        min_workers=0,
        max_workers=2,
        per_worker=1,
    )
    # Two tasks on two fresh workers; when the short one ends the pool shrinks (after the
    # 600 s cooldown) and drains the most recently ready worker, which holds the long one.
    arrival, work = np.array([0.5, 0.6]), np.array([100.5, 1000.0])
    rec = engine(case, arrival, work, 2500.0)
    w = rec.workers
    short_end = rec.end[0]
    drain = CELERY_PERIOD_S * math.floor(short_end / CELERY_PERIOD_S) + 600.0
    assert w["drain_at"][1] == pytest.approx(drain)
    assert w["stop_at"][1] == pytest.approx(drain + 5.0)
    # The long task went back on the queue and ran again, from the start, on worker 0.
    assert rec.status[1] == OK and rec.worker[1] == 0
    assert rec.start[1] == pytest.approx(drain + 5.0)
    assert rec.end[1] == pytest.approx(drain + 5.0 + work[1])


def test_worker_hours_are_billed_from_request_to_stop(tmp_path: Path) -> None:
    case = drain_case(tmp_path, 600.0)
    summary, rec = run(case)
    w = rec.workers
    warmup, horizon = 100.0, rec.horizon
    begin = np.maximum(w["requested_at"], warmup)
    end = np.minimum(w["stop_at"], horizon)
    seconds = float(np.sum(np.clip(end - begin, 0.0, None)))
    assert summary["worker_hours"] == pytest.approx(seconds / 3600.0)
    tl = rec.timeline
    billed = (
        tl[:, COL["provisioning"]]
        + tl[:, COL["starting"]]
        + tl[:, COL["ready"]]
        + tl[:, COL["draining"]]
    )
    assert summary["worker_hours"] == pytest.approx(
        step_integral(tl[:, 0], billed, warmup, horizon) / 3600.0
    )
    assert summary["cost_usd"] == pytest.approx(
        summary["worker_hours"] * EngineConfig.from_case(case).cost_per_hour
    )
    # Billing includes the cold start: a launched worker costs before it serves.
    cold = np.flatnonzero(w["cold"])
    assert len(cold) and np.all(w["ready_at"][cold] > w["requested_at"][cold])


def test_static_pool_costs_its_size_times_the_window() -> None:
    case = make_case(
        "SYNC",
        workload={"kind": "poisson", "rate": 1.0, "horizon_s": 1000, "warmup_s": 100},
        simulation={"autoscaler": "static"},
        min_workers=2,
        max_workers=3,
    )
    summary, _ = run(case)
    assert summary["worker_hours"] == pytest.approx(2 * 900 / 3600)
    assert summary["mean_workers"] == pytest.approx(2.0)
    per_hour = EngineConfig.from_case(case).cost_per_hour
    assert summary["cost_usd"] == pytest.approx(2 * 900 / 3600 * per_hour)


# ---------------------------------------------------------------- streaming
def test_streaming_tokens_first_token_is_wait_plus_prefill() -> None:
    prefill, decode, overhead = 4000.0, 50.0, 0.05
    case = make_case(
        "STREAMING",
        workload={
            "kind": "poisson",
            "rate": 0.3,
            "horizon_s": 1200,
            "context_tokens": {"distribution": "uniform", "low": 100, "high": 3000},
            "generated_tokens": {"distribution": "uniform", "low": 1, "high": 200},
        },
        service={
            "kind": "tokens",
            "prefill_tokens_per_s": prefill,
            "decode_tokens_per_s": decode,
            "overhead_s": overhead,
            "concurrency_limit": 1,
        },
        simulation={"autoscaler": "static"},
        min_workers=1,
        max_workers=1,
    )
    summary, rec = run(case)
    reqs = generate(case.workload, case.seed, 0)
    ok = rec.status == OK
    assert ok.sum() > 100
    # Concurrency 1: each request ran alone, so its first token came after
    # overhead + prompt / prefill rate + one decode step of service.
    prefill_s = overhead + reqs.context_tokens / prefill + 1.0 / decode
    total_s = overhead + reqs.context_tokens / prefill + reqs.generated_tokens / decode
    np.testing.assert_allclose((rec.first_token - rec.start)[ok], prefill_s[ok], rtol=1e-9)
    np.testing.assert_allclose((rec.end - rec.start)[ok], total_s[ok], rtol=1e-9)
    ttft = (rec.first_token - rec.arrival)[ok]
    wait = (rec.start - rec.arrival)[ok]
    np.testing.assert_allclose(ttft, wait + prefill_s[ok], rtol=1e-9)
    # The summary's TTFT: these, plus requests still open at the horizon (mid-answer: their
    # first token; not started yet: censored at the horizon).
    pending = rec.status == PENDING
    has_ft = ~np.isnan(rec.first_token)
    all_ttft = np.concatenate(
        [
            ttft,
            (rec.first_token - rec.arrival)[pending & has_ft],
            rec.horizon - rec.arrival[pending & ~has_ft],
        ]
    )
    assert within_sketch_bound(summary["ttft_p50_s"], np.percentile(all_ttft, 50))
    assert summary["ttft_p99_s"] <= summary["latency_p99_s"]


def test_streaming_first_token_between_start_and_end_under_batching() -> None:
    scen = make_scenario(
        "STREAMING",
        workload={"kind": "poisson", "rate": 3.0, "horizon_s": 600},
        service={
            "kind": "tokens",
            "prefill_tokens_per_s": 3000.0,
            "decode_tokens_per_s": 40.0,
            "batching_alpha": 0.1,
        },
        min_workers=1,
        max_workers=3,
        per_worker=8,
        readiness_delay_s=10,
    )
    (res,) = simulate(scen, NAME)
    df = res.requests
    assert {"first_token", "start", "end"} <= set(df.columns)
    ok = df[df["status"] == "ok"]
    assert len(ok) > 100
    assert (ok["first_token"] >= ok["start"]).all() and (ok["first_token"] <= ok["end"]).all()
    assert not math.isnan(res.summary["ttft_p95_s"])
    # With others in service a request's first token is slower than alone.
    reqs = generate(scen.workloads[NAME], scen.seed, 0)
    alone = reqs.context_tokens / 3000.0 + 1 / 40.0
    got = (ok["first_token"] - ok["start"]).to_numpy()
    assert np.all(got >= alone[ok.index.to_numpy()] * (1 - 1e-9))
    assert np.any(got > alone[ok.index.to_numpy()] * 1.05)


def test_streaming_requests_in_flight_at_the_horizon_keep_their_first_token() -> None:
    """Censoring, not dropping: a request still decoding at the horizon has a known TTFT;
    one still without a first token counts as at least (horizon − arrival)."""
    case = make_case(
        "STREAMING",
        workload={
            "kind": "poisson",
            "rate": 1.0,
            "horizon_s": 300,
            "context_tokens": {"distribution": "uniform", "low": 100, "high": 2000},
            "generated_tokens": {"distribution": "uniform", "low": 500, "high": 3000},
        },
        service={
            "kind": "tokens",
            "prefill_tokens_per_s": 4000.0,
            "decode_tokens_per_s": 40.0,
            "concurrency_limit": 1000,
            "batching_alpha": 0.05,
        },
        simulation={"autoscaler": "static"},
        min_workers=1,
        max_workers=1,
    )
    summary, rec = run(case)
    pending = rec.status == PENDING
    has_ft = ~np.isnan(rec.first_token)
    assert (pending & has_ft).sum() >= 10, "long answers should still be decoding at the horizon"
    known = has_ft & ((rec.status == OK) | pending)
    ttft = np.concatenate(
        [(rec.first_token - rec.arrival)[known], rec.horizon - rec.arrival[pending & ~has_ft]]
    )
    latency = np.concatenate(
        [(rec.end - rec.arrival)[rec.status == OK], rec.horizon - rec.arrival[pending]]
    )
    for p in (50, 95, 99):
        assert within_sketch_bound(summary[f"ttft_p{p}_s"], np.percentile(ttft, p))
        assert within_sketch_bound(summary[f"latency_p{p}_s"], np.percentile(latency, p))
    assert summary["ttft_mean_s"] == pytest.approx(ttft.mean())


def test_the_hpa_metric_drops_a_deleted_pod_at_once() -> None:
    """Kubernetes ignores pods being deleted: a draining pod leaves the HPA's per-pod
    metric at once, its earlier work included; KEDA's Prometheus sum (in_flight_area)
    still holds every pod's request-seconds."""
    from capplan.engine import EngineConfig
    from capplan.engine.clock import MergedEnvironment
    from capplan.engine.endpoint import Endpoint
    from capplan.policies.base import Bounds
    from capplan.policies.hpa import HpaAutoscaler
    from capplan.policies.replica_calc import PodGroups

    case = make_case(
        "SYNC",
        workload={"kind": "poisson", "rate": 1.0, "horizon_s": 100},
        min_workers=2,
        max_workers=2,
        per_worker=1,
    )
    cfg = EngineConfig.from_case(case)
    env = MergedEnvironment()
    arrival = np.zeros(2)
    endpoint = Endpoint(
        env, cfg, arrival, np.full(2, 100.0), None, cfg.cold_start, np.random.default_rng(0)
    )
    hpa = HpaAutoscaler(Bounds(1, 2, 1))
    endpoint.boot()
    endpoint.arrive(0)
    endpoint.arrive(1)  # least request: one on each pod
    env._now = 10.0
    before = endpoint.observe()
    hpa.observe(before)
    assert before.pods is not None and sorted(p.id for p in before.pods) == [0, 1]
    assert hpa.pod_groups(before) == PodGroups((1000, 1000), 0, 0)  # 1 request each, in milli
    endpoint.scale_to(1)  # the newest ready pod drains, still holding its request
    env._now = 20.0
    after = endpoint.observe()
    hpa.observe(after)
    assert after.in_flight == 2  # both requests are still being served ...
    assert after.pods is not None and [p.id for p in after.pods] == [0]
    assert hpa.pod_groups(after) == PodGroups((1000,), 0, 0)  # ... only pod 0 is measured
    assert after.in_flight_area == pytest.approx(2 * 20.0)


def test_a_starting_pod_is_pending_then_running_unready_then_ready() -> None:
    """Node provisioning and the image pull are k8s phase Pending; the model load up to
    the readiness probe is a running pod that is not ready (no metric: "missing")."""
    from capplan.engine import EngineConfig
    from capplan.engine.clock import MergedEnvironment
    from capplan.engine.endpoint import Endpoint
    from capplan.policies.base import POD_PENDING, POD_READY, POD_STARTING

    case = make_case(
        "SYNC",
        workload={"kind": "poisson", "rate": 1.0, "horizon_s": 100},
        service={
            "mean_s": 1.0,
            "node_provisioning_s": 100.0,
            "image_pull_s": 30.0,
            "cold_start": {"distribution": "deterministic", "value": 60.0},
        },
        min_workers=1,
        max_workers=2,
    )
    cfg = EngineConfig.from_case(case)
    env = MergedEnvironment()
    endpoint = Endpoint(
        env, cfg, np.zeros(0), np.zeros(0), None, cfg.cold_start, np.random.default_rng(0)
    )
    endpoint.boot()
    endpoint.scale_to(2)
    ready_at = 100.0 + endpoint._time_to_ready(60.0)  # first probe after the 60 s load
    assert ready_at > 150.0
    phases = {}
    for t in (50.0, 115.0, 150.0, ready_at + 1.0):
        env.run(until=t)
        pods = endpoint.observe().pods
        assert pods is not None
        phases[t] = {p.id: p.phase for p in pods}
    assert [phases[t][1] for t in sorted(phases)] == [
        POD_PENDING,  # waiting for a node
        POD_PENDING,  # pulling the image
        POD_STARTING,  # loading the model
        POD_READY,
    ]
    assert all(phases[t][0] == POD_READY for t in phases)
