"""One worker (pod): its lifecycle state and exact processor sharing.

A worker serving k requests runs each at speed 1/s(k), s(k) = 1 + alpha (k - 1).
All jobs on a worker advance at the same speed, so a per-worker virtual clock
V (service seconds received by every job present) makes this exact and cheap:
each job's finish (and first token) is a fixed point in virtual time, kept on
a heap; only the next milestone is scheduled in real time, and rescheduled
when k changes the speed.
"""

from __future__ import annotations

from enum import IntEnum

INF = float("inf")


class State(IntEnum):
    PROVISIONING = 0  # waiting for a GPU node (k8s phase Pending)
    PULLING = 1  # pulling the image (k8s phase Pending)
    STARTING = 2  # running, not ready: model load, readiness probe
    READY = 3  # serving
    DRAINING = 4  # scaled down or failed: no new requests
    STOPPED = 5


FINISH = 1  # milestone kinds on a worker's heap; first tokens sort before finishes
FIRST_TOKEN = 0


class Worker:
    """A pod. `jobs` holds (virtual time, milestone kind, request index)."""

    __slots__ = (
        "id",
        "state",
        "k",
        "v",
        "t_last",
        "speed",
        "jobs",
        "gen",
        "next_v",
        "requested_at",
        "ready_at",
        "drain_at",
        "stop_at",
        "max_k",
        "idle_event",
        "cold",
        "area",
        "failed_at",
    )

    def __init__(self, wid: int, now: float, cold: bool) -> None:
        self.id = wid
        self.state = State.PROVISIONING
        self.k = 0  # requests in service
        self.v = 0.0  # virtual clock: service seconds each present job has received
        self.t_last = now  # real time at which v was last brought up to date
        self.speed = 1.0  # 1 / s(k) for the current k
        self.jobs: list[tuple[float, int, int]] = []
        self.gen = 0  # bumps on every reschedule so stale calendar entries are ignored
        self.next_v = INF  # virtual time of the milestone currently scheduled
        self.requested_at = now
        self.ready_at = INF
        self.drain_at = INF
        self.stop_at = INF
        self.max_k = 0
        self.idle_event = None  # SimPy event a draining worker waits on
        self.cold = cold  # started by the autoscaler (a cold start), not at t = 0
        self.area = 0.0  # ∫ k dt: the pod's own concurrency metric, up to t_last
        self.failed_at = INF  # when the pod failed ([faults]); inf if it never did

    def catch_up(self, now: float) -> None:
        """Bring the virtual clock and ∫ k dt up to real time `now`."""
        if self.k:
            dt = now - self.t_last
            self.v += dt * self.speed
            self.area += dt * self.k
        self.t_last = now

    def area_at(self, now: float) -> float:
        """∫ k dt from the pod's start up to `now` (>= t_last)."""
        return self.area + self.k * (now - self.t_last)


def speed_table(alpha: float, limit: int) -> list[float]:
    """speed[k] = 1 / s(k) for k = 0..limit (speed[0] unused, set to 1)."""
    return [1.0] + [1.0 / (1.0 + alpha * (k - 1)) for k in range(1, limit + 1)]
