"""Autoscaler rules: each expectation is derived from the Launch/Kubernetes rule it checks."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from capplan.errors import CapplanError
from capplan.launch import ASYNC_CONCURRENCY_CAP, async_task_slots
from capplan.policies import (
    Autoscaler,
    AutoscalerParams,
    Bounds,
    CeleryAutoscaler,
    HpaAutoscaler,
    KedaAutoscaler,
    Observation,
    StaticAutoscaler,
    make_autoscaler,
)
from capplan.policies.celery import celery_wanted, cooldown_hold
from capplan.policies.hpa import (
    legacy_limits,
    legacy_scale_up_limit,
    limit_scale_down,
    limit_scale_up,
    stabilize,
    stabilize_down,
    trim_samples,
    window_average,
)
from capplan.policies.keda import keda_active, metric_active
from capplan.policies.replica_calc import PodGroups, pods_metric_replicas

P = AutoscalerParams()
BEHAVIOR = replace(P, hpa_behavior_policies=True)
Load = Callable[[float], float]


def obs(now: float, current: int, area: float = 0.0, **kw: object) -> Observation:
    """An observation with quiet defaults: ready = current, nothing in flight or queued."""
    fields: dict[str, object] = {
        "now": now,
        "current": current,
        "ready": current,
        "in_flight": 0,
        "in_flight_area": area,
        "queued": 0,
        "last_request_at": None,
    }
    fields.update(kw)
    return Observation(**fields)  # type: ignore[arg-type]


def drive(
    scaler: Autoscaler,
    load: Load,
    until: float,
    current: int,
    last_request_at: Callable[[float], float | None] = lambda t: None,
) -> list[tuple[float, int]]:
    """Run `scaler` like the engine: every period, pods ready at once, load piecewise constant.

    `load(t)` is the in-flight count during [t, t + period); returns (now, decision) pairs.
    """
    dt = scaler.period_s
    area, now, out = 0.0, 0.0, []
    while now <= until + 1e-9:
        o = obs(now, current, area, in_flight=int(load(now)), last_request_at=last_request_at(now))
        current = scaler.decide(o)
        out.append((now, current))
        area += load(now) * dt
        now += dt
    return out


# --- HPA: tolerance -------------------------------------------------------------------


def raw_desired(current: int, per_pod_milli: int, target: int, ready: int | None = None) -> int:
    """The replica calculator's answer when `ready` pods all report the same metric."""
    groups = PodGroups((per_pod_milli,) * (current if ready is None else ready), 0, 0)
    answer = pods_metric_replicas(current, groups, target * 1000, P.hpa_tolerance, P.hpa_tolerance)
    assert answer is not None
    return answer[0]


@given(
    current=st.integers(1, 200),
    target=st.integers(1, 100),
    ratio=st.floats(1 - P.hpa_tolerance + 1e-3, 1 + P.hpa_tolerance - 1e-3),
)
def test_metric_within_tolerance_keeps_current(current: int, target: int, ratio: float) -> None:
    assert raw_desired(current, round(ratio * target * 1000), target) == current


@pytest.mark.parametrize("ratio", [1 + P.hpa_tolerance + 0.01, 1 - P.hpa_tolerance - 0.01])
def test_metric_just_outside_tolerance_moves(ratio: float) -> None:
    current, target = 10, 4
    got = raw_desired(current, round(ratio * target * 1000), target)
    assert got == math.ceil(round(ratio * target * 1000) / (target * 1000) * current)
    assert got != current


def test_raw_desired_scales_ready_pods_not_spec() -> None:
    # k8s multiplies the ratio by the ready pods: 3 ready of 8 at twice the target -> 6.
    assert raw_desired(8, 2 * 5000, 5, ready=3) == math.ceil(2.0 * 3)


def test_hpa_class_applies_tolerance_band() -> None:
    bounds = Bounds(min_workers=1, max_workers=100, per_worker=4)
    current = 10
    inside = current * bounds.per_worker * (1 + P.hpa_tolerance / 2)
    outside = current * bounds.per_worker * (1 + P.hpa_tolerance * 1.5)
    for total, expected in [
        (inside, current),
        (outside, math.ceil(outside / bounds.per_worker)),
    ]:
        scaler = HpaAutoscaler(bounds)
        o = obs(P.hpa_sync_period_s, current, total * P.hpa_sync_period_s)
        assert scaler.decide(o) == expected


