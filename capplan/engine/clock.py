"""A SimPy environment that also replays a sorted array of timed request events.

Worker lifecycles and the autoscaler's control loop are ordinary SimPy
processes. Per-request events (arrivals, completions, retries) are far more
numerous, so they bypass SimPy's Event objects: arrivals come straight from
the pre-drawn numpy array and completions from a plain heap, merged in time
order with SimPy's own queue by `run_merged`. SimPy events win ties, so a
control decision or a worker becoming ready at time t is seen by a request
arriving at t.

SimPy 4 offers no public way to set the clock or to look at its queue without
a call per event, so `run_merged` and the endpoint's callbacks use
`Environment._now` and `_queue` directly; pyproject.toml pins simpy < 5 for it.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from typing import Any

import simpy

INF = float("inf")


class MergedEnvironment(simpy.Environment):
    """simpy.Environment plus a heap of request events handled by callbacks."""

    def __init__(self) -> None:
        super().__init__()
        self.calendar: list[tuple[float, int, int, Any, int]] = []  # (t, seq, kind, obj, tag)
        self.seq = itertools.count()  # ties run in scheduling order

    def at(self, t: float, kind: int, obj: Any, tag: int = 0) -> None:
        """Schedule a request event."""
        heapq.heappush(self.calendar, (t, next(self.seq), kind, obj, tag))

    def run_merged(
        self,
        arrivals: list[float],
        on_arrival: Callable[[int], None],
        handlers: tuple[Callable[[Any, int], None], ...],
        until: float,
        refill: Callable[[int], tuple[list[float], int]] | None = None,
    ) -> None:
        """Advance to `until`, interleaving SimPy events, arrivals and the calendar.

        `refill(i)`, called when the arrivals run out at index i, may hand over
        the next ones: a new list and the index to go on from (None: no more).
        """
        cal = self.calendar
        pop = heapq.heappop
        queue = self._queue  # SimPy's own event heap: (time, priority, id, event)
        n = len(arrivals)
        i = 0
        ta = arrivals[0] if n else INF
        while True:
            ts = queue[0][0] if queue else INF
            th = cal[0][0] if cal else INF
            if ts <= ta and ts <= th:
                if ts >= until:
                    break
                self.step()
            elif th <= ta:
                if th >= until:
                    break
                t, _, kind, obj, tag = pop(cal)
                self._now = t
                handlers[kind](obj, tag)
            else:
                if ta >= until:
                    break
                self._now = ta
                on_arrival(i)
                i += 1
                if i == n and refill is not None:
                    arrivals, i = refill(i)
                    n = len(arrivals)
                ta = arrivals[i] if i < n else INF
        self._now = until
