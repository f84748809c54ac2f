"""The clients of a closed loop: each sends its next request when its last is answered.

One loop (`ClosedLoop`) for the endpoint (`run_closed`) and for the
single-worker load-test replayer (`capplan.llm.loadtest`). Requests are sent
in index order, so the requests sent so far are always 0 .. sent − 1.
"Answered" means any final status: a completion, a 429 or 503 the gateway
gave up retrying, a stream cut by a failed pod. A client whose request
failed sends its next one at once, as `vllm bench serve` does.

How many requests a loop sends before the horizon depends on the endpoint's
answers, so the request arrays are not sized up front: the sizes come in
blocks (`capplan.workload.closed`), and a run takes the next block when its
clients have sent every request it holds. With records, the arrays grow
(numpy arrays by doubling, amortised O(1) per request); without
(`sink`), the requests that are done go to the sink and the rest move to the
front, as `capplan.engine.stream` does for open loops, so memory is
O(block + clients + workers) whatever the horizon. Either way the run is
event for event the same, so records or not, and `requests` or not, give the
same answers until the horizon or `requests` ends the loop.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import numpy as np

from capplan.engine.clock import MergedEnvironment
from capplan.engine.config import EngineConfig
from capplan.engine.endpoint import SEND, Endpoint
from capplan.engine.records import PENDING, EngineRecord
from capplan.engine.setup import start_endpoint, without_cycle_collector
from capplan.engine.stream import Chunk, Sink, _append, _renumber, emptied
from capplan.errors import CapplanError


class ClosedLoop:
    """`clients` clients sending `total` requests in all (None: no end but the horizon)."""

    __slots__ = ("sent", "total")

    def __init__(self, clients: int, total: int | None) -> None:
        if clients < 1:
            raise ValueError(f"a closed loop needs at least one client, got {clients}")
        self.total = total
        # every client sends its first request at once
        self.sent = clients if total is None else min(clients, total)

    def first(self) -> range:
        """The requests sent at the start."""
        return range(self.sent)

    def answered(self) -> int | None:
        """A client got its answer: the request it sends next, or None when all are sent."""
        if self.total is not None and self.sent >= self.total:
            return None
        self.sent += 1
        return self.sent - 1


# The per-request arrays of an Endpoint and the value of a request not yet sent.
_ARRAYS = (
    ("arrival", np.nan),
    ("start", np.nan),
    ("first_token", np.nan),
    ("end", np.nan),
    ("worker_of", -1),
    ("status", PENDING),
    ("retries", 0),
)


class Clients:
    """A closed loop driving one endpoint; request j of the loop is index j − shift there."""

    def __init__(
        self,
        env: MergedEnvironment,
        endpoint: Endpoint,
        loop: ClosedLoop,
        blocks: Iterator[Chunk],
        limit: float,
        sink: Sink | None,
    ) -> None:
        self.env, self.ep, self.loop = env, endpoint, loop
        self.blocks, self.limit, self.sink = blocks, limit, sink
        self.held = len(endpoint.work)  # requests the endpoint's arrays hold sizes for
        self.shift = 0  # requests handed to the sink and dropped (records: always 0)
        self.tokens: list[tuple[np.ndarray, np.ndarray]] = []  # records: blocks of tokens
        if endpoint.tokens is not None and sink is None:
            self.tokens.append(endpoint.tokens)
        endpoint.close_loop(self.answered)

    def start(self) -> None:
        for j in self.loop.first():
            self.env.at(0.0, SEND, j)

    def answered(self, _i: int, now: float) -> None:
        """A client got its answer: its next request goes out now (after what is due now)."""
        j = self.loop.answered()
        if j is not None:
            self.env.at(now, SEND, j)

    def on_send(self, j: int, _tag: int) -> None:
        """Request j of the loop goes out now; first make room for it if needed."""
        if j >= self.limit:
            raise CapplanError(
                f"workload.requests: the closed loop sent {self.limit:.3g} requests "
                f"(simulation.max_requests) before the horizon ({self.env._now:g} s into "
                "the run); give `requests`, shorten horizon_s or raise simulation.max_requests"
            )
        i = j - self.shift
        while i >= self.held:
            block = next(self.blocks, None)
            if block is None:  # cannot happen: the blocks hold `requests` requests
                raise ValueError("closed loop: no sizes left for a request to send")
            if self.sink is None:
                self._grow(block)
            else:
                self._compact(block, i)
                i = j - self.shift
        self.ep.on_send(i, 0)

    def _grow(self, block: Chunk) -> None:
        """Records: append the block, growing the numpy arrays by doubling."""
        ep = self.ep
        _, work, first_token, output, prompt = block
        n = len(work)
        need = self.held + n
        if need > len(ep.status):
            size = max(need, 2 * len(ep.status))
            for name, fill in _ARRAYS:
                old = getattr(ep, name)
                new = np.full(size, fill, dtype=old.dtype)
                new[: len(old)] = old
                setattr(ep, name, new)
            if ep.llm is not None:  # its batches write first tokens into the new array
                for batch in ep.llm.batches.values():
                    batch.first_token = ep.first_token
        ep.arrival_list.extend([np.nan] * n)
        ep.work.extend(work.tolist())
        if ep.ft_work is not None and first_token is not None:
            ep.ft_work.extend(first_token.tolist())
        if ep.llm is not None:  # the batches read these lists: extended in place
            ep.llm.prompt.extend(prompt.astype(float).tolist())  # type: ignore[union-attr]
            ep.llm.output.extend(output.astype(float).tolist())  # type: ignore[union-attr]
        if self.tokens:
            self.tokens.append((prompt, output))  # type: ignore[arg-type]
        self.held = need

    def _compact(self, block: Chunk, used: int) -> None:
        """No records: requests 0 .. used − 1 that are done go to the sink, the rest to the
        front (their order kept, `capplan.engine.stream`), then the block behind them."""
        ep = self.ep
        live = np.flatnonzero(ep.status[:used] == PENDING)
        _sink_done(ep, used, live, self.sink)  # type: ignore[arg-type]
        new = _renumber(ep, live)
        _append(ep, live, block)
        if ep.llm is not None:  # after _append: the batches point at the new arrays
            ep.llm.renumber(new, block[4], block[3])  # type: ignore[arg-type]
        self.shift += used - len(live)
        self.held = len(live) + len(block[1])

    def record(self, horizon: float) -> EngineRecord:
        """The run's record: the requests sent (records), or the rest to the sink."""
        ep = self.ep
        used = self.loop.sent - self.shift
        if self.tokens:
            ep.tokens = tuple(np.concatenate(t) for t in zip(*self.tokens, strict=True))  # type: ignore[assignment]
        record = sent_only(ep.finish(horizon), used)
        if self.sink is None:
            return record
        self.sink(
            record.arrival,
            record.start,
            record.first_token,
            record.end,
            record.status,
            None if ep.stream_tokens is None else ep.stream_tokens[:used],  # type: ignore[attr-defined]
        )
        return emptied(record)


