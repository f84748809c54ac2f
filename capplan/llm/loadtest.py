"""A load test replayed on one LLM worker, as `vllm bench serve` runs it.

Three shapes, as the load-testing tools send them: a burst (N requests at
t = 0), a closed loop (C clients, each sending its next request when its last
one finishes, `--max-concurrency`), and Poisson arrivals at a rate. The worker
model is `capplan.llm.batch.LlmWorker`; this module only feeds it, without
SimPy or autoscaling, so a calibration can simulate hundreds of load levels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from capplan.engine.closed import ClosedLoop
from capplan.llm.batch import INF, LlmParams, LlmWorker

Mode = Literal["burst", "closed", "poisson"]


@dataclass(frozen=True, slots=True)
class LoadResult:
    """Per-request times of one load test (seconds), plus its token counts."""

    arrival: np.ndarray
    first_token: np.ndarray
    end: np.ndarray
    prompt: np.ndarray
    output: np.ndarray
    prefill_busy_s: float  # seconds the worker spent prefilling, at full-speed equivalent

    @property
    def ttft(self) -> np.ndarray:
        return self.first_token - self.arrival

    @property
    def tpot(self) -> np.ndarray:
        """(end − first token) / (output − 1), for requests with at least 2 output tokens."""
        many = self.output >= 2
        return (self.end[many] - self.first_token[many]) / (self.output[many] - 1)

    @property
    def makespan(self) -> float:
        return float(np.max(self.end) - np.min(self.arrival)) if len(self.end) else 0.0

    @property
    def output_throughput(self) -> float:
        """Output tokens per second over the whole test, as vllm bench reports it."""
        span = self.makespan
        return float(self.output.sum() / span) if span > 0 else 0.0


def run_load(
    params: LlmParams,
    prompt: np.ndarray,
    output: np.ndarray,
    mode: Mode,
    load: float,
    rng: np.random.Generator | None = None,
) -> LoadResult:
    """Replay len(prompt) requests on one worker.

    load: ignored for a burst; the number of clients for "closed"; requests/s for
    "poisson" (rng draws the gaps).
    """
    n = len(prompt)
    if mode == "poisson":
        if rng is None:
            raise ValueError("poisson needs an rng")
        arrival = np.cumsum(rng.exponential(1.0 / load, n))
    else:
        arrival = np.zeros(n)
    clients = n if mode != "closed" else max(1, min(int(load), n))
    return _replay(params, prompt, output, arrival, clients, mode == "closed")


def _replay(
    params: LlmParams,
    prompt: np.ndarray,
    output: np.ndarray,
    arrival: np.ndarray,
    clients: int,
    closed: bool,
) -> LoadResult:
    n = len(prompt)
    first = [float("nan")] * n
    end = [float("nan")] * n
    worker = LlmWorker(params, prompt.astype(float).tolist(), output.astype(float).tolist(), first)
    times = arrival.astype(float).tolist()
    nxt = 0  # next request to send
    loop = ClosedLoop(clients, n) if closed else None
    while True:
        pending = loop.sent if loop is not None else n  # known arrival times
        t_arr = times[nxt] if nxt < pending else INF
        t_w = worker.next_time()
        if t_arr == INF and t_w == INF:
            break
        if t_arr <= t_w:
            worker.add(nxt, t_arr)
            nxt += 1
            now = t_arr
        else:
            now = t_w
        for i in worker.step(now):
            end[i] = now
            j = loop.answered() if loop is not None else None
            if j is not None:
                times[j] = now  # the client sends its next request at once
    return LoadResult(
        np.asarray(times),
        np.asarray(first),
        np.asarray(end),
        np.asarray(prompt, dtype=float),
        np.asarray(output, dtype=float),
        worker.prefill_busy_s,
    )
