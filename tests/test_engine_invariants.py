"""Engine invariants over generated templates and workloads (hypothesis).

Every generated endpoint (SYNC, STREAMING, ASYNC, BATCH; small worker bounds,
small sync concurrency limits so 429s happen, rates that sometimes overload,
short cold starts so scaling happens) must keep the rules that hold whatever
the load: workers within [min_workers, max_workers], every request in exactly
one state, no worker above its concurrency limit, nothing served before a worker
is ready or after it drains, billing equal to the workers' lifetimes, and results
that depend only on the seed. Some examples add `[faults]` (pods that fail and are
replaced): every rule above still holds, and no request is lost from the books.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
from helpers import (
    make_case,
    max_overlap,
    retry_schedule,
    run,
    same_values,
    service_intervals,
    step_integral,
)
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from capplan.engine import TIMELINE_COLUMNS, EngineConfig, EngineRecord
from capplan.engine.records import EXPIRED, OK, PENDING, REJECTED_429, REJECTED_503
from capplan.launch import ASYNC_TYPES
from capplan.scenario import Case

COL = {name: i for i, name in enumerate(TIMELINE_COLUMNS)}
SETTINGS = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,  # a fixed example sequence: the suite is deterministic
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


# ---------------------------------------------------------------- strategies
@st.composite
def cases(draw: st.DrawFn) -> Case:
    etype = draw(st.sampled_from(["SYNC", "STREAMING", "ASYNC", "BATCH"]))
    max_w = draw(st.integers(1, 6))
    min_w = draw(st.integers(0, min(3, max_w)))
    horizon = draw(st.integers(300, 1500))
    if draw(st.booleans()):
        workload: dict[str, Any] = {"kind": "poisson", "rate": draw(st.floats(0.2, 8.0))}
    else:
        workload = {
            "kind": "mmpp",
            # quiet, then bursts: scale-up, then scale-down (and KEDA's scale to zero)
            "rates": [draw(st.floats(0.0, 1.0)), draw(st.floats(2.0, 15.0))],
            "mean_durations_s": [draw(st.floats(100.0, 700.0)), draw(st.floats(30.0, 300.0))],
        }
    workload["horizon_s"] = horizon
    service: dict[str, Any] = {
        "batching_alpha": draw(st.floats(0.0, 1.0)),
        "concurrency_limit": draw(st.integers(2, 10)),
        "cold_start": draw(
            st.one_of(
                st.integers(5, 60),
                st.builds(
                    lambda lo, w: {"distribution": "uniform", "low": lo, "high": lo + w},
                    st.integers(1, 30),
                    st.integers(0, 40),
                ),
            )
        ),
        "node_provisioning_s": draw(st.sampled_from([0.0, 0.0, 20.0, 45.0])),
    }
    if etype == "STREAMING" and draw(st.booleans()):
        service |= {
            "kind": "tokens",
            "prefill_tokens_per_s": draw(st.floats(2000.0, 10000.0)),
            "decode_tokens_per_s": draw(st.floats(40.0, 300.0)),
            "overhead_s": draw(st.sampled_from([0.0, 0.05])),
        }
        workload["generated_tokens"] = {"distribution": "uniform", "low": 1, "high": 120}
    else:
        dist = draw(st.sampled_from(["exponential", "deterministic", "lognormal"]))
        mean = draw(st.floats(0.2, 3.0))
        service |= {"kind": "latency", "distribution": dist}
        if dist == "lognormal":
            service |= {"median_s": mean, "p99_s": mean * draw(st.floats(1.5, 6.0))}
        else:
            service["mean_s"] = mean
    simulation = {
        "autoscaler": draw(st.sampled_from(["launch", "launch", "launch", "static"])),
        "task_expiry_s": draw(st.sampled_from([30.0, 200.0, 86400.0])),
        "drain_grace_sync_s": draw(st.sampled_from([0.0, 5.0, 600.0])),
        "drain_grace_async_s": draw(st.sampled_from([0.0, 5.0, 1800.0])),
    }
    mtbf_h = draw(st.sampled_from([None, None, 0.02, 0.1]))
    return make_case(
        etype,
        workload=workload,
        service=service,
        simulation=simulation,
        faults=None if mtbf_h is None else {"worker_mtbf_h": mtbf_h},
        seed=draw(st.integers(0, 2**16)),
        min_workers=min_w,
        max_workers=max_w,
        per_worker=draw(st.integers(1, 8)),
        readiness_delay_s=draw(st.integers(0, 40)),
        high_priority=draw(st.booleans()),
    )


# ---------------------------------------------------------------- the checks
def check_worker_bounds(case: Case, rec: EngineRecord) -> None:
    ec = case.template.endpoint_config
    lo, hi = ec.min_workers, ec.max_workers
    tl = rec.timeline
    assert len(tl) > 0
    assert np.all(np.diff(tl[:, COL["time"]]) >= 0)
    assert np.all((tl[:, COL["time"]] >= 0) & (tl[:, COL["time"]] <= rec.horizon))
    desired = tl[:, COL["desired"]]
    live = tl[:, COL["provisioning"]] + tl[:, COL["starting"]] + tl[:, COL["ready"]]
    assert np.all((desired >= lo) & (desired <= hi)), "desired outside [min, max]"
    assert np.all((live >= lo) & (live <= hi)), "non-draining workers outside [min, max]"
    # A ReplicaSet makes the non-draining pods match the spec at once.
    np.testing.assert_array_equal(live, desired)
    # Requests are only in service on ready or draining workers.
    busy_cap = (tl[:, COL["ready"]] + tl[:, COL["draining"]]) * rec.concurrency_limit
    assert np.all(tl[:, COL["in_flight"]] <= busy_cap)

    # From the workers table: non-draining, non-stopped pods at every instant.
    w = rec.workers
    np.testing.assert_array_equal(w["id"], np.arange(len(w["id"])))
    begin = w["requested_at"]
    end = np.minimum(w["drain_at"], w["stop_at"])
    assert np.all(begin <= end)
    times = np.concatenate([begin, end])
    steps = np.concatenate([np.ones(len(begin)), -np.ones(len(end))])
    keep = np.isfinite(times)
    times, steps = times[keep], steps[keep]
    uniq, inverse = np.unique(times, return_inverse=True)
    count_after = np.cumsum(np.bincount(inverse, weights=steps, minlength=len(uniq)))
    assert count_after.max(initial=0) <= hi
    inside = uniq < rec.horizon
    assert np.all(count_after[inside] >= lo)
    # Lifecycle order: requested <= ready <= drain <= stop (inf when it never happened).
    assert np.all(w["ready_at"] >= w["requested_at"])
    started = np.isfinite(w["ready_at"])
    assert np.all(w["drain_at"][started] >= w["ready_at"][started])
    assert np.all(w["stop_at"] >= w["requested_at"])
    assert np.all(
        w["stop_at"][np.isfinite(w["drain_at"])] >= w["drain_at"][np.isfinite(w["drain_at"])]
    )
    assert np.all(~w["cold"][: ec.min_workers]) and np.all(w["cold"][ec.min_workers :])


def check_statuses(case: Case, cfg: EngineConfig, summary: dict, rec: EngineRecord) -> None:
    n = len(rec.arrival)
    status = rec.status
    assert np.all((status >= PENDING) & (status <= EXPIRED)), "unknown status code"
    counts = {
        s: int(np.sum(status == s)) for s in (PENDING, OK, REJECTED_429, REJECTED_503, EXPIRED)
    }
    assert sum(counts.values()) == n  # exactly one status each
    assert summary["requests"] == n  # no warm-up in these cases
    assert summary["completed"] == counts[OK]
    assert summary["rejected"] == counts[REJECTED_429] + counts[REJECTED_503]
    assert summary["expired"] == counts[EXPIRED]
    assert summary["in_flight_at_end"] == counts[PENDING]
    total = summary["completed"] + summary["rejected"] + summary["expired"]
    assert summary["requests"] == total + summary["in_flight_at_end"]

    arrival, start, end = rec.arrival, rec.start, rec.end
    assert np.all(np.diff(arrival) >= 0) and np.all(arrival < rec.horizon)
    ok = status == OK
    assert not np.isnan(start[ok]).any() and not np.isnan(end[ok]).any()
    assert np.all(arrival[ok] <= start[ok]) and np.all(start[ok] <= end[ok])
    assert np.all(end[ok] <= rec.horizon)
    assert np.all(np.isnan(end[status == PENDING]))
    started = ~np.isnan(start)
    assert np.all(rec.worker[started] >= 0) and np.all(rec.worker[~started] == -1)
    assert np.all(start[started] >= arrival[started])
    if cfg.endpoint_type == "STREAMING":
        ft = rec.first_token[ok]
        assert np.all((start[ok] <= ft) & (ft <= end[ok])), "first token outside [start, end]"

    rejected = (status == REJECTED_429) | (status == REJECTED_503)
    if cfg.is_async:
        assert not rejected.any() and np.all(rec.retries == 0)
        exp = status == EXPIRED
        assert np.all(np.isnan(start[exp]))
        np.testing.assert_allclose(end[exp], arrival[exp] + cfg.task_expiry_s)
        assert np.all(arrival[exp] + cfg.task_expiry_s <= rec.horizon)
        # Nothing starts after waiting out its expiry.
        assert np.all(start[started] - arrival[started] < cfg.task_expiry_s)
    else:
        assert not (status == EXPIRED).any()
        if summary["worker_failures"] == 0:
            check_retries(cfg, rec, rejected, started)
        else:
            # A request lost with its pod re-enters the gateway's retries from that moment,
            # so the schedule from arrival no longer applies; the budget still does.
            assert np.all(rec.retries <= cfg.max_retries)
    check_failures(summary, rec)


def check_failures(summary: dict, rec: EngineRecord) -> None:
    """Failed pods stop when they fail, and each ready one is replaced by a cold start."""
    w = rec.workers
    failed = np.isfinite(w["failed_at"])
    assert summary["worker_failures"] == int(failed.sum())
    np.testing.assert_array_equal(w["stop_at"][failed], w["failed_at"][failed])
    assert np.all(w["failed_at"][failed] >= w["ready_at"][failed])
    assert summary["cold_starts"] >= int(np.sum(failed & ~np.isfinite(w["drain_at"])))


def check_retries(
    cfg: EngineConfig, rec: EngineRecord, rejected: np.ndarray, started: np.ndarray
) -> None:
    """Every sync request's attempts follow the gateway's retry schedule."""
    sched = np.array(
        retry_schedule(
            cfg.max_retries,
            cfg.retry_backoff_base,
            cfg.retry_min_wait_s,
            cfg.retry_max_wait_s,
            cfg.gateway_timeout_s,
        )
    )
    retries = rec.retries.astype(int)
    assert np.all(retries <= len(sched) - 1)
    # A request that started did so on attempt retries + 1.
    np.testing.assert_allclose(
        rec.start[started] - rec.arrival[started], sched[retries[started]], rtol=0, atol=1e-6
    )
    # A rejection happens on the last attempt the schedule allows.
    gave_up = rejected & ~started
    np.testing.assert_array_equal(retries[gave_up], len(sched) - 1)
    np.testing.assert_allclose(
        rec.end[gave_up] - rec.arrival[gave_up], sched[-1], rtol=0, atol=1e-6
    )
    # 503 when no pod is ready, 429 when some are (all at their limit).
    w = rec.workers
    for i in np.flatnonzero(gave_up):
        t = rec.end[i]
        ready_strict = np.sum((w["ready_at"] < t) & (t < w["drain_at"]))
        ready_loose = np.sum((w["ready_at"] <= t) & (t <= w["drain_at"]))
        if rec.status[i] == REJECTED_503:
            assert ready_strict == 0, f"503 at {t} with a ready pod"
        else:
            assert ready_loose > 0, f"429 at {t} without a ready pod"


def check_concurrency_and_readiness(case: Case, cfg: EngineConfig, rec: EngineRecord) -> None:
    limit = rec.concurrency_limit
    if cfg.is_async:
        assert limit == min(case.template.endpoint_config.per_worker, 20)
    else:
        assert limit == case.service.concurrency_limit
    w = rec.workers
    assert np.all(w["max_k"] <= limit)
    worker, begin, end = service_intervals(rec)
    for wid in np.unique(worker):
        mine = worker == wid
        assert max_overlap(begin[mine], end[mine]) <= min(limit, int(w["max_k"][wid]))
    # Nothing served before its worker is ready, nor started after it began draining.
    assert np.all(begin >= w["ready_at"][worker])
    assert np.all(begin <= w["drain_at"][worker])
    assert np.all(end <= np.minimum(w["stop_at"][worker], rec.horizon))


def check_billing(summary: dict, rec: EngineRecord) -> None:
    """worker_hours is the time every pod was requested and not yet stopped."""
    tl = rec.timeline
    billed = (
        tl[:, COL["provisioning"]]
        + tl[:, COL["starting"]]
        + tl[:, COL["ready"]]
        + tl[:, COL["draining"]]
    )
    seconds = step_integral(tl[:, COL["time"]], billed, 0.0, rec.horizon)
    assert math.isclose(summary["worker_hours"] * 3600.0, seconds, rel_tol=1e-9, abs_tol=1e-6)
    assert math.isclose(
        summary["cost_usd"], summary["worker_hours"] * rec.cost_per_hour, rel_tol=1e-12
    )


# ---------------------------------------------------------------- tests
@SETTINGS
@given(cases())
def test_invariants_hold_for_any_endpoint(case: Case) -> None:
    summary, rec = run(case)
    cfg = EngineConfig.from_case(case)
    check_worker_bounds(case, rec)
    check_statuses(case, cfg, summary, rec)
    check_concurrency_and_readiness(case, cfg, rec)
    check_billing(summary, rec)
    _label(case, summary, rec)


def _label(case: Case, summary: dict, rec: EngineRecord) -> None:
    """What the example exercised (shown by --hypothesis-show-statistics)."""
    event(f"type {case.template.effective_endpoint_type}")
    for key in ("rejected_429", "rejected_503", "expired", "in_flight_at_end"):
        if summary[key]:
            event(key)
    if rec.workers["cold"].any():
        event("cold starts")
    if np.isfinite(rec.workers["drain_at"]).any():
        event("scale-down")
    if np.any(rec.workers["stop_at"] > rec.workers["drain_at"]):
        event("drained with requests in flight")
    if rec.workers["max_k"].max(initial=0) == rec.concurrency_limit:
        event("a worker at its concurrency limit")
    if summary["worker_failures"]:
        event("worker failures")


def _assert_same(a: EngineRecord, b: EngineRecord) -> None:
    for f in dataclasses.fields(EngineRecord):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if isinstance(x, dict):
            assert x.keys() == y.keys()
            for k in x:
                np.testing.assert_array_equal(x[k], y[k])
        elif isinstance(x, np.ndarray):
            np.testing.assert_array_equal(x, y)
        else:
            assert x == y


@settings(SETTINGS, max_examples=10)
@given(cases())
def test_same_seed_same_results_other_seed_other_arrivals(case: Case) -> None:
    s1, r1 = run(case)
    s2, r2 = run(case)
    _assert_same(r1, r2)
    assert same_values(s1, s2)
    assume(len(r1.arrival) > 5)
    _, other_seed = run(dataclasses.replace(case, seed=case.seed + 1))
    _, other_rep = run(case, replication=1)
    for other in (other_seed, other_rep):
        n = min(len(other.arrival), len(r1.arrival))
        assert len(other.arrival) != len(r1.arrival) or not np.array_equal(
            other.arrival[:n], r1.arrival[:n]
        )


def test_invariants_under_heavy_sync_overload() -> None:
    """A fixed worst case: scaling up against 10x overload with tiny pod limits."""
    case = make_case(
        "SYNC",
        workload={"kind": "poisson", "rate": 20.0, "horizon_s": 900},
        service={
            "kind": "latency",
            "distribution": "exponential",
            "mean_s": 2.0,
            "concurrency_limit": 2,
            "batching_alpha": 0.5,
            "cold_start": 20,
        },
        simulation={"drain_grace_sync_s": 5.0},
        min_workers=1,
        max_workers=4,
        per_worker=2,
        readiness_delay_s=10,
    )
    summary, rec = run(case)
    cfg = EngineConfig.from_case(case)
    assert summary["rejected_429"] > 0 and summary["completed"] > 0
    assert rec.workers["max_k"].max() == 2  # the limit is reached, never passed
    check_worker_bounds(case, rec)
    check_statuses(case, cfg, summary, rec)
    check_concurrency_and_readiness(case, cfg, rec)
    check_billing(summary, rec)


def test_invariants_under_async_overload_with_expiry() -> None:
    case = make_case(
        "ASYNC",
        workload={"kind": "poisson", "rate": 6.0, "horizon_s": 900},
        service={
            "kind": "latency",
            "distribution": "exponential",
            "mean_s": 3.0,
            "batching_alpha": 0.3,
            "cold_start": 15,
        },
        simulation={"task_expiry_s": 60.0},
        min_workers=0,
        max_workers=3,
        per_worker=2,
        readiness_delay_s=5,
    )
    summary, rec = run(case)
    cfg = EngineConfig.from_case(case)
    assert summary["expired"] > 0 and summary["completed"] > 0
    assert case.template.effective_endpoint_type in ASYNC_TYPES
    check_worker_bounds(case, rec)
    check_statuses(case, cfg, summary, rec)
    check_concurrency_and_readiness(case, cfg, rec)
    check_billing(summary, rec)