# --- HPA: the 2-minute metric window ----------------------------------------------------


def samples_for(load: Load, until: float, step: float) -> list[tuple[float, float]]:
    """(t, ∫load) every `step` s from 0, load piecewise constant per step."""
    out, area, t = [(0.0, 0.0)], 0.0, 0.0
    while t < until - 1e-9:
        area += load(t) * step
        t += step
        out.append((t, area))
    return out


@given(level=st.integers(0, 1000), step=st.sampled_from([1.0, 5.0, 7.0, 15.0]))
def test_window_average_of_constant_load_is_the_load(level: int, step: float) -> None:
    samples = samples_for(lambda t: level, 400, step)
    for now, _ in samples[1:]:
        assert window_average(samples, now, P.hpa_metric_window_s) == pytest.approx(level)


def test_window_average_after_step_change_mixes_linearly() -> None:
    low, high, at, w = 3.0, 11.0, 300.0, P.hpa_metric_window_s
    samples = samples_for(lambda t: low if t < at else high, 600, 15.0)
    for now, _ in samples:
        if now < w:
            continue
        share_high = min(max(now - at, 0.0), w) / w
        expected = low * (1 - share_high) + high * share_high
        assert window_average(samples, now, w) == pytest.approx(expected)


def test_window_average_before_two_minutes_uses_elapsed_time() -> None:
    samples = [(0.0, 0.0), (15.0, 15.0 * 6), (30.0, 15.0 * 6 + 15.0 * 2)]
    assert window_average(samples, 30.0, P.hpa_metric_window_s) == pytest.approx((90 + 30) / 30)
    assert window_average(samples[:1], 0.0, P.hpa_metric_window_s) is None


@given(
    loads=st.lists(st.integers(0, 50), min_size=2, max_size=80),
    step=st.sampled_from([3.0, 5.0, 15.0]),
)
def test_trimmed_samples_give_the_same_average(loads: list[int], step: float) -> None:
    samples = samples_for(
        lambda t: loads[int(round(t / step)) % len(loads)], len(loads) * step, step
    )
    now, w = samples[-1][0], P.hpa_metric_window_s
    trimmed = trim_samples(samples, now, w)
    assert len(trimmed) <= math.ceil(w / step) + 2
    assert window_average(trimmed, now, w) == pytest.approx(window_average(samples, now, w))


# --- HPA: stabilisation and rate limits -------------------------------------------------


def test_stabilize_down_takes_highest_recommendation_in_window() -> None:
    w = P.hpa_scale_down_stabilization_s
    history = [(0.0, 9), (15.0, 2), (30.0, 3)]
    assert stabilize_down(history, 30.0, w) == 9
    assert stabilize_down(history, w, w) == 9  # k8s legacy drops only Before(now - w)
    assert stabilize_down(history, w + 1.0, w) == 3


def test_legacy_limits_cap_scale_up_at_twice_or_four() -> None:
    f, m = P.hpa_legacy_scale_up_factor, P.hpa_legacy_scale_up_minimum
    assert [legacy_scale_up_limit(c, f, m) for c in (1, 2, 3, 10)] == [
        max(int(f * c), m) for c in (1, 2, 3, 10)
    ]
    assert legacy_limits(50, 1, 100, legacy_scale_up_limit(10, f, m)) == int(f * 10)
    assert legacy_limits(50, 1, 15, legacy_scale_up_limit(10, f, m)) == 15
    assert legacy_limits(0, 2, 100, legacy_scale_up_limit(10, f, m)) == 2  # no down limit


def test_behavior_stabilize_scales_up_at_once_but_down_only_to_window_max() -> None:
    w = P.hpa_scale_down_stabilization_s
    history = [(0.0, 8)]
    assert stabilize(5, 12, history, 15.0, w) == 12
    assert stabilize(8, 2, history, 15.0, w) == 8
    assert stabilize(8, 2, history, w + 1.0, w) == 2
    # A scale-up window takes the lowest recent recommendation instead.
    assert stabilize(3, 12, [(0.0, 6)], 15.0, w, up_window_s=60.0) == 6


