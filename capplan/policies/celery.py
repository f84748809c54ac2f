"""Launch's own celery autoscaler, which sizes async (and batch) endpoints.

Every 3 s it reads the broker queue plus the tasks the workers hold, asks for
ceil(total / per_worker) workers, and applies the largest request of the last
600 s (its cooldown), clamped to [min_workers, max_workers]. There is no
tolerance and no rate limit: a backlog scales the pool in one step.
"""

from __future__ import annotations

import math
from collections import deque

from capplan.policies.base import (
    AutoscalerParams,
    Bounds,
    Observation,
    Recommendation,
    clamp,
    window_max,
)


def celery_wanted(queued: int, in_flight: int, per_worker: int) -> int:
    """Workers wanted for this queue size.

    Launch celery_autoscaler.py: workers_wanted = ceil(queue_size / per_worker), where
    queue_size counts enqueued plus active and reserved tasks.
    """
    return math.ceil((queued + in_flight) / per_worker)


def cooldown_hold(history: list[Recommendation], now: float, cooldown_s: float) -> int:
    """Largest `wanted` in (now - cooldown_s, now]; history includes the current one.

    Launch celery_autoscaler.py: evict entries at or before now - cooldown, take the max.
    """
    held = window_max(history, now, cooldown_s)
    if held is None:
        raise ValueError("cooldown_hold: history has no entry in the cooldown window")
    return held


class CeleryAutoscaler:
    """One celery autoscaler Instance: the `wanted` history of one deployment."""

    name = "celery"

    def __init__(self, bounds: Bounds, params: AutoscalerParams | None = None) -> None:
        self._bounds = bounds
        self._params = params or AutoscalerParams()
        # Launch celery_autoscaler.py: the loop runs every max(3 s, iteration time).
        self.period_s = max(self._params.celery_period_s, self._params.celery_iteration_s)
        # Only entries that can still be the window's maximum: values strictly decrease
        # from front to back, so the front is cooldown_hold() of the full history in O(1).
        self._candidates: deque[Recommendation] = deque()

    @property
    def settle_s(self) -> float:
        """Quiet time after which the cooldown window holds only the idle `wanted` (0)."""
        return self._params.celery_cooldown_s + self.period_s

    def decide(self, obs: Observation) -> int:
        """Record this tick's `wanted` and apply the cooldown maximum, clamped."""
        wanted = celery_wanted(obs.queued, obs.in_flight, self._bounds.per_worker)
        held = self._hold(obs.now, wanted)
        return clamp(held, self._bounds.min_workers, self._bounds.max_workers)

    def _hold(self, now: float, wanted: int) -> int:
        candidates = self._candidates
        while candidates and candidates[-1][1] <= wanted:
            candidates.pop()
        candidates.append((now, wanted))
        cutoff = now - self._params.celery_cooldown_s
        while candidates[0][0] <= cutoff:  # the window is (now - cooldown, now]
            candidates.popleft()
        return candidates[0][1]
