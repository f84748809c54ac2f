"""The base of every workload kind: what the rest of capplan asks of a workload.

A kind wraps the validated `WorkloadSpec` of one template and answers: its
horizon, one replication's requests, its expected rate and cumulative rate,
the same workload at another traffic level, and a sentence for the report.
Open-loop kinds (everything today) draw their requests up front; a closed-loop
kind (clients that wait for an answer before sending again) would set
`open_loop = False` and hand the engine its client model instead of arrivals.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from capplan.workload.draws import (
    DEFAULT_CONTEXT_TOKENS,
    DEFAULT_GENERATED_TOKENS,
    Requests,
    bin_edges,
    check_warmup,
    sample_tokens,
    stream_rng,
)

if TYPE_CHECKING:
    from capplan.scenario import WorkloadSpec

DEFAULT_HORIZON_S = 3600.0
# Long horizons are drawn a day at a time, so memory follows the day, not the horizon.
WINDOW_S = 86400.0
_REQUEST_ARRAYS = ("arrival", "context_tokens", "generated_tokens")


class Kind:
    """One workload kind. Subclasses set `name` and `needs` and draw arrivals."""

    name: ClassVar[str]
    needs: ClassVar[tuple[str, ...]]  # spec fields this kind cannot do without
    open_loop: ClassVar[bool] = True  # arrivals do not depend on the endpoint's answers
    windowed: ClassVar[bool] = False  # draws a window of time on its own (arrivals_between)

    def __init__(self, spec: WorkloadSpec) -> None:
        self.spec = spec

    # ------------------------------------------------------------ validation
    @classmethod
    def check(cls, spec: WorkloadSpec) -> None:
        """Raise ValueError naming what is missing or inconsistent in `spec`."""
        missing = [k for k in cls.needs if getattr(spec, k) is None]
        if missing:
            raise ValueError(f"kind {cls.name!r} needs {', '.join(missing)}")

    # ------------------------------------------------------------ time
    @property
    def horizon(self) -> float:
        """Simulated seconds."""
        s = self.spec.horizon_s
        return s if s is not None else DEFAULT_HORIZON_S

    def bin_edges(self) -> np.ndarray:
        """Edges of the minute bins over the horizon."""
        return bin_edges(self.horizon)

    # ------------------------------------------------------------ requests
    def requests(self, seed: int, replication: int) -> Requests:
        """The requests of one replication: identical for identical (spec, seed, replication).

        For a long horizon of a `windowed` kind, the windows of `request_windows`, joined.
        """
        horizon = self.horizon
        check_warmup(self.spec.warmup_s, horizon)
        if not self._in_windows():
            sizes = stream_rng(seed, replication, "sizes")
            return self._sized(self.arrivals(seed, replication, horizon), sizes)
        parts = list(self.request_windows(seed, replication))
        return Requests(
            *(np.concatenate([getattr(p, k) for p in parts]) for k in _REQUEST_ARRAYS),
            horizon,
            self.spec.warmup_s,
        )

    def request_windows(self, seed: int, replication: int) -> Iterator[Requests]:
        """The requests of one replication, one window of WINDOW_S at a time.

        Kinds that can draw a window on its own (`windowed`, `arrivals_between`)
        do so for horizons longer than a window: a Poisson process restarted at
        each window edge is the same process (independent increments), and only
        one window's draws are in memory at once. Token counts continue one
        stream across windows. Other kinds, and horizons within one window,
        give `requests` whole, drawn exactly as before.
        """
        if not self._in_windows():
            yield self.requests(seed, replication)
            return
        check_warmup(self.spec.warmup_s, self.horizon)
        sizes = stream_rng(seed, replication, "sizes")
        rng = stream_rng(seed, replication, "arrivals")
        for lo in np.arange(0.0, self.horizon, WINDOW_S).tolist():
            hi = min(lo + WINDOW_S, self.horizon)
            yield self._sized(self.arrivals_between(rng, lo, hi), sizes)

    def _in_windows(self) -> bool:
        return self.windowed and self.horizon > WINDOW_S

    def _sized(self, arrival: np.ndarray, sizes: np.random.Generator) -> Requests:
        n = len(arrival)
        context = sample_tokens(
            self.spec.context_tokens,
            DEFAULT_CONTEXT_TOKENS,
            sizes,
            n,
            low=0,
            key="workload.context_tokens",
        )
        # Every request produces at least one output token (an EOS still costs a decode step).
        generated = sample_tokens(
            self.spec.generated_tokens,
            DEFAULT_GENERATED_TOKENS,
            sizes,
            n,
            low=1,
            key="workload.generated_tokens",
        )
        return Requests(arrival, context, generated, self.horizon, self.spec.warmup_s)

    def arrivals_between(self, rng: np.random.Generator, lo: float, hi: float) -> np.ndarray:
        """Arrival times on [lo, hi), ascending, from `rng` (kinds with `windowed` True)."""
        raise NotImplementedError

    def arrivals(self, seed: int, replication: int, horizon: float) -> np.ndarray:
        """Arrival times on [0, horizon), ascending."""
        raise NotImplementedError

    def expected_draws(self) -> float:
        """How many arrivals one replication draws (before any thinning): the
        work estimate the volume limit compares with."""
        return float(self.cumulative(np.array([self.horizon]), 0, 0)[0])

    def mean_tokens(self) -> tuple[float, float]:
        """Mean (context, generated) tokens per request (ignoring rounding to whole tokens)."""
        spec = self.spec
        ctx = spec.context_tokens.expected if spec.context_tokens else DEFAULT_CONTEXT_TOKENS
        gen = spec.generated_tokens.expected if spec.generated_tokens else DEFAULT_GENERATED_TOKENS
        return float(ctx), max(float(gen), 1.0)

    # ------------------------------------------------------------ rates
    def rate_at(self, t: np.ndarray) -> np.ndarray:
        """Expected arrival rate λ(t), requests/s."""
        raise NotImplementedError

    def cumulative(self, t: np.ndarray, seed: int, replication: int) -> np.ndarray:
        """Λ(t) = ∫_0^t λ: the expected count up to each t."""
        raise NotImplementedError

    def minute_rates(self, seed: int, replication: int) -> np.ndarray:
        """Expected requests/s in each minute bin: the mean of λ over the bin."""
        edges = self.bin_edges()
        return np.diff(self.cumulative(edges, seed, replication)) / np.diff(edges)

    # ------------------------------------------------------------ what-ifs and words
    def scaled(self, factor: float) -> WorkloadSpec:
        """The same workload with every rate multiplied by factor (> 0)."""
        raise NotImplementedError

    def describe(self) -> str:
        """What the arrivals are, in a few words for the report."""
        raise NotImplementedError

    def horizon_text(self) -> str:
        return f"{self.horizon:g} s"