def last_spike_sync(result: list[tuple[float, int]], spike: int, drop_at: float) -> float:
    """The last sync whose own 2-min average still recommends `spike` (tolerance band).

    The load is `spike` in flight from t=0 until `drop_at`, then nothing.
    """
    w = P.hpa_metric_window_s

    def avg(t: float) -> float:
        return spike * max(0.0, min(drop_at, t) - max(0.0, t - w)) / min(w, t)

    return max(t for t, _ in result if t > 0 and avg(t) >= spike * (1 - P.hpa_tolerance))


def test_hpa_holds_spike_for_stabilisation_window_then_drops() -> None:
    bounds = Bounds(min_workers=1, max_workers=100, per_worker=1)
    spike, drop_at = 10, 600.0
    result = drive(HpaAutoscaler(bounds), lambda t: spike if t < drop_at else 0, 1200, 1)
    release = last_spike_sync(result, spike, drop_at) + P.hpa_scale_down_stabilization_s
    after_drop = [(t, n) for t, n in result if drop_at < t]
    assert all(n == spike for t, n in after_drop if t <= release)
    assert all(n < spike for t, n in after_drop if t > release)
    assert result[-1][1] == bounds.min_workers


def test_new_hpa_does_not_scale_down_within_window_of_creation() -> None:
    bounds = Bounds(min_workers=1, max_workers=100, per_worker=1)
    start = 6
    result = drive(HpaAutoscaler(bounds), lambda t: 0, 600, start)
    assert all(n == start for t, n in result if t <= P.hpa_scale_down_stabilization_s)
    assert all(n == bounds.min_workers for t, n in result if t > P.hpa_scale_down_stabilization_s)


def test_scale_up_limit_per_period() -> None:
    assert limit_scale_up(1, 1000, P.hpa_scale_up_pods, P.hpa_scale_up_percent) == 5
    assert limit_scale_up(10, 1000, P.hpa_scale_up_pods, P.hpa_scale_up_percent) == 20
    assert limit_scale_up(10, 12, P.hpa_scale_up_pods, P.hpa_scale_up_percent) == 12
    assert limit_scale_down(10, 1, P.hpa_scale_down_percent) == 1
    assert limit_scale_down(10, 1, 50.0) == 5


def up_limit(n: int) -> int:
    """Launch's HPA (no behavior) scale-up bound for one sync: max(2n, 4)."""
    return int(max(P.hpa_legacy_scale_up_factor * n, P.hpa_legacy_scale_up_minimum))


def behavior_up_limit(n: int) -> int:
    """The default-behavior scale-up bound for one period: max(n + 4 pods, n + 100 %)."""
    return max(n + P.hpa_scale_up_pods, math.ceil(n * (1 + P.hpa_scale_up_percent / 100)))


@pytest.mark.parametrize(
    ("params", "limit", "first_three"),
    [(P, up_limit, [4, 8, 16]), (BEHAVIOR, behavior_up_limit, [5, 10, 20])],
)
def test_hpa_scale_up_from_one_under_huge_load(
    params: AutoscalerParams, limit: Callable[[int], int], first_three: list[int]
) -> None:
    bounds = Bounds(min_workers=1, max_workers=1000, per_worker=1)
    result = drive(HpaAutoscaler(bounds, params), lambda t: 100_000, 60, 1)
    expected, n = [], 1
    for _ in result[1:]:  # t=0 has no elapsed time, hence no metric: unchanged
        n = limit(n)
        expected.append(n)
    assert [n for _, n in result] == [1, *expected]
    assert expected[:3] == first_three


def test_behavior_mode_holds_spike_then_drops_without_rate_limit() -> None:
    bounds = Bounds(min_workers=1, max_workers=100, per_worker=1)
    spike, drop_at = 8, 300.0
    result = drive(HpaAutoscaler(bounds, BEHAVIOR), lambda t: spike if t < drop_at else 0, 900, 8)
    release = last_spike_sync(result, spike, drop_at) + P.hpa_scale_down_stabilization_s
    after_drop = [(t, n) for t, n in result if drop_at < t]
    assert all(n == spike for t, n in after_drop if t < release)  # behavior: After(cutoff)
    assert all(n < spike for t, n in after_drop if t >= release)
    assert result[-1][1] == bounds.min_workers


