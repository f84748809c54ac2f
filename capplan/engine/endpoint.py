"""One Launch endpoint: the router or the async queue, service, and the control loop.

Request paths (the hot loop) are plain callbacks driven by
`MergedEnvironment.run_merged`; worker lifecycles (`lifecycle.Pool`) and the
autoscaler's control loop (`control.ControlLoop`), which this class extends, are
SimPy processes.
Per-request results are written straight into numpy arrays.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from heapq import heappop, heappush

import numpy as np

from capplan.distributions import Dist
from capplan.engine.clock import INF, MergedEnvironment
from capplan.engine.columns import Buffer, Column
from capplan.engine.config import EngineConfig
from capplan.engine.control import ControlLoop
from capplan.engine.integral import TimeIntegral
from capplan.engine.llm_worker import LlmRequests
from capplan.engine.records import (
    EXPIRED,
    OK,
    PENDING,
    REJECTED_429,
    REJECTED_503,
    STATUS_NAMES,
    TIMELINE_COLUMNS,
    EngineRecord,
    timeline_array,
    worker_table,
)
from capplan.engine.worker import FINISH, FIRST_TOKEN, State, Worker, speed_table

__all__ = [
    "EXPIRED",
    "OK",
    "PENDING",
    "REJECTED_429",
    "REJECTED_503",
    "STATUS_NAMES",
    "TIMELINE_COLUMNS",
    "Endpoint",
    "EngineRecord",
]

MILESTONE, RETRY, SEND = 0, 1, 2  # calendar event kinds
READY, DRAINING = State.READY, State.DRAINING
EPS = 1e-9  # virtual-time tolerance when popping milestones that are due


class Endpoint(ControlLoop):
    """The state of one endpoint during a run."""

    # Per-request columns: numpy arrays, each over the buffer `<name>_buf` that the request
    # paths write through (capplan.engine.columns).
    start = Column()
    first_token = Column()
    end = Column()
    worker_of = Column()
    status = Column()
    start_buf: Buffer
    first_token_buf: Buffer
    end_buf: Buffer
    worker_of_buf: Buffer
    status_buf: Buffer

    def __init__(
        self,
        env: MergedEnvironment,
        cfg: EngineConfig,
        arrival: np.ndarray,
        total_work: np.ndarray,
        first_token_work: np.ndarray | None,
        cold_start: Dist,
        cold_rng: np.random.Generator,
        tokens: tuple[np.ndarray, np.ndarray] | None = None,
        fault_rng: np.random.Generator | None = None,
    ) -> None:
        super().__init__(env, cfg, cold_start, cold_rng, fault_rng)
        n = len(arrival)
        self.calendar, self.seq = env.calendar, env.seq
        self.arrival = arrival
        self.arrival_list: list[float] = arrival.tolist()
        self.work: list[float] = total_work.tolist()
        self.ft_work: list[float] | None = (
            first_token_work.tolist() if first_token_work is not None else None
        )
        self.start = np.full(n, np.nan)
        self.first_token = np.full(n, np.nan)
        self.end = np.full(n, np.nan)
        self.worker_of = np.full(n, -1, dtype=np.int32)
        self.status = np.zeros(n, dtype=np.int8)
        self.retries = np.zeros(n, dtype=np.int16)
        self.limit = cfg.concurrency_limit
        self.speed = speed_table(cfg.batching_alpha, self.limit)
        self.queue: deque[int] = deque()  # async broker queue (FIFO)
        # Requests in service on every pod, and their integral: KEDA's Prometheus sum over
        # the endpoint's series (the HPA's per-pod metric is each Worker's own area).
        self.busy = TimeIntegral()
        self.last_arrival: float | None = None
        self.changed_at = 0.0  # last worker state or replica change (engine.idle reads it)
        self.skip_idle = True  # False: tick every period (the reference engine.idle is tested on)
        self.hold_fixed = True  # False: a fixed pool runs its policy (engine.fixed's reference)
        self.timeline: list[tuple[float, ...]] = []
        self.timeline_wanted = True  # a streamed run (engine.stream) keeps no timeline
        # A closed loop's clients (engine.closed) learn every final answer through this.
        self.on_final: Callable[[int, float], None] | None = None

        # Bound once: the hot loop calls this for every request.
        self.arrive = self._arrive_async if cfg.is_async else self._arrive_sync
        self.tokens = tokens
        self.llm: LlmRequests | None = None
        if cfg.llm is not None:
            if tokens is None:
                raise ValueError("the llm service needs the requests' token counts")
            self.llm = LlmRequests(self, cfg.llm, *tokens)
            # Instance attributes shadow the processor-sharing methods: no test in the hot loop.
            self._start = self.llm.start  # type: ignore[method-assign]
            self._admit = self.llm.admit  # type: ignore[method-assign]
            self.on_milestone = self.llm.on_milestone  # type: ignore[method-assign]

    # ------------------------------------------------------------ arrivals
    def _arrive_sync(self, i: int) -> None:
        self.last_arrival = self.env._now  # Launch gateway refreshes KEDA's activity key
        self.attempt(i, 0)

    def _arrive_async(self, i: int) -> None:
        self.last_arrival = self.env._now
        if not self.queue:
            w = self._least_loaded()
            if w is not None:
                self._start(w, i)
                return
        self.queue.append(i)

    def _least_loaded(self) -> Worker | None:
        """Istio LEAST_REQUEST: the ready worker with fewest in flight, below its limit."""
        best, best_k = None, self.limit
        for w in self.ready:
            if w.k < best_k:
                best, best_k = w, w.k
        return best

    def attempt(self, i: int, _tag: int) -> None:
        """One try of a sync request through the gateway; 429/503 go to the retry schedule."""
        w = self._least_loaded()
        if w is not None:
            self._start(w, i)
            return
        # 429 when pods exist but are all at their limit; 503 when none is ready.
        self._retry(i, self.env._now, REJECTED_429 if self.ready else REJECTED_503)

    def _retry(self, i: int, now: float, failure: int) -> None:
        """Schedule the gateway's next try of request i, or fail it with `failure`."""
        cfg = self.cfg
        tries = int(self.retries[i]) + 1
        # Launch gateway: stop after max_retries + 1 attempts or once timeout_seconds have passed.
        if tries > cfg.max_retries or now - self.arrival_list[i] >= cfg.gateway_timeout_s:
            self.status[i] = failure
            self.end[i] = now
            if self.on_final is not None:
                self.on_final(i, now)
            return
        self.retries[i] = tries
        # tenacity wait_exponential(multiplier 1, min, max, exp_base): base ** (attempt - 1).
        wait = min(
            max(cfg.retry_backoff_base ** (tries - 1), cfg.retry_min_wait_s), cfg.retry_max_wait_s
        )
        self.env.at(now + wait, RETRY, i)

    # ------------------------------------------------------------ service
    def _admit(self, w: Worker, i: int, now: float) -> None:
        """Put request i in service on w (virtual clock already caught up)."""
        busy = self.busy  # TimeIntegral.change(now, 1), inlined: hot path
        busy.area += busy.level * (now - busy.t)
        busy.t = now
        busy.level += 1
        w.k += 1
        if w.k > w.max_k:
            w.max_k = w.k
        self.start_buf[i] = now  # the buffers behind self.start, self.worker_of (engine.columns)
        self.worker_of_buf[i] = w.id
        heappush(w.jobs, (w.v + self.work[i], FINISH, i))
        if self.ft_work is not None:
            ft = self.ft_work[i]
            if ft > 0.0:
                heappush(w.jobs, (w.v + ft, FIRST_TOKEN, i))
            else:
                self.first_token_buf[i] = now

    def _start(self, w: Worker, i: int) -> None:
        now = self.env._now
        if w.k:  # catch the virtual clock up (Worker.catch_up, inlined: hot path)
            dt = now - w.t_last
            w.v += dt * w.speed
            w.area += dt * w.k
        w.t_last = now
        old_speed = w.speed
        self._admit(w, i, now)
        w.speed = self.speed[w.k]
        if w.speed != old_speed or w.jobs[0][0] < w.next_v:
            self._reschedule(w, now)

    def _reschedule(self, w: Worker, now: float) -> None:
        """Schedule w's next milestone in real time; older calendar entries go stale."""
        w.gen += 1
        if w.jobs:
            w.next_v = w.jobs[0][0]
            gap = w.next_v - w.v
            # env.at, inlined: this runs once per request
            t = now + (gap if gap > 0.0 else 0.0) / w.speed
            heappush(self.calendar, (t, next(self.seq), MILESTONE, w, w.gen))
        else:
            w.next_v = INF

    def on_milestone(self, w: Worker, gen: int) -> None:
        """A first token or a finish on w is due (unless w was rescheduled since)."""
        if gen != w.gen:
            return
        now = self.env._now
        if w.k:  # Worker.catch_up, inlined: hot path
            dt = now - w.t_last
            w.v += dt * w.speed
            w.area += dt * w.k
        w.t_last = now
        v = w.v
        jobs = w.jobs
        due = v + (EPS * v if v > 1.0 else EPS)
        done = 0
        while jobs and jobs[0][0] <= due:
            _, kind, i = heappop(jobs)
            if kind == FIRST_TOKEN:
                self.first_token_buf[i] = now  # buffers behind the columns (engine.columns)
            else:
                self.end_buf[i] = now
                self.status_buf[i] = OK
                done += 1
        if done:
            busy = self.busy  # TimeIntegral.change(now, -done), inlined: hot path
            busy.area += busy.level * (now - busy.t)
            busy.t = now
            busy.level -= done
            w.k -= done
        if self.queue and w.state is READY:
            self._pull(w, now)
        w.speed = speed = self.speed[w.k]
        w.gen += 1  # self._reschedule(w, now), inlined: hot path (_pull leaves w.v as it was)
        if jobs:
            w.next_v = next_v = jobs[0][0]
            gap = next_v - v
            heappush(
                self.calendar,
                (now + (gap if gap > 0.0 else 0.0) / speed, next(self.seq), MILESTONE, w, w.gen),
            )
            return
        w.next_v = INF
        if w.idle_event is not None and not w.idle_event.triggered:
            w.idle_event.succeed()

    def _pull(self, w: Worker, now: float) -> None:
        """Async: w takes queued tasks, oldest first, up to its concurrency; expired ones drop."""
        queue, expiry = self.queue, self.cfg.task_expiry_s
        while queue and w.k < self.limit:
            i = queue.popleft()
            if now - self.arrival_list[i] >= expiry:
                self.status[i] = EXPIRED
                self.end[i] = self.arrival_list[i] + expiry
                if self.on_final is not None:  # the client learns it now, when it is found
                    self.on_final(i, now)
                continue
            self._admit(w, i, now)

    def on_retry(self, i: int, _tag: int) -> None:
        self.attempt(i, 0)

    def close_loop(self, on_final: Callable[[int, float], None]) -> None:
        """Tell `on_final(i, now)` of every final answer (a closed loop's clients).

        The processor-sharing milestone is wrapped rather than changed, so open-loop
        runs keep their hot path as it is; the llm path and the failure paths call
        `on_final` themselves.
        """
        self.on_final = on_final
        if self.llm is None:
            self.on_milestone = self._on_milestone_closed  # type: ignore[method-assign]

    def _on_milestone_closed(self, w: Worker, gen: int) -> None:
        if gen != w.gen:
            return
        serving = [i for _, kind, i in w.jobs if kind == FINISH]
        Endpoint.on_milestone(self, w, gen)
        now, status = self.env._now, self.status
        for i in serving:
            if status[i] != PENDING:
                self.on_final(i, now)  # type: ignore[misc]

    def on_send(self, i: int, _tag: int) -> None:
        """A closed loop's client sends request i now (its arrival time is set here)."""
        now = self.env._now
        self.arrival[i] = now
        self.arrival_list[i] = now
        self.arrive(i)

    # ------------------------------------------------------------ lifecycle hooks
    def _on_ready(self, w: Worker) -> None:
        if self.queue:
            self._feed(w)

    def _on_grace_over(self, w: Worker) -> None:
        self._kill(w)

    def _on_failure(self, w: Worker) -> None:
        """The pod died: async tasks go back on the queue (the broker redelivers them);
        sync requests go through the gateway's retries like a connection error, except a
        stream that has already sent tokens, which the gateway cannot retry."""
        now = self.env._now
        unfinished = self._evict(w, now)
        if self.cfg.is_async:
            self._requeue(unfinished)
            return
        for i in unfinished:
            if self.ft_work is not None and not np.isnan(self.first_token[i]):
                self.status[i], self.end[i] = REJECTED_503, now
                if self.on_final is not None:
                    self.on_final(i, now)
                continue
            self.start[i] = self.first_token[i] = np.nan
            self.worker_of[i] = -1
            self._retry(i, now, REJECTED_503)

    def _kill(self, w: Worker) -> None:
        """Grace period over: sync requests fail (503); async tasks go back on the queue."""
        now = self.env._now
        unfinished = self._evict(w, now)
        if self.cfg.is_async:
            self._requeue(unfinished)
            return
        for i in unfinished:
            self.status[i], self.end[i] = REJECTED_503, now
            if self.on_final is not None:
                self.on_final(i, now)

    def _evict(self, w: Worker, now: float) -> list[int]:
        """Take every unfinished request off w; returns them, oldest index first."""
        if self.llm is not None:
            unfinished = self.llm.unfinished(w)
        else:
            unfinished = sorted(i for _, kind, i in w.jobs if kind == FINISH)
        self.busy.change(now, -len(unfinished))
        w.catch_up(now)
        w.jobs.clear()
        w.k = 0
        w.gen += 1
        return unfinished

    def _requeue(self, tasks: list[int]) -> None:
        """Async tasks back at the head of the queue, then to whichever workers have room."""
        for i in tasks:
            self.start[i] = self.first_token[i] = np.nan
            self.worker_of[i] = -1
        self.queue.extendleft(reversed(tasks))
        for r in self.ready:
            self._feed(r)

    def _feed(self, w: Worker) -> None:
        now = self.env._now
        if self.llm is not None:
            self.llm.refresh(w, now)
            return
        w.catch_up(now)
        self._pull(w, now)
        w.speed = self.speed[w.k]
        self._reschedule(w, now)

    # ------------------------------------------------------------ results
    def finish(self, horizon: float) -> EngineRecord:
        if self.cfg.is_async:
            self._expire_queued(horizon)
        return EngineRecord(
            arrival=self.arrival,
            start=self.start,
            first_token=self.first_token,
            end=self.end,
            worker=self.worker_of,
            status=self.status,
            retries=self.retries,
            workers=worker_table(self.workers),
            timeline=timeline_array(self.timeline),
            horizon=horizon,
            concurrency_limit=self.limit,
            cost_per_hour=self.cfg.cost_per_hour,
            prompt_tokens=self.tokens[0] if self.tokens is not None else None,
            output_tokens=self.tokens[1] if self.tokens is not None else None,
        )

    def _expire_queued(self, horizon: float) -> None:
        expiry = self.cfg.task_expiry_s
        for i in self.queue:
            if horizon - self.arrival_list[i] >= expiry:
                self.status[i] = EXPIRED
                self.end[i] = self.arrival_list[i] + expiry
