"""Kubernetes HPA as Launch configures it for sync and streaming endpoints (min_workers >= 1).

Launch creates one HorizontalPodAutoscaler per endpoint with a single Pods metric,
`request-concurrency-average` (in-flight requests per pod over 2 minutes), target
type AverageValue = per_worker, and no `behavior` block. With no behavior, k8s leaves
Spec.Behavior nil and its controller takes the legacy path: the highest recommendation
of the last 300 s, scale-up capped at max(2 × current, 4) per sync, no scale-down rate
limit. (The "default behavior" policies in the k8s docs, max(+4 pods, +100 %) per 15 s,
apply only once some behavior is set; `hpa_behavior_policies=True` selects them.)
The steps follow kube-controller-manager's podautoscaler in order: metric -> raw
recommendation (`replica_calc`: tolerance, pending/unready/missing pods) ->
stabilisation -> rate limit -> clamp.

The HPA that KEDA generates (min_workers = 0) reads the same concurrency as an
External metric with AverageValue: one Prometheus sum over the endpoint's series,
divided by every non-terminated pod (`metric="external"`).
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Sequence
from typing import Literal

from capplan.policies.base import (
    POD_PENDING,
    POD_READY,
    AutoscalerParams,
    Bounds,
    Observation,
    Recommendation,
    Sample,
    clamp,
    in_window,
    prune,
    window_max,
)
from capplan.policies.replica_calc import (
    PodGroups,
    external_per_pod_replicas,
    pods_metric_replicas,
    to_milli,
)

MetricSource = Literal["pods", "external"]


def area_at(samples: Sequence[Sample], t: float) -> float:
    """∫ in_flight dt at time `t`, linear between samples (exact while in_flight is constant).

    Before the first sample it is the first sample's value, after the last the last's.
    """
    i = bisect_right(samples, t, key=lambda s: s[0])
    if i == 0:
        return samples[0][1]
    if i == len(samples):
        return samples[-1][1]
    (t0, a0), (t1, a1) = samples[i - 1], samples[i]
    return a0 + (a1 - a0) * (t - t0) / (t1 - t0)


def window_average(samples: Sequence[Sample], now: float, window_s: float) -> float | None:
    """Average in-flight requests (all pods) over (now - window_s, now], from area samples.

    Launch: request-concurrency-average = rate(istio_request_duration_sum[2m]), i.e. the
    request-seconds served in the last 2 min divided by the window (Little's law). Before
    `window_s` has elapsed since the first sample, the window is what has elapsed.
    None when there is no elapsed time to average over (the metric is missing).
    """
    if not samples:
        return None
    start = max(now - window_s, samples[0][0])
    span = now - start
    if span <= 0:
        return None
    return (area_at(samples, now) - area_at(samples, start)) / span


def stabilize_down(history: Sequence[Recommendation], now: float, window_s: float) -> int:
    """Highest recommendation in [now - window_s, now]; history includes the current one.

    k8s legacy stabilizeRecommendation (no behavior set): the max of recommendations
    not Before(now - window), so a spike is applied for 300 s after its last sync.
    """
    highest = window_max(history, now, window_s, closed=True)
    if highest is None:
        raise ValueError("stabilize_down: history has no recommendation in the window")
    return highest


def legacy_scale_up_limit(current: int, factor: float, minimum: int) -> int:
    """k8s legacy calculateScaleUpLimit: int(max(factor × current, minimum)), i.e. max(2c, 4)."""
    return int(max(factor * current, minimum))


def legacy_limits(desired: int, lo: int, hi: int, up_limit: int) -> int:
    """k8s convertDesiredReplicasWithRules: `desired` within [lo, min(hi, up_limit)].

    No scale-down rate limit on this path: only minReplicas bounds a drop. (With
    minReplicas 0 older controllers used 1 as the floor; capplan's HPA never has 0:
    KEDA owns the 0 <-> 1 step.)
    """
    if desired < lo:
        return lo
    return min(desired, min(hi, up_limit))


def stabilize(
    current: int,
    desired: int,
    history: Sequence[Recommendation],
    now: float,
    down_window_s: float,
    up_window_s: float = 0.0,
) -> int:
    """k8s stabilizeRecommendationWithBehaviors (only when a behavior is set).

    Scaling up takes the lowest recommendation of the scale-up window, scaling down
    the highest of the scale-down window; both include `desired` itself.
    """
    if desired >= current:
        return min([desired, *in_window(history, now, up_window_s)])
    return max([desired, *in_window(history, now, down_window_s)])


def limit_scale_up(current: int, desired: int, max_pods: int, max_percent: float) -> int:
    """`desired` capped to what one period's scale-up policies allow (selectPolicy Max).

    k8s default behavior: +max(4 pods, 100 %) per 15 s, i.e. new <= max(c + 4, 2c). The
    policy period equals the sync period, so the period's starting size is `current`.
    """
    if desired <= current:
        return desired
    by_percent = math.ceil(current * (1.0 + max_percent / 100.0))
    return min(desired, max(current + max_pods, by_percent))


def limit_scale_down(current: int, desired: int, max_percent: float) -> int:
    """`desired` raised to what one period's scale-down policy allows.

    k8s default behavior: -100 % per 15 s (proposed = int(c × (1 - p/100))), so no limit.
    """
    if desired >= current:
        return desired
    floor = int(current * (1.0 - max_percent / 100.0))
    return max(desired, floor)


def _record(samples: list[Sample], now: float, value: float, window_s: float) -> list[Sample]:
    """`samples` with (now, value) added (or the last replaced at the same time), trimmed."""
    if now <= samples[-1][0]:
        samples[-1] = (samples[-1][0], value)
    else:
        samples.append((now, value))
    return trim_samples(samples, now, window_s)


def trim_samples(samples: list[Sample], now: float, window_s: float) -> list[Sample]:
    """Drop samples no future window needs, keeping one at or before `now - window_s`."""
    cutoff = now - window_s
    first = 0
    while first + 1 < len(samples) and samples[first + 1][0] <= cutoff:
        first += 1
    return samples[first:]


class HpaAutoscaler:
    """One HorizontalPodAutoscaler: metric samples plus its recommendation history."""

    name = "hpa"

    def __init__(
        self,
        bounds: Bounds,
        params: AutoscalerParams | None = None,
        metric: MetricSource = "pods",
        recommendations: list[Recommendation] | None = None,
    ) -> None:
        self._bounds = bounds
        self._params = params or AutoscalerParams()
        self._metric_source = metric
        self.period_s = self._params.hpa_sync_period_s
        # ∫ in_flight dt over the whole endpoint is 0 at t = 0, so the first window has a start.
        self._samples: list[Sample] = [(0.0, 0.0)]
        # Per pod: (t, ∫ requests in service dt on that pod), from the moment it became ready.
        self._pod_samples: dict[int, list[Sample]] = {}
        # None until the first sync records the current size (k8s keeps nil until then).
        self._recommendations: list[Recommendation] | None = recommendations

    @property
    def settle_s(self) -> float:
        """Quiet time after which, with a constant observation, every sync returns the last.

        The metric window then averages a constant area (0 concurrency, exactly) on a
        sample taken after the last change (one period of slack), and the stabilisation
        windows then hold only the constant proposal that follows; see capplan.engine.idle.
        """
        p = self._params
        window = max(p.hpa_scale_down_stabilization_s, p.hpa_scale_up_stabilization_s)
        return 2 * self.period_s + p.hpa_metric_window_s + window

    def decide(self, obs: Observation) -> int:
        """Record the metric samples, then run one HPA sync."""
        self.observe(obs)
        return self.sync(obs)

    def observe(self, obs: Observation) -> None:
        """Record the metric at `obs.now`; callers polling faster than the sync add detail."""
        window = self._params.hpa_metric_window_s
        self._samples = _record(self._samples, obs.now, obs.in_flight_area, window)
        if obs.pods is None:
            return
        pods: dict[int, list[Sample]] = {}
        for pod in obs.pods:
            if pod.phase != POD_READY:
                continue
            # A ready pod's series starts empty when it becomes ready.
            samples = self._pod_samples.get(pod.id) or [(pod.ready_at, 0.0)]
            pods[pod.id] = _record(samples, obs.now, pod.area, window)
        # Pods no longer listed were deleted: k8s drops their metrics at once.
        self._pod_samples = pods

    def recent_concurrency(self, now: float) -> float | None:
        """Average in-flight requests (all pods) over the metric window, None if unknown."""
        return window_average(self._samples, now, self._params.hpa_metric_window_s)

    def sync(self, obs: Observation) -> int:
        """One reconcile of the HPA controller, using the samples observed so far."""
        return self.reconcile(obs.now, obs.current, self.proposal(obs))

    def proposal(self, obs: Observation) -> int | None:
        """The replica calculator's answer for this sync, None when the metric is missing."""
        p = self._params
        target = self._bounds.per_worker * 1000  # milli-value, as the HPA spec carries it
        tol = p.hpa_tolerance
        if self._metric_source == "external":
            total = self.recent_concurrency(obs.now)
            if total is None:
                return None
            live = obs.current if obs.pods is None else len(obs.pods)
            return external_per_pod_replicas(live, to_milli(total), target, tol, tol)[0]
        answer = pods_metric_replicas(obs.current, self.pod_groups(obs), target, tol, tol)
        return None if answer is None else answer[0]

    def pod_groups(self, obs: Observation) -> PodGroups:
        """Each listed pod as k8s groupPods sorts it, with its metric over the window."""
        window = self._params.hpa_metric_window_s
        if obs.pods is None:
            # Counts only: ready pods share the endpoint's metric, the rest have none yet.
            total = self.recent_concurrency(obs.now)
            if total is None or obs.ready <= 0:
                return PodGroups((), 0, max(obs.current - obs.ready, 0))
            share = to_milli(total / obs.ready)
            return PodGroups((share,) * obs.ready, 0, max(obs.current - obs.ready, 0))
        values: list[int] = []
        unready = missing = 0
        for pod in obs.pods:
            if pod.phase == POD_PENDING:
                unready += 1
                continue
            samples = self._pod_samples.get(pod.id)
            average = None if samples is None else window_average(samples, obs.now, window)
            if average is None:
                missing += 1  # running but not ready, or ready too briefly to have a rate
            else:
                values.append(to_milli(average))
        return PodGroups(tuple(values), unready, missing)

    def reconcile(self, now: float, current: int, proposal: int | None) -> int:
        """k8s reconcileAutoscaler from the replica calculator's proposal on."""
        lo, hi = self._bounds.min_workers, self._bounds.max_workers
        if self._recommendations is None:
            # k8s recordInitialRecommendation: a new HPA first remembers the current size.
            self._recommendations = [(now, current)]
        # k8s: a spec outside [minReplicas, maxReplicas] is brought inside without metrics.
        if not lo <= current <= hi:
            return clamp(current, lo, hi)
        if proposal is None:
            # k8s: when no metric can be computed the HPA leaves the replicas alone.
            return current
        if self._params.hpa_behavior_policies:
            return self._normalize_with_behavior(current, proposal, now)
        return self._normalize_legacy(current, proposal, now)

    def _normalize_legacy(self, current: int, raw: int, now: float) -> int:
        """k8s normalizeDesiredReplicas: what runs for Launch's HPA (no behavior block)."""
        p = self._params
        window = p.hpa_scale_down_stabilization_s
        self._recommendations = prune([*self._recommendations, (now, raw)], now, window)
        stable = stabilize_down(self._recommendations, now, window)
        up_limit = legacy_scale_up_limit(
            current, p.hpa_legacy_scale_up_factor, p.hpa_legacy_scale_up_minimum
        )
        return legacy_limits(stable, self._bounds.min_workers, self._bounds.max_workers, up_limit)

    def _normalize_with_behavior(self, current: int, raw: int, now: float) -> int:
        """k8s normalizeDesiredReplicasWithBehaviors with the default behavior policies."""
        p = self._params
        stable = stabilize(
            current,
            raw,
            self._recommendations,
            now,
            p.hpa_scale_down_stabilization_s,
            p.hpa_scale_up_stabilization_s,
        )
        longest = max(p.hpa_scale_down_stabilization_s, p.hpa_scale_up_stabilization_s)
        self._recommendations = prune([*self._recommendations, (now, raw)], now, longest)
        if stable > current:
            limited = limit_scale_up(current, stable, p.hpa_scale_up_pods, p.hpa_scale_up_percent)
        else:
            limited = limit_scale_down(current, stable, p.hpa_scale_down_percent)
        return clamp(limited, self._bounds.min_workers, self._bounds.max_workers)