def test_hpa_clamps_to_max_and_keeps_current_without_ready_pods() -> None:
    bounds = Bounds(min_workers=2, max_workers=6, per_worker=1)
    assert drive(HpaAutoscaler(bounds), lambda t: 1000, 60, 2)[-1][1] == bounds.max_workers
    lonely = obs(15.0, 4, 15.0 * 100, ready=0)
    assert HpaAutoscaler(bounds).decide(lonely) == 4


# --- Celery autoscaler --------------------------------------------------------------------


@given(queued=st.integers(0, 10_000), in_flight=st.integers(0, 500), per=st.integers(1, 64))
def test_celery_wanted_is_smallest_pool_holding_all_tasks(
    queued: int, in_flight: int, per: int
) -> None:
    wanted = celery_wanted(queued, in_flight, per)
    assert wanted * per >= queued + in_flight
    assert (wanted - 1) * per < queued + in_flight or wanted == 0


def test_celery_holds_maximum_for_cooldown_then_releases() -> None:
    bounds = Bounds(min_workers=0, max_workers=100, per_worker=5)
    scaler = CeleryAutoscaler(bounds)
    burst = 50
    held = celery_wanted(burst, 0, bounds.per_worker)
    t, out = 0.0, []
    while t <= P.celery_cooldown_s + 2 * P.celery_period_s:
        out.append((t, scaler.decide(obs(t, 0, queued=burst if t == 0 else 0))))
        t += scaler.period_s
    assert all(n == held for t, n in out if t < P.celery_cooldown_s)
    assert all(n == bounds.min_workers for t, n in out if t >= P.celery_cooldown_s)


def test_celery_clamps_to_bounds() -> None:
    bounds = Bounds(min_workers=2, max_workers=4, per_worker=1)
    assert CeleryAutoscaler(bounds).decide(obs(0.0, 2, queued=100)) == bounds.max_workers
    assert CeleryAutoscaler(bounds).decide(obs(0.0, 2)) == bounds.min_workers


def test_cooldown_hold_window_is_open_on_the_left() -> None:
    history = [(0.0, 7), (3.0, 1)]
    assert cooldown_hold(history, P.celery_cooldown_s - 1, P.celery_cooldown_s) == 7
    assert cooldown_hold(history, P.celery_cooldown_s, P.celery_cooldown_s) == 1


def test_async_concurrency_cap_is_launchs() -> None:
    # Launch MAX_ASYNC_CONCURRENT_TASKS = 20; a worker runs min(per_worker, 20) tasks
    assert ASYNC_CONCURRENCY_CAP == 20
    assert async_task_slots(5) == 5 and async_task_slots(40) == 20


# --- KEDA ---------------------------------------------------------------------------------


def test_keda_activity_key_expires() -> None:
    assert not keda_active(None, 10.0, P.keda_key_expiry_s)
    assert keda_active(100.0, 100.0 + P.keda_key_expiry_s - 0.1, P.keda_key_expiry_s)
    assert not keda_active(100.0, 100.0 + P.keda_key_expiry_s, P.keda_key_expiry_s)


def test_keda_activates_holds_and_scales_to_zero_after_expiry_plus_cooldown() -> None:
    bounds = Bounds(min_workers=0, max_workers=10, per_worker=1)
    first, last = 100.0, 400.0

    def last_request(t: float) -> float | None:  # a request every 10 s in [first, last]
        return None if t < first else min(last, first + 10 * math.floor((t - first) / 10))

    result = drive(KedaAutoscaler(bounds), lambda t: 0, 1200, 0, last_request)
    zero_by = last + P.keda_key_expiry_s + P.keda_cooldown_s
    assert all(n == 0 for t, n in result if t < first)
    assert all(n == 1 for t, n in result if first <= t < zero_by)
    assert all(n == 0 for t, n in result if t >= zero_by + P.keda_polling_interval_s)


