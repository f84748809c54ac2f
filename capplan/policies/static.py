"""A fixed pool of min_workers: the baseline an autoscaler is compared against."""

from __future__ import annotations

from capplan.policies.base import AutoscalerParams, Bounds, Observation


class StaticAutoscaler:
    """Never scales: always min_workers (0 stays 0)."""

    name = "static"

    def __init__(self, bounds: Bounds, params: AutoscalerParams | None = None) -> None:
        self._bounds = bounds
        self.period_s = (params or AutoscalerParams()).static_period_s

    settle_s = 0.0  # the decision never depends on what is observed

    def decide(self, obs: Observation) -> int:
        """min_workers, whatever is observed."""
        return self._bounds.min_workers
