"""``closed``: a closed loop, as load tests run (`vllm bench serve --max-concurrency`).

`concurrency` clients each send a request, wait for its answer, and send the
next one at once; the run ends after `requests` requests in total, or at the
horizon, whichever comes first (without `requests`, at the horizon). Arrival
times are not drawn: they depend on the endpoint's answers, so the engine sets
them as answers come back (`capplan.engine.closed`). Only the requests' sizes
are drawn here: from the `context_tokens` / `generated_tokens` distributions,
or the rows of an Azure LLM trace (`path`) in order, from `start_s` on (for
`duration_s` seconds when given), starting again at the first when the rows
run out.

With a trace, `resample = "blocks"` (the default) gives replications 1, 2, …
their own order of the rows, as `kind = "trace"` does: a circular block
bootstrap of the trace from `start_s` on (`capplan.workload.trace.resample_blocks`,
blocks of `block_s` seconds of trace time, "resample" stream), read in its
time order and cycled like the rows themselves. So the replications behind a
confidence verdict differ in which stretches of the trace (long prompts, long
answers) the clients send. Replication 0 keeps the exact in-order replay (a
load test as recorded); `"none"` gives every replication that replay. The
reordered rows are built once per run, about the trace's size (which is held
anyway), whatever the horizon.

Sizes come in blocks of fixed lengths (BLOCKS) whatever `requests` is, and the
engine asks for the next block only when its clients need it: request j has
the same size in every run of a seed, so a run cut by the horizon before
`requests` is the run without `requests`, and a loop sent to the horizon draws
only what it sends (plus less than one block).

The expected arrival rate depends on the endpoint, not on the workload, so a
closed loop has no rate of its own: the planner neither screens it nor states
a lower bound for it (`capplan.planner`).
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import chain, repeat
from typing import TYPE_CHECKING

import numpy as np

from capplan.errors import CapplanError
from capplan.validation import field_error
from capplan.workload.draws import Requests, check_warmup, stream_rng
from capplan.workload.kind import Kind
from capplan.workload.trace import check_blocks, resample_blocks, trace_window

if TYPE_CHECKING:
    from capplan.scenario import WorkloadSpec

# Block lengths: small first (a short load test draws little), doubling to a cap
# (the engine's arrays then grow, or stream, a block at a time).
FIRST_BLOCK = 1 << 10
LAST_BLOCK = 1 << 17


def block_lengths() -> Iterator[int]:
    """1024, 2048, … , 131072, 131072, … : the same for every closed-loop run."""
    doubling = (FIRST_BLOCK << k for k in range((LAST_BLOCK // FIRST_BLOCK).bit_length()))
    return chain(doubling, repeat(LAST_BLOCK))


class Closed(Kind):
    name = "closed"
    needs = ("concurrency",)
    open_loop = False

    @classmethod
    def check(cls, spec: WorkloadSpec) -> None:
        if spec.concurrency is None:
            raise field_error("concurrency", "kind 'closed' needs the number of clients (>= 1)")
        if spec.path is not None and (spec.context_tokens or spec.generated_tokens):
            raise ValueError("kind 'closed' takes token lengths from path or the distributions")
        if spec.spans is not None:  # spans cut an open loop's pre-drawn arrivals
            raise field_error("spans", "kind 'closed' takes none: its arrivals follow the pool")

    @property
    def clients(self) -> int:
        return int(self.spec.concurrency)  # type: ignore[arg-type]

    @property
    def total(self) -> int | None:
        """Requests sent in all; None: as many as the clients send before the horizon."""
        return self.spec.requests

    def requests(self, seed: int, replication: int) -> Requests:
        """All `requests` requests' sizes (arrival times NaN until the engine sends each)."""
        total = self.total
        if total is None:
            raise CapplanError(
                "workload.requests: a closed loop without `requests` runs to the horizon and "
                "has no fixed list of requests; give `requests` to list them"
            )
        parts, n = [], 0
        for block in self.request_windows(seed, replication):
            parts.append(block)
            n += len(block)
            if n >= total:
                break
        return Requests(
            *(np.concatenate([getattr(p, k) for p in parts])[:total] for k in _ARRAYS),
            self.horizon,
            self.spec.warmup_s,
        )

    def request_windows(self, seed: int, replication: int) -> Iterator[Requests]:
        """The requests' sizes in blocks of `block_lengths()`, endless without `requests`.

        Blocks are drawn whole even past `requests` (the caller cuts), so request j's
        size never depends on `requests`.
        """
        check_warmup(self.spec.warmup_s, self.horizon)
        rng = stream_rng(seed, replication, "sizes")
        rows = self._replayed_rows(seed, replication) if self.spec.path is not None else None
        total, start = self.total, 0
        for n in block_lengths():
            if total is not None and start >= total:
                return
            if rows is None:
                yield self._sized(np.full(n, np.nan), rng)
            else:
                yield self._rows(rows, start, n)
            start += n

    def _rows(self, rows: tuple[np.ndarray, np.ndarray], start: int, n: int) -> Requests:
        context, generated = rows
        index = np.arange(start, start + n) % len(context)
        return Requests(
            np.full(n, np.nan),
            context[index],
            np.maximum(generated[index], 1),  # an EOS still costs a decode step
            self.horizon,
            self.spec.warmup_s,
        )

    def _replayed_rows(self, seed: int, replication: int) -> tuple[np.ndarray, np.ndarray]:
        """The trace's rows in the order this replication's clients send them."""
        t, context, generated = self._trace_rows()
        if self.spec.resample == "blocks" and replication > 0:
            rng = stream_rng(seed, replication, "resample")
            order = bootstrap_order(rng, t, self.spec.block_s, self._window(t))
            return context[order], generated[order]
        return context, generated

    def _trace_rows(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(seconds from start_s, context, generated) of the rows from start_s on (for
        `duration_s` seconds when given, as `kind = "trace"` reads its window)."""
        t, context, generated = trace_window(self.spec)
        if not t.size:  # trace_window refuses a start_s past the last row; so duration_s
            start, end = self.spec.start_s, self.spec.start_s + (self.spec.duration_s or 0.0)
            raise CapplanError(
                f"workload.duration_s: {self.spec.path} has no rows in [{start:g}, {end:g}) s"
            )
        return t, context, generated

    def _window(self, t: np.ndarray) -> float:
        """The rows' time circle: `duration_s`, else just past the last row."""
        return self.spec.duration_s or _span(t)

    def expected_draws(self) -> float:
        """`requests`; without it 0 up front: the engine stops a loop that sends more
        than simulation.max_requests before the horizon (`capplan.engine.closed`).
        A trace cut into too many bootstrap blocks is refused here, before any run."""
        if self.spec.path is not None and self.spec.resample == "blocks":
            t, _, _ = self._trace_rows()
            check_blocks(self._window(t), self.spec.block_s)  # checked before any run
        return float(self.total) if self.total is not None else 0.0

    def mean_tokens(self) -> tuple[float, float]:
        if self.spec.path is None:
            return super().mean_tokens()
        _, context, generated = self._trace_rows()
        return float(context.mean()), float(np.maximum(generated, 1).mean())

    # A closed loop's rate is the endpoint's throughput: the workload alone has none.
    def rate_at(self, t: np.ndarray) -> np.ndarray:
        raise _no_rate()

    def cumulative(self, t: np.ndarray, seed: int, replication: int) -> np.ndarray:
        raise _no_rate()

    def scaled(self, factor: float) -> WorkloadSpec:
        """More traffic from a closed loop is more clients."""
        return self.spec.model_copy(update={"concurrency": max(1, round(self.clients * factor))})

    def describe(self) -> str:
        sizes = f", sizes from {self.spec.path}" if self.spec.path is not None else ""
        if self.spec.path is not None and self.spec.resample == "blocks":
            sizes += (
                " (replications after the first read its rows in the order of a circular "
                f"block bootstrap, {self.spec.block_s:g}-s blocks)"
            )
        until = "until the horizon" if self.total is None else f"{self.total} requests"
        return (
            f"a closed loop of {self.clients} clients sending {until} "
            f"(each sends its next request when its last is answered){sizes}"
        )


_ARRAYS = ("arrival", "context_tokens", "generated_tokens")


def _span(t: np.ndarray) -> float:
    """The rows' time circle: just past the last row, as `Trace.window_length` reads it."""
    return float(np.nextafter(t[-1], np.inf))


def bootstrap_order(
    rng: np.random.Generator, t: np.ndarray, block_s: float, window: float | None = None
) -> np.ndarray:
    """Row indices, in send order, of one circular block bootstrap of rows at times t.

    `resample_blocks` on the circle [0, window) (default: just past the last row; every
    t must be inside it): its replicate's rows in time order. Every index is a row of
    the trace, and each row is expected once (that function's docstring). A replicate
    can hold no row at all when blocks are shorter than the trace's gaps; it is then
    drawn again from the same rng, so the order stays a function of the seed. That ends:
    each row falls in some slot's arc with probability 1 − (1 − 1/n)^n ≥ 1 − 1/e per
    draw (n slots). Rows that share one timestamp give a circle of one float ulp, one
    block: the order is the trace's own (no time to cut).
    """
    window = _span(t) if window is None else window
    while True:
        _, rows = resample_blocks(rng, t, window, block_s)
        if rows.size:
            return rows


def _no_rate() -> CapplanError:
    return CapplanError(
        "workload.kind: 'closed' has no arrival rate of its own (it follows the endpoint's "
        "answers): what asked for its rate needs an open-loop workload"
    )
