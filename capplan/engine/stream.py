"""A run whose memory does not grow with the horizon: requests arrive in chunks.

`run_endpoint_stream` feeds the endpoint one chunk of arrivals at a time.
When a chunk is used up, the requests that are done (any status but
in-flight) go to a sink (the summary's tally) and leave the per-request
arrays; the ones still in the system (queued, in service, waiting for a
retry) move to the front and the next chunk goes behind them. Their indices
change, so every place that holds one is rewritten: workers' job heaps, the
async queue, the retry entries of the calendar and the llm service's
batches. The renumbering keeps the order of indices, so each heap stays a
valid heap and ties still break the same way: the run is event for event the
one `run_endpoint` would make with all the arrivals at once.
Memory is O(chunk + requests in the system + workers).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace

import numpy as np

from capplan.engine.clock import MergedEnvironment
from capplan.engine.config import EngineConfig
from capplan.engine.endpoint import RETRY, Endpoint
from capplan.engine.records import PENDING, EngineRecord
from capplan.engine.setup import start_endpoint, without_cycle_collector

# Consecutive arrivals: (arrival, work, first-token work, output tokens, prompt tokens).
# The last three may be None: first tokens for STREAMING only, output tokens for
# TPOT and the llm service, prompt tokens for the llm service only.
Chunk = tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None, np.ndarray | None]
# Receives finished requests: arrival, start, first_token, end, status arrays.
Sink = Callable[..., None]  # (arrival, start, first_token, end, status, output_tokens)

_FIELDS = ("arrival", "start", "first_token", "end", "worker_of", "status", "retries")


def run_endpoint_stream(
    cfg: EngineConfig,
    chunks: Iterable[Chunk],
    horizon: float,
    cold_rng: np.random.Generator,
    sink: Sink,
    fault_rng: np.random.Generator | None = None,
) -> EngineRecord:
    """Simulate like `run_endpoint`, handing every request to `sink` instead of keeping it.

    The record returned has the workers' table but no per-request arrays and no
    timeline: every request, finished or censored at the horizon, went to `sink`.
    """
    chunks = iter(chunks)
    first = next((c for c in chunks if len(c[0])), None)
    if first is None:  # no arrivals at all
        first = (np.zeros(0), np.zeros(0), None, np.zeros(0), np.zeros(0))
    env = MergedEnvironment()
    # The llm service's batches need both token counts of every request in the system.
    tokens = (first[4], first[3]) if cfg.llm is not None else None
    endpoint = Endpoint(
        env,
        cfg,
        first[0],
        first[1],
        first[2],
        cfg.cold_start,
        cold_rng,
        tokens,  # type: ignore[arg-type]
        fault_rng=fault_rng,
    )
    endpoint.timeline_wanted = False
    # Output tokens ride along with the requests so the sink can tally TPOT.
    endpoint.stream_tokens = first[3]  # type: ignore[attr-defined]
    del first, tokens  # the endpoint holds what it needs; a chunk is a view of a whole window
    start_endpoint(endpoint, cfg)
    with without_cycle_collector():
        env.run_merged(
            endpoint.arrival_list,
            endpoint.arrive,
            (endpoint.on_milestone, endpoint.on_retry),
            until=horizon,
            refill=lambda i: _refill(endpoint, chunks, i, sink),
        )
    record = endpoint.finish(horizon)
    sink(
        record.arrival,
        record.start,
        record.first_token,
        record.end,
        record.status,
        endpoint.stream_tokens,  # type: ignore[attr-defined]
    )
    return emptied(record)


def emptied(record: EngineRecord) -> EngineRecord:
    """The record without its per-request arrays: they went to the sink."""
    empty = np.zeros(0)
    return replace(
        record,
        arrival=empty,
        start=empty,
        first_token=empty,
        end=empty,
        worker=np.zeros(0, dtype=np.int32),
        status=np.zeros(0, dtype=np.int8),
        retries=np.zeros(0, dtype=np.int16),
        timeline=record.timeline[:0],
        prompt_tokens=None,
        output_tokens=None,
    )


def _refill(
    endpoint: Endpoint, chunks: Iterator[Chunk], used: int, sink: Sink
) -> tuple[list[float], int]:
    """Hand finished requests to `sink`, keep the rest at the front, append the next chunk."""
    chunk = next((c for c in chunks if len(c[0])), None)
    if chunk is None:
        return endpoint.arrival_list, used  # no more arrivals: carry on as before
    live = np.flatnonzero(endpoint.status[:used] == PENDING)
    done = np.ones(used, dtype=bool)
    done[live] = False
    e = endpoint
    tokens = e.stream_tokens  # type: ignore[attr-defined]
    sink(
        e.arrival[done],
        e.start[done],
        e.first_token[done],
        e.end[done],
        e.status[done],
        None if tokens is None else tokens[done],
    )
    new = _renumber(endpoint, live)
    _append(endpoint, live, chunk)
    if endpoint.llm is not None:  # after _append: the batches point at the new arrays
        endpoint.llm.renumber(new, chunk[4], chunk[3])  # type: ignore[arg-type]
    return endpoint.arrival_list, len(live)


def _renumber(endpoint: Endpoint, live: np.ndarray) -> dict[int, int]:
    """Request live[j] becomes j wherever an index is held (an order-keeping map)."""
    new = {old: j for j, old in enumerate(live.tolist())}
    for w in endpoint.workers:
        if w.jobs:
            w.jobs[:] = [(v, kind, new[i]) for v, kind, i in w.jobs]
    endpoint.queue = deque(new[i] for i in endpoint.queue)
    calendar = endpoint.calendar
    for n, entry in enumerate(calendar):
        if entry[2] == RETRY:  # (t, seq, kind, request, tag): t and seq keep the heap order
            calendar[n] = (entry[0], entry[1], RETRY, new[entry[3]], entry[4])
    return new


def _append(endpoint: Endpoint, live: np.ndarray, chunk: Chunk) -> None:
    arrival, work, ft_work, tokens, _ = chunk
    if endpoint.stream_tokens is not None and tokens is not None:  # type: ignore[attr-defined]
        endpoint.stream_tokens = np.concatenate([endpoint.stream_tokens[live], tokens])  # type: ignore[attr-defined]
    n = len(arrival)
    fresh = {
        "arrival": arrival,
        "start": np.full(n, np.nan),
        "first_token": np.full(n, np.nan),
        "end": np.full(n, np.nan),
        "worker_of": np.full(n, -1, dtype=np.int32),
        "status": np.zeros(n, dtype=np.int8),
        "retries": np.zeros(n, dtype=np.int16),
    }
    for name in _FIELDS:
        setattr(endpoint, name, np.concatenate([getattr(endpoint, name)[live], fresh[name]]))
    keep = live.tolist()
    endpoint.arrival_list = [endpoint.arrival_list[i] for i in keep] + arrival.tolist()
    endpoint.work = [endpoint.work[i] for i in keep] + work.tolist()
    if endpoint.ft_work is not None and ft_work is not None:
        endpoint.ft_work = [endpoint.ft_work[i] for i in keep] + ft_work.tolist()
