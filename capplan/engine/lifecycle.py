"""Worker lifecycles: start-up (node, image and model, readiness), scale-down, draining.

`Pool` owns the worker lists and the SimPy processes that move a pod through
its states; the endpoint subclasses it and answers two hooks where the
requests are concerned: a worker became ready, a draining worker's grace period
ran out.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from capplan.distributions import Dist
from capplan.engine.clock import MergedEnvironment
from capplan.engine.config import EngineConfig
from capplan.engine.worker import State, Worker


class Pool:
    """The pods of one endpoint and what the ReplicaSet does to them."""

    def __init__(
        self,
        env: MergedEnvironment,
        cfg: EngineConfig,
        cold_start: Dist,
        cold_rng: np.random.Generator,
        fault_rng: np.random.Generator | None = None,
    ) -> None:
        self.env, self.cfg = env, cfg
        self.cold_start, self.cold_rng = cold_start, cold_rng
        self.cold_draws: list[float] = []  # draw i belongs to worker i, whatever the timing
        self.fault_rng = fault_rng
        self.fault_draws: list[float] = []  # time to failure of worker i, once it runs
        self.workers: list[Worker] = []
        self.pending: list[Worker] = []  # provisioning or starting (not draining)
        self.ready: list[Worker] = []  # ready, oldest first
        self.draining: list[Worker] = []
        self.desired = cfg.min_workers

    # ------------------------------------------------------------ hooks
    def _on_ready(self, w: Worker) -> None:
        """w has just passed readiness."""

    def _on_grace_over(self, w: Worker) -> None:
        """w's termination grace period ended with requests still on it."""

    def _on_failure(self, w: Worker) -> None:
        """w failed: whatever it was serving is lost."""

    def record(self) -> None:
        """A worker changed state."""

    # ------------------------------------------------------------ start-up
    def boot(self) -> None:
        """A deployed endpoint: min_workers ready at t = 0."""
        for _ in range(self.cfg.min_workers):
            w = Worker(len(self.workers), 0.0, cold=False)
            w.state, w.ready_at = State.READY, 0.0
            self.workers.append(w)
            self.ready.append(w)
            self._watch(w)

    def _launch(self) -> None:
        w = Worker(len(self.workers), self.env._now, cold=True)
        if self.cfg.node_provisioning_s <= 0 or self.cfg.high_priority:
            w.state = State.PULLING  # no GPU node to wait for: never shown as provisioning
        self.workers.append(w)
        self.pending.append(w)
        self.env.process(self._start_up(w))

    def _start_up(self, w: Worker) -> Any:
        cfg, env = self.cfg, self.env
        # Launch: high_priority pods preempt the warm balloon pool and skip node provisioning.
        if cfg.node_provisioning_s > 0 and not cfg.high_priority:
            yield env.timeout(cfg.node_provisioning_s)
            if w.state == State.STOPPED:
                return
        load = self._cold_draw(w.id)
        pull = min(cfg.image_pull_s, load)
        w.state = State.PULLING if pull > 0 else State.STARTING
        self.record()
        if pull > 0:
            yield env.timeout(pull)
            if w.state == State.STOPPED:
                return
            w.state = State.STARTING  # containers run: the model loads, not yet ready
        yield env.timeout(self._time_to_ready(load) - pull)
        if w.state == State.STOPPED:
            return
        w.state, w.ready_at = State.READY, env.now
        self.pending.remove(w)
        self.ready.append(w)
        self._watch(w)
        self._on_ready(w)
        self.record()

    def _cold_draw(self, wid: int) -> float:
        while wid >= len(self.cold_draws):
            self.cold_draws.extend(self.cold_start.sample(self.cold_rng, 64).tolist())
        return self.cold_draws[wid]

    def _time_to_ready(self, load_s: float) -> float:
        """Kubernetes readiness: first probe at the initial delay, then every period."""
        delay, period = self.cfg.readiness_delay_s, self.cfg.probe_period_s
        if load_s <= delay:
            return delay
        return delay + math.ceil((load_s - delay) / period - 1e-12) * period

    # ------------------------------------------------------------ scale-down
    def scale_to(self, desired: int) -> None:
        """Make the non-draining worker count `desired` (a ReplicaSet's job)."""
        self.desired = desired
        current = len(self.pending) + len(self.ready)
        for _ in range(desired - current):
            self._launch()
        for _ in range(current - desired):
            self._remove_one()

    def _remove_one(self) -> None:
        # ReplicaSet scale-down deletes not-ready pods first, then the most recently ready.
        now = self.env._now
        if self.pending:
            w = self.pending.pop()
            w.state, w.stop_at = State.STOPPED, now
            return
        w = self.ready.pop()
        w.state, w.drain_at = State.DRAINING, now
        if w.k == 0:
            w.state, w.stop_at = State.STOPPED, now
            return
        self.draining.append(w)
        self.env.process(self._drain(w))

    def _drain(self, w: Worker) -> Any:
        env = self.env
        w.idle_event = env.event()
        # Launch: terminationGracePeriodSeconds bounds how long in-flight work may finish.
        yield w.idle_event | env.timeout(self.cfg.drain_grace_s)
        if w.state == State.STOPPED:
            return  # it failed while draining
        if w.k:
            self._on_grace_over(w)
        w.state, w.stop_at = State.STOPPED, env.now
        self.draining.remove(w)
        self.record()

    # ------------------------------------------------------------ faults
    def _watch(self, w: Worker) -> None:
        """Start w's failure clock when it starts running ([faults] only)."""
        if self.cfg.worker_mtbf_s < math.inf and self.fault_rng is not None:
            self.env.process(self._fail_after(w))

    def _fail_after(self, w: Worker) -> Any:
        yield self.env.timeout(self._fault_draw(w.id))
        if w.state in (State.READY, State.DRAINING):
            self._fail(w)

    def _fault_draw(self, wid: int) -> float:
        assert self.fault_rng is not None
        while wid >= len(self.fault_draws):
            more = self.fault_rng.exponential(self.cfg.worker_mtbf_s, 64)
            self.fault_draws.extend(more.tolist())
        return self.fault_draws[wid]

    def _fail(self, w: Worker) -> None:
        """A running pod dies: its work is lost and, unless it was being deleted anyway,
        the ReplicaSet replaces it with a new pod (node provisioning and a cold start)."""
        now = self.env._now
        replace = w.state == State.READY
        (self.ready if replace else self.draining).remove(w)
        self._on_failure(w)
        w.state, w.stop_at, w.failed_at = State.STOPPED, now, now
        if w.idle_event is not None and not w.idle_event.triggered:
            w.idle_event.succeed()
        if replace:
            self._launch()
        self.record()
