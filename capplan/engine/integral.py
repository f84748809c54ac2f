"""A step function's level and its running time integral.

The HPA's concurrency metric is ∫ in-flight dt over a window (Little's law), so
the engine keeps the integral of every count the metric needs; each changes
only at events, so the integral is exact when brought up to date at each one.
"""

from __future__ import annotations


class TimeIntegral:
    """`level` now, and `area` = ∫ level dt from the start up to time `t`."""

    __slots__ = ("level", "area", "t")

    def __init__(self) -> None:
        self.level = 0
        self.area = 0.0
        self.t = 0.0

    def change(self, now: float, delta: int) -> None:
        """Bring the integral up to `now`, then move the level by `delta`."""
        self.area += self.level * (now - self.t)
        self.t = now
        self.level += delta

    def at(self, now: float) -> float:
        """∫ level dt from the start up to `now` (>= the last change)."""
        return self.area + self.level * (now - self.t)