def _sink_done(ep: Endpoint, used: int, live: np.ndarray, sink: Sink) -> None:
    done = np.ones(used, dtype=bool)
    done[live] = False
    tokens = ep.stream_tokens  # type: ignore[attr-defined]
    sink(
        ep.arrival[:used][done],
        ep.start[:used][done],
        ep.first_token[:used][done],
        ep.end[:used][done],
        ep.status[:used][done],
        None if tokens is None else tokens[:used][done],
    )


def run_closed(
    cfg: EngineConfig,
    blocks: Iterator[Chunk],
    horizon: float,
    cold_rng: np.random.Generator,
    clients: int,
    total: int | None,
    *,
    limit: float = float("inf"),
    fault_rng: np.random.Generator | None = None,
    sink: Sink | None = None,
    skip_idle: bool = True,
    hold_fixed: bool = True,
) -> EngineRecord:
    """Simulate one endpoint under a closed loop of `clients` clients from t = 0 to `horizon`.

    blocks: the requests' sizes, consecutive, as `capplan.engine.stream` chunks
    (arrival ignored; prompt and output tokens when the service or TPOT needs them);
    at least `total` requests, or endless when total is None.
    limit: the most requests the loop may send (a CapplanError past it).
    sink: None keeps every request sent in the record, with the times it was sent;
    else every request goes to `sink` and the record has only the workers' table.
    """
    first = next(blocks)
    _, work, first_token, output, prompt = first
    env = MergedEnvironment()
    both = prompt is not None and output is not None
    tokens = (prompt, output) if both and (sink is None or cfg.llm is not None) else None
    nan = np.full(len(work), np.nan)
    endpoint = Endpoint(
        env,
        cfg,
        nan,
        work,
        first_token,
        cfg.cold_start,
        cold_rng,
        tokens,
        fault_rng,  # type: ignore[arg-type]
    )
    endpoint.skip_idle = skip_idle
    endpoint.hold_fixed = hold_fixed
    if sink is not None:
        endpoint.timeline_wanted = False
        endpoint.stream_tokens = output  # type: ignore[attr-defined]
    del first, work, first_token, output, prompt, tokens
    loop = Clients(env, endpoint, ClosedLoop(clients, total), blocks, limit, sink)
    loop.start()
    start_endpoint(endpoint, cfg)
    with without_cycle_collector():
        env.run_merged(
            [],
            endpoint.arrive,
            (endpoint.on_milestone, endpoint.on_retry, loop.on_send),
            until=horizon,
        )
    return loop.record(horizon)


def sent_only(record: EngineRecord, sent: int) -> EngineRecord:
    """The record of requests 0 .. sent − 1: the rest were never sent before the horizon."""
    cut = {
        name: getattr(record, name)[:sent]
        for name in ("arrival", "start", "first_token", "end", "worker", "status", "retries")
    }
    for name in ("prompt_tokens", "output_tokens"):
        values = getattr(record, name)
        cut[name] = None if values is None else values[:sent]
    return replace(record, **cut)
