"""The endpoint's control loop: what the autoscaler observes, and the timeline it leaves.

`ControlLoop` sits between the pod lifecycle (`lifecycle.Pool`) and the request
paths (`endpoint.Endpoint`, which sets the attributes declared here).
"""

from __future__ import annotations

from collections import deque
from typing import Any

from capplan.engine.clock import INF
from capplan.engine.idle import wake
from capplan.engine.integral import TimeIntegral
from capplan.engine.lifecycle import Pool
from capplan.engine.worker import State
from capplan.policies.base import (
    POD_PENDING,
    POD_READY,
    POD_STARTING,
    Autoscaler,
    Observation,
    PodView,
)


class ControlLoop(Pool):
    """The pods plus what the autoscaler's loop reads of the endpoint and records."""

    busy: TimeIntegral  # requests in service on every pod
    queue: deque[int]  # async broker queue
    last_arrival: float | None
    changed_at: float  # last worker state or replica change (engine.idle reads it)
    skip_idle: bool  # False: tick every period (the reference engine.idle is tested on)
    hold_fixed: bool  # False: a fixed pool runs its policy (engine.fixed's reference)
    timeline: list[tuple[float, ...]]
    timeline_wanted: bool  # a streamed run (engine.stream) keeps no timeline

    def observe(self) -> Observation:
        now = self.env._now
        return Observation(
            now=now,
            current=len(self.pending) + len(self.ready),
            ready=len(self.ready),
            in_flight=self.busy.level,
            in_flight_area=self.busy.at(now),
            pods=self._pod_views(now),
            queued=len(self.queue),
            last_request_at=self.last_arrival,
        )

    def _pod_views(self, now: float) -> tuple[PodView, ...]:
        """Every pod not being deleted, in the phase the HPA's replica calculator sees."""
        views = [
            PodView(w.id, POD_PENDING if w.state < State.STARTING else POD_STARTING, 0.0, INF)
            for w in self.pending
        ]
        views += [PodView(w.id, POD_READY, w.area_at(now), w.ready_at) for w in self.ready]
        return tuple(views)

    def control(self, autoscaler: Autoscaler) -> Any:
        """The autoscaler's loop: observe, decide, scale, every period.

        At a fixed point it jumps to the first tick that can change anything
        (`capplan.engine.idle` proves the results are the same).
        """
        env = self.env
        while True:
            obs = self.observe()
            desired = autoscaler.decide(obs)
            kept = desired == obs.current == self.desired
            if not kept:
                self.changed_at = env._now
            self.scale_to(desired)
            self._row()
            skip = wake(self, autoscaler, kept) if self.skip_idle else None
            yield env.timeout(autoscaler.period_s) if skip is None else skip

    def record(self) -> None:
        """A worker changed state: note when, and add a timeline row."""
        self.changed_at = self.env._now
        self._row()

    def _row(self) -> None:
        if not self.timeline_wanted:
            return
        provisioning = sum(1 for w in self.pending if w.state == State.PROVISIONING)
        self.timeline.append(
            (
                self.env._now,
                self.desired,
                provisioning,
                len(self.pending) - provisioning,
                len(self.ready),
                len(self.draining),
                self.busy.level,
                len(self.queue),
            )
        )