def test_keda_traffic_in_flight_keeps_it_active_for_the_metric_window() -> None:
    bounds = Bounds(min_workers=0, max_workers=10, per_worker=1)
    first, last, busy_until = 100.0, 200.0, 400.0  # last request runs until 400 s

    def last_request(t: float) -> float | None:
        return None if t < first else min(last, t)

    def load(t: float) -> int:
        return 1 if first <= t < busy_until else 0

    metric_zero = busy_until + P.hpa_metric_window_s + P.keda_cooldown_s
    result = drive(KedaAutoscaler(bounds), load, 1200, 0, last_request)
    assert all(n == 1 for t, n in result if first <= t < metric_zero)
    assert all(n == 0 for t, n in result if t >= metric_zero + P.keda_polling_interval_s)

    key_only = replace(P, keda_metric_activation=False)
    key_zero = last + P.keda_key_expiry_s + P.keda_cooldown_s
    result = drive(KedaAutoscaler(bounds, key_only), load, 1200, 0, last_request)
    assert all(n == 1 for t, n in result if first <= t < key_zero)
    assert all(n == 0 for t, n in result if t >= key_zero + P.keda_polling_interval_s)


def test_metric_activation_threshold_is_zero() -> None:
    assert not metric_active(None)
    assert not metric_active(0.0)
    assert metric_active(1e-6)


def test_keda_never_active_stays_at_zero() -> None:
    bounds = Bounds(min_workers=0, max_workers=10, per_worker=1)
    assert {n for _, n in drive(KedaAutoscaler(bounds), lambda t: 0, 600, 0)} == {0}


def test_keda_runs_hpa_above_one_on_its_own_sync_period() -> None:
    bounds = Bounds(min_workers=0, max_workers=12, per_worker=1)
    result = dict(drive(KedaAutoscaler(bounds), lambda t: 1000, 60, 0, lambda t: t))
    assert result[0.0] == 1  # activation; the new pod is not ready, so no metric yet
    polls_between = [t for t in result if 0 < t < P.hpa_sync_period_s]
    assert polls_between and all(result[t] == 1 for t in polls_between)
    n, syncs = 1, [P.hpa_sync_period_s * k for k in range(1, 4)]
    for t in syncs:  # each 15 s sync adds at most max(4 pods, 100 %), up to max_workers
        n = min(bounds.max_workers, up_limit(n))
        assert result[t] == n
        assert all(result[u] == n for u in result if t < u < t + P.hpa_sync_period_s)
    assert n == bounds.max_workers


# --- Static -------------------------------------------------------------------------------


@pytest.mark.parametrize("min_workers", [0, 3])
def test_static_never_changes(min_workers: int) -> None:
    bounds = Bounds(min_workers=min_workers, max_workers=10, per_worker=2)
    scaler = StaticAutoscaler(bounds)
    result = drive(scaler, lambda t: 500, 600, 7, lambda t: t)
    assert {n for _, n in result} == {min_workers}


# --- Properties over every autoscaler --------------------------------------------------

KINDS = [
    ("launch", "SYNC"),
    ("launch", "STREAMING"),
    ("launch", "ASYNC"),
    ("launch", "BATCH"),
    ("static", "SYNC"),
]

step = st.tuples(
    st.floats(0.5, 40.0),  # seconds since the previous observation
    st.integers(0, 400),  # in flight
    st.integers(0, 400),  # queued
    st.integers(0, 60),  # current
    st.integers(0, 60),  # ready
    st.one_of(st.none(), st.floats(0.0, 500.0)),  # age of the last request, None: no new one
)


def observations(steps: list[tuple[float, int, int, int, int, float | None]]) -> list[Observation]:
    """A valid observation sequence: time and ∫in_flight increase, requests in the past."""
    now, area, last, out = 0.0, 0.0, None, []
    for dt, in_flight, queued, current, ready, age in steps:
        area += in_flight * dt
        now += dt
        if age is not None:
            last = max(last or 0.0, now - age)
        out.append(Observation(now, current, ready, in_flight, area, queued, last))
    return out


