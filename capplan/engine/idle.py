"""Jumping a control loop over the ticks at which nothing can change.

A run's cost should follow its requests, not its horizon: a trace with two
requests three years apart would otherwise run 6 million HPA syncs. After a tick,
the loop may jump straight to the last tick on its own grid before the next event
(arrival, calendar entry, SimPy event such as a start-up, a drain or a fault),
which it runs as usual, so the first tick at or after the event follows as usual,
when the endpoint is at a fixed point:

1. nothing is queued or in flight, no pod is starting or draining, and the tick's
   decision kept the replicas where they were (workers already where the policy
   keeps them);
2. nothing has changed for at least the policy's `settle_s` (the metric window, the
   stabilisation or cooldown windows, KEDA's key expiry: see each policy).

Why the results are identical. Until the next event nothing happens but ticks, so
every skipped tick would see the same observation except `now`: the same replica
count, 0 in flight, the same (constant) request-second areas, the same last
arrival. A policy's decision is a pure function of its observation and its window
state. After `settle_s` of quiet the windows hold only entries recorded under this
constant observation (metric samples of one constant area, so every window average
is exactly 0.0; recommendations and cooldown entries all equal to the constant
proposal), so each skipped tick's decision equals the last one, which kept the
replicas: no skipped tick would have scaled anything. What a skipped tick would
have left behind in the window state is equivalent too: the tick before the span
and the last tick of the span (the one the loop wakes on, still before the event)
both run and record the same constant area, so the skipped samples, all equal to
it and all between those two, add no node to the piecewise-linear area the windows
interpolate (interpolating between two equal values returns that value exactly);
recommendation and cooldown entries all carry the constant value, which
the tick after the span records again; the only clock a policy keeps that is not
a window (KEDA's HPA sync phase) is advanced by the policy's `skip_ticks` exactly as
the skipped ticks would have. The wake-up tick is computed in integers (periods and
tick times are whole seconds, checked), so it is the same float as repeated
`now + period` additions. Timeline rows: the tick
before the span and the wake-up tick carry the same values, so the skipped rows,
each a copy of its predecessor but for the time, are one piecewise-constant
segment and every time-weighted figure over the timeline is unchanged.
tests/test_engine_idle.py checks all of this against runs that tick every period.
"""

from __future__ import annotations

from bisect import bisect_left
from heapq import heappush
from typing import TYPE_CHECKING, Any

from simpy.core import NORMAL
from simpy.events import Event

from capplan.engine.clock import INF

if TYPE_CHECKING:  # type hints only: endpoint imports this module
    from capplan.engine.endpoint import Endpoint
    from capplan.policies.base import Autoscaler

EXACT = 2.0**53  # below this, whole-second float sums are exact


def quiet(ep: Endpoint) -> bool:
    """Nothing queued, in flight, starting or draining."""
    return not (ep.queue or ep.busy.level or ep.pending or ep.draining)


def next_event(ep: Endpoint, now: float) -> float:
    """Time of the next thing that can happen besides control ticks (INF if none)."""
    arrivals = ep.arrival_list
    i = bisect_left(arrivals, now)  # arrivals at `now` itself run after this tick
    t = arrivals[i] if i < len(arrivals) else INF
    if ep.calendar:  # stale milestones only make the jump shorter
        t = min(t, ep.calendar[0][0])
    queue = ep.env._queue  # SimPy events: start-ups, drains, faults (this loop's own is not in)
    if queue:
        t = min(t, queue[0][0])
    return t


def ticks_to_wake(now: float, period: float, event_at: float) -> int | None:
    """Periods from `now` to the first tick at or after `event_at`; None when it never comes."""
    if event_at == INF:
        return None
    p, t = int(period), int(now)
    n = max(1, -(-(int(event_at) - t) // p))  # whole-second lower bound, then exact checks
    while n > 1 and t + (n - 1) * p >= event_at:
        n -= 1
    while t + n * p < event_at:
        n += 1
    return n


def wake(ep: Endpoint, autoscaler: Autoscaler, kept: bool) -> Event | None:
    """An event at the loop's wake-up tick when it may jump (module docstring), else None."""
    settle = getattr(autoscaler, "settle_s", None)
    if not kept or settle is None or not quiet(ep):
        return None
    env, period = ep.env, float(autoscaler.period_s)
    now = float(env._now)  # SimPy starts the clock at the int 0
    last_change = max(ep.changed_at, ep.busy.t, ep.last_arrival or 0.0)
    if now - last_change < settle:
        return None
    if not (period.is_integer() and period >= 1.0 and now.is_integer() and now < EXACT):
        return None
    n = ticks_to_wake(now, period, next_event(ep, now))
    if n is not None and (n <= 2 or now + n * period >= EXACT):
        return None
    skip = getattr(autoscaler, "skip_ticks", None)
    if n is None:
        return env.event()  # nothing will ever happen again: the loop sleeps for good
    # Wake on the last tick before the event, not the first after: it runs as usual and
    # records the constant observation there, which closes the span in the metric windows.
    if skip is not None:
        skip(now + period, n - 2)
    return timeout_at(ep, now + (n - 1) * period)


def timeout_at(ep: Endpoint, t: float) -> Any:
    """A SimPy timeout firing at exactly `t` (env.timeout would add a rounded delay)."""
    env = ep.env
    event = Event(env)
    event._ok, event._value = True, None
    heappush(env._queue, (t, NORMAL, next(env._eid), event))
    return event
