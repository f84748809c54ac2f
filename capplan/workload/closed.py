"""``closed``: a closed loop, as load tests run (`vllm bench serve --max-concurrency`).

`concurrency` clients each send a request, wait for its answer, and send the
next one at once; the run ends after `requests` requests in total or at the
horizon, whichever comes first. Arrival times are not drawn: they depend on
the endpoint's answers, so the engine sets them as answers come back
(`capplan.engine.closed`). Only the requests' sizes are drawn here: from the
`context_tokens` / `generated_tokens` distributions, or the rows of an Azure
LLM trace (`path`) in order, from `start_s` on, starting again at the first
when the rows run out.

The expected arrival rate depends on the endpoint, not on the workload, so a
closed loop has no rate of its own: the planner, whose screening and lower
bound read rates, refuses it with one clear error.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from capplan.errors import CapplanError
from capplan.workload.draws import Requests, check_warmup, stream_rng
from capplan.workload.kind import Kind
from capplan.workload.trace_file import load_trace

if TYPE_CHECKING:
    from capplan.scenario import WorkloadSpec


class Closed(Kind):
    name = "closed"
    needs = ("concurrency", "requests")
    open_loop = False

    @classmethod
    def check(cls, spec: WorkloadSpec) -> None:
        super().check(spec)
        if spec.path is not None and (spec.context_tokens or spec.generated_tokens):
            raise ValueError("kind 'closed' takes token lengths from path or the distributions")

    @property
    def clients(self) -> int:
        return int(self.spec.concurrency)  # type: ignore[arg-type]

    @property
    def total(self) -> int:
        return int(self.spec.requests)  # type: ignore[arg-type]

    def requests(self, seed: int, replication: int) -> Requests:
        """The requests' sizes; arrival times are NaN until the engine sends each one."""
        check_warmup(self.spec.warmup_s, self.horizon)
        n = self.total
        if self.spec.path is None:
            return self._sized(np.full(n, np.nan), stream_rng(seed, replication, "sizes"))
        context, generated = self._trace_rows()
        rows = np.arange(n) % len(context)
        return Requests(
            np.full(n, np.nan),
            context[rows],
            np.maximum(generated[rows], 1),  # an EOS still costs a decode step
            self.horizon,
            self.spec.warmup_s,
        )

    def _trace_rows(self) -> tuple[np.ndarray, np.ndarray]:
        t, context, generated = load_trace(self.spec.path)  # type: ignore[arg-type]
        keep = t >= self.spec.start_s
        if not keep.any():
            raise CapplanError(f"workload.start_s: {self.spec.path} has no rows from there on")
        return context[keep], generated[keep]

    def expected_draws(self) -> float:
        return float(self.total)

    def mean_tokens(self) -> tuple[float, float]:
        if self.spec.path is None:
            return super().mean_tokens()
        context, generated = self._trace_rows()
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
        return (
            f"a closed loop of {self.clients} clients sending {self.total} requests "
            f"(each sends its next request when its last is answered){sizes}"
        )


def _no_rate() -> CapplanError:
    return CapplanError(
        "workload.kind: 'closed' has no arrival rate of its own (it follows the endpoint's "
        "answers); simulate or compare it, or give recommend an open-loop workload"
    )