@settings(max_examples=60, deadline=None)
@given(
    kind=st.sampled_from(KINDS),
    lo=st.integers(0, 5),
    span=st.integers(0, 30),
    per_worker=st.integers(1, 20),
    steps=st.lists(step, min_size=1, max_size=60),
)
def test_every_decision_is_within_bounds_and_deterministic(
    kind: tuple[str, str], lo: int, span: int, per_worker: int, steps: list
) -> None:
    bounds = Bounds(min_workers=lo, max_workers=lo + span, per_worker=per_worker)
    seq = observations(steps)
    runs = []
    for _ in range(2):
        scaler = make_autoscaler(*kind, bounds)
        runs.append([scaler.decide(o) for o in seq])
    assert runs[0] == runs[1]
    assert all(bounds.min_workers <= n <= bounds.max_workers for n in runs[0])


# --- Dispatch -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("endpoint_type", "min_workers", "cls", "period"),
    [
        ("SYNC", 1, HpaAutoscaler, P.hpa_sync_period_s),
        ("streaming", 2, HpaAutoscaler, P.hpa_sync_period_s),
        ("SYNC", 0, KedaAutoscaler, P.keda_polling_interval_s),
        ("STREAMING", 0, KedaAutoscaler, P.keda_polling_interval_s),
        ("ASYNC", 0, CeleryAutoscaler, P.celery_period_s),
        ("ASYNC", 3, CeleryAutoscaler, P.celery_period_s),
        ("BATCH", 0, CeleryAutoscaler, P.celery_period_s),
    ],
)
def test_launch_dispatch_by_endpoint_type(
    endpoint_type: str, min_workers: int, cls: type, period: float
) -> None:
    scaler = make_autoscaler("launch", endpoint_type, Bounds(min_workers, 8, 2))
    assert isinstance(scaler, cls)
    assert isinstance(scaler, Autoscaler)
    assert scaler.period_s == period


def test_static_dispatch_and_params_are_used() -> None:
    bounds = Bounds(1, 8, 2)
    assert isinstance(make_autoscaler("static", "ASYNC", bounds), StaticAutoscaler)
    slow = replace(P, hpa_sync_period_s=30.0)
    assert make_autoscaler("launch", "SYNC", bounds, slow).period_s == 30.0


def test_unknown_kind_and_endpoint_type_are_named() -> None:
    with pytest.raises(CapplanError) as err:
        make_autoscaler("x", "SYNC", Bounds(1, 2, 1))
    assert (
        str(err.value) == "simulation.autoscaler: unknown autoscaler 'x'; allowed: launch, static"
    )
    with pytest.raises(CapplanError, match="endpoint_type: unknown endpoint type 'GRPC'"):
        make_autoscaler("launch", "GRPC", Bounds(1, 2, 1))


def test_bounds_are_validated() -> None:
    with pytest.raises(CapplanError, match="min_workers <= max_workers"):
        Bounds(min_workers=3, max_workers=2, per_worker=1)
    with pytest.raises(CapplanError, match="per_worker"):
        Bounds(min_workers=0, max_workers=2, per_worker=0)


@given(
    st.lists(
        st.tuples(st.integers(0, 400), st.integers(0, 60)),
        min_size=1,
        max_size=300,
    ),
    st.integers(1, 8),
)
def test_celery_incremental_hold_matches_pure_cooldown_max(ticks, per_worker):
    """The O(1) sliding maximum inside CeleryAutoscaler equals cooldown_hold on the full history."""
    from capplan.policies.celery import CeleryAutoscaler, celery_wanted, cooldown_hold

    params = AutoscalerParams()
    scaler = CeleryAutoscaler(Bounds(0, 10_000, per_worker), params)
    history = []
    for n, (queued, in_flight) in enumerate(ticks):
        now = n * params.celery_period_s
        obs = Observation(now, 0, 0, in_flight, 0.0, queued, None)
        history.append((now, celery_wanted(queued, in_flight, per_worker)))
        assert scaler.decide(obs) == cooldown_hold(history, now, params.celery_cooldown_s)


@pytest.mark.parametrize(("iteration_s", "period_s"), [(0.0, 3.0), (1.5, 3.0), (7.0, 7.0)])
def test_celery_loop_runs_every_three_seconds_or_its_iteration(
    iteration_s: float, period_s: float
) -> None:
    # Launch celery_autoscaler.py sleeps 3 - iteration only when the iteration was shorter.
    from capplan.policies.celery import CeleryAutoscaler

    params = replace(P, celery_iteration_s=iteration_s)
    assert CeleryAutoscaler(Bounds(0, 4, 2), params).period_s == period_s
