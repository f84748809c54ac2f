"""KEDA ScaledObject as Launch configures it for sync and streaming endpoints with min_workers 0.

Every request refreshes a Redis key that expires 60 s later; KEDA polls every 5 s,
scales 0 -> 1 while the key exists, and back to 0 once it has been inactive for the
cooldown (300 s), so an idle endpoint empties about 360 s after its last request.
The ScaledObject's second trigger, the 2-minute request-concurrency query, has no
activation threshold, so it also counts as activity until 2 minutes of no traffic
have passed: with requests in flight, emptying takes about 120 s + 300 s after the
last request ends (`keda_metric_activation=False` gives the key-only rule).
Between 1 and max_workers the HPA that KEDA creates scales on the same
request-concurrency query, as an External metric with an AverageValue target
(the total divided by every non-terminated pod), on the HPA controller's own 15 s sync.
"""

from __future__ import annotations

from dataclasses import replace

from capplan.policies.base import AutoscalerParams, Bounds, Observation, clamp
from capplan.policies.hpa import HpaAutoscaler

# Float slack when deciding whether a 15 s HPA sync falls on a 5 s poll.
_TIME_EPS = 1e-6


def keda_active(last_request_at: float | None, now: float, key_expiry_s: float) -> bool:
    """Whether the endpoint's Redis activity key still exists at `now`.

    Launch gateway: each request sets `launch-endpoint-autoscaling:<id>` with EXPIRE 60,
    and the ScaledObject's redis trigger has activationListLength 0 (any entry activates).
    """
    return last_request_at is not None and now - last_request_at < key_expiry_s


def metric_active(concurrency: float | None, activation_threshold: float = 0.0) -> bool:
    """Whether KEDA's prometheus trigger counts as active.

    Launch keda-scaled-object.yaml: the prometheus trigger (request concurrency over 2 min)
    sets no activationThreshold; KEDA's default 0 means any request in the window activates.
    """
    return concurrency is not None and concurrency > activation_threshold


def cooled_down(last_active_at: float | None, now: float, cooldown_s: float) -> bool:
    """KEDA scaleToZeroOrIdle: scale in when LastActiveTime + cooldown is before now.

    A target that was never seen active (LastActiveTime nil) is scaled in at once.
    """
    return last_active_at is None or last_active_at + cooldown_s < now


def keda_scale(
    current: int,
    active: bool,
    last_active_at: float | None,
    now: float,
    cooldown_s: float,
    min_replicas: int,
) -> int:
    """Replicas after one KEDA poll; KEDA only moves between 0 and 1, the HPA does the rest.

    KEDA scale executor: active at 0 -> max(minReplicaCount, 1); inactive above a zero
    minReplicaCount and cooled down -> minReplicaCount; otherwise leave it to the HPA.
    """
    if active and current == 0:
        return max(min_replicas, 1)
    if not active and min_replicas == 0 and current > 0:
        if cooled_down(last_active_at, now, cooldown_s):
            return 0
    return current


class KedaAutoscaler:
    """A ScaledObject (activity key + cooldown) over the HPA it owns for 1..max_workers."""

    name = "keda"

    def __init__(self, bounds: Bounds, params: AutoscalerParams | None = None) -> None:
        self._bounds = bounds
        self._params = params or AutoscalerParams()
        self.period_s = self._params.keda_polling_interval_s
        # KEDA's HPA: minReplicas = max(minReplicaCount, 1), maxReplicas = maxReplicaCount.
        hpa_min = max(bounds.min_workers, 1)
        hpa_bounds = replace(bounds, min_workers=hpa_min, max_workers=max(bounds.max_workers, 1))
        # KEDA generates an HPA with an External metric, target AverageValue.
        self._hpa = HpaAutoscaler(hpa_bounds, self._params, metric="external")
        self._last_active_at: float | None = None
        self._next_hpa_sync = 0.0

    def decide(self, obs: Observation) -> int:
        """One KEDA poll, plus an HPA sync when 15 s have passed since the last one."""
        self._hpa.observe(obs)
        p = self._params
        active = keda_active(obs.last_request_at, obs.now, p.keda_key_expiry_s)
        if p.keda_metric_activation:
            # KEDA: the ScaledObject is active while any of its triggers is.
            active = active or metric_active(self._hpa.recent_concurrency(obs.now))
        if active:
            self._last_active_at = obs.now
        replicas = keda_scale(
            obs.current,
            active,
            self._last_active_at,
            obs.now,
            p.keda_cooldown_s,
            self._bounds.min_workers,
        )
        # k8s: an HPA whose target has 0 replicas is disabled, so it only acts from 1 up.
        if self._hpa_due(obs.now) and replicas >= 1:
            replicas = self._hpa.sync(replace(obs, current=replicas))
        return clamp(replicas, self._bounds.min_workers, self._bounds.max_workers)

    @property
    def settle_s(self) -> float | None:
        """Quiet time after which, with a constant observation, every poll returns the last.

        By then the key has expired and the 2-minute metric is exactly 0 (inactive), the
        cooldown since the last active poll is over, and the HPA it owns has settled.
        None when a period is not a whole number of seconds: `skip_ticks` then could not
        reproduce the HPA sync phase exactly, so no poll is skipped.
        """
        p = self._params
        if not (float(self.period_s).is_integer() and float(self._hpa.period_s).is_integer()):
            return None
        active_for = max(p.keda_key_expiry_s, 2 * self.period_s + p.hpa_metric_window_s)
        return active_for + p.keda_cooldown_s + self.period_s + self._hpa.settle_s

    def skip_ticks(self, first: float, n: int) -> None:
        """Advance the HPA sync clock as `n` polls at first, first + period, ... would.

        Polls and syncs are whole seconds here (settle_s is None otherwise), so a poll at t
        is due exactly when t >= the next sync time (the float slack cannot matter), and
        after a due poll the next due one comes ceil(sync / poll) polls later.
        """
        poll, sync = int(self.period_s), int(self._hpa.period_s)
        start, due = int(first), self._next_hpa_sync
        last = start + (n - 1) * poll
        if n <= 0 or due > last:
            return
        j0 = max(0, -(-(int(due) - start) // poll))  # first due poll among the n
        stride = -(-sync // poll)
        j_last = j0 + (n - 1 - j0) // stride * stride
        self._next_hpa_sync = float(start + j_last * poll + sync)

    def _hpa_due(self, now: float) -> bool:
        """True once per HPA sync period (the HPA controller runs on its own clock)."""
        if now + _TIME_EPS < self._next_hpa_sync:
            return False
        self._next_hpa_sync = now + self._hpa.period_s
        return True
