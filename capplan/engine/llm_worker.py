"""The LLM service model inside the endpoint: each worker runs an LlmWorker batch.

`LlmRequests` replaces the processor-sharing path of `Endpoint` when the
service kind is "llm". The Launch limits stay as they are: a worker takes up to
concurrency_limit requests from the router (above it the forwarder answers
429), and those beyond the engine's max_num_seqs wait in the worker's own
queue. Each worker has one live calendar entry, its batch's next milestone
(prefill done, decode done, KV cache full or an admission), as the virtual
clock gives one for processor sharing.
"""

from __future__ import annotations

from heapq import heappush
from typing import TYPE_CHECKING

import numpy as np

from capplan.engine.records import OK
from capplan.engine.worker import State, Worker
from capplan.llm.batch import INF, LlmParams, LlmWorker

if TYPE_CHECKING:
    from capplan.engine.endpoint import Endpoint

MILESTONE = 0  # calendar event kind (capplan.engine.endpoint)


class LlmRequests:
    """Admission, milestones and draining of LLM workers for one endpoint."""

    def __init__(
        self, endpoint: Endpoint, params: LlmParams, prompt: np.ndarray, output: np.ndarray
    ) -> None:
        self.ep = endpoint
        self.params = params
        self.prompt: list[float] = prompt.astype(float).tolist()
        self.output: list[float] = output.astype(float).tolist()
        self.batches: dict[int, LlmWorker] = {}  # worker id -> its engine's batch

    def batch(self, w: Worker) -> LlmWorker:
        b = self.batches.get(w.id)
        if b is None:
            b = LlmWorker(self.params, self.prompt, self.output, self.ep.first_token)
            self.batches[w.id] = b
        return b

    def start(self, w: Worker, i: int) -> None:
        """The router gives request i to w."""
        now = self.ep.env._now
        self.admit(w, i, now)
        self.refresh(w, now)

    def admit(self, w: Worker, i: int, now: float) -> None:
        """Request i enters w's own queue (counted in flight from now on)."""
        ep = self.ep
        ep.busy.change(now, 1)
        w.catch_up(now)  # the pod's own ∫ k dt, for the HPA's per-pod metric
        w.k += 1
        if w.k > w.max_k:
            w.max_k = w.k
        ep.start[i] = now
        ep.worker_of[i] = w.id
        self.batch(w).add(i, now)

    def on_milestone(self, w: Worker, gen: int) -> None:
        if gen == w.gen:
            self.refresh(w, self.ep.env._now)

    def refresh(self, w: Worker, now: float) -> None:
        """Run w's batch up to now, pull queued async tasks, schedule its next milestone."""
        ep = self.ep
        b = self.batches.get(w.id)
        if b is None:
            b = self.batch(w)
        done = b.step(now)
        while done:
            self._ended(w, done, now)
            if not (ep.queue and w.state is State.READY):
                break
            ep._pull(w, now)
            done = b.step(now)
        if ep.queue and w.state is State.READY and w.k < ep.limit:
            ep._pull(w, now)
            self._ended(w, b.step(now), now)
        w.gen += 1
        t = b.next_time()
        if t < INF:
            heappush(ep.calendar, (t, next(ep.seq), MILESTONE, w, w.gen))
        if w.idle_event is not None and not (b.waiting or b.running) and not w.idle_event.triggered:
            w.idle_event.succeed()

    def _ended(self, w: Worker, done: list[int], now: float) -> None:
        if not done:
            return
        ep = self.ep
        for i in done:
            ep.end[i] = now
            ep.status[i] = OK
            if ep.on_final is not None:
                ep.on_final(i, now)
        ep.busy.change(now, -len(done))
        w.catch_up(now)
        w.k -= len(done)

    def renumber(self, new: dict[int, int], prompt: np.ndarray, output: np.ndarray) -> None:
        """A streamed run renumbered its requests (request i is now new[i]) and appended
        a chunk whose token counts are `prompt` and `output`."""
        keep = list(new)  # ascending: the old indices still in the system
        self.prompt = [self.prompt[i] for i in keep] + prompt.astype(float).tolist()
        self.output = [self.output[i] for i in keep] + output.astype(float).tolist()
        for b in self.batches.values():
            b.renumber(new, self.prompt, self.output, self.ep.first_token)

    def unfinished(self, w: Worker) -> list[int]:
        """Requests still on w when its grace period ends; the batch is emptied."""
        b = self.batch(w)
        left = b.unfinished()
        b.clear()
        w.gen += 1
        return left
