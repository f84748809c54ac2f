"""Arrival times and request sizes, drawn up front as numpy arrays.

One class per workload kind (`Kind` in `kind.py` is what each answers):

- ``poisson``: homogeneous, exponential gaps (`poisson.py`).
- ``diurnal``: a daily sine rate, by thinning (`diurnal.py`).
- ``piecewise``: a step rate read from a ``time_s,rate`` CSV, by thinning (`piecewise.py`).
- ``mmpp``: Markov-modulated Poisson, bursts between phases (`mmpp.py`).
- ``trace``: replay of an Azure LLM inference trace, thinned or superposed (`trace.py`).
- ``closed``: `concurrency` clients, each sending its next request when its last
  is answered (`closed.py`); the engine sets the arrival times.

Synthetic kinds draw token counts from the spec's ``context_tokens`` /
``generated_tokens`` distributions; when absent they are 1000 prompt tokens and
100 output tokens for every request (deterministic).

Adding a kind: a `Kind` subclass in its own module, one entry in `KINDS`, and
its keys on `WorkloadSpec`. The functions below are the API the rest of capplan
uses; they only dispatch to the kind.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np

from capplan.errors import CapplanError
from capplan.workload.closed import Closed
from capplan.workload.diurnal import Diurnal
from capplan.workload.draws import (
    BIN_S,
    DEFAULT_CONTEXT_TOKENS,
    DEFAULT_GENERATED_TOKENS,
    MAX_TOKENS,
    Requests,
    poisson_times,
    stream_rng,
)
from capplan.workload.kind import DEFAULT_HORIZON_S, Kind
from capplan.workload.mmpp import Mmpp
from capplan.workload.piecewise import Piecewise, load_piecewise
from capplan.workload.poisson import Poisson
from capplan.workload.trace import Trace
from capplan.workload.trace_file import load_trace

if TYPE_CHECKING:
    from capplan.scenario import WorkloadSpec

KINDS: dict[str, type[Kind]] = {
    k.name: k for k in (Poisson, Diurnal, Mmpp, Trace, Piecewise, Closed)
}
# Default of `[simulation] max_requests`: the most requests (summed over the
# replications) a run may draw before it is refused as a likely mistake.
DEFAULT_MAX_REQUESTS = 20_000_000.0


def kind_of(spec: WorkloadSpec) -> Kind:
    """The kind object of a validated spec."""
    return KINDS[spec.kind](spec)


def generate(spec: WorkloadSpec, seed: int, replication: int = 0) -> Requests:
    """The requests of one replication: identical for identical (spec, seed, replication)."""
    return kind_of(spec).requests(seed, replication)


def generate_windows(spec: WorkloadSpec, seed: int, replication: int = 0) -> Iterator[Requests]:
    """The requests of `generate`, a day at a time for long horizons (bounded memory)."""
    return kind_of(spec).request_windows(seed, replication)


def horizon(spec: WorkloadSpec) -> float:
    """Simulated seconds: horizon_s, else 3600 s, or a trace's own window."""
    return kind_of(spec).horizon


def scale_traffic(spec: WorkloadSpec, factor: float) -> WorkloadSpec:
    """The same workload with every rate multiplied by `factor` (what-if traffic growth)."""
    if not (np.isfinite(factor) and factor > 0):
        raise CapplanError(f"traffic multiplier: must be a finite number > 0, got {factor}")
    return kind_of(spec).scaled(factor)


def rate_at(spec: WorkloadSpec, t: np.ndarray) -> np.ndarray:
    """Expected arrival rate λ(t), requests/s.

    trace: the window's empirical rate in 60-s bins × rate_multiplier (0 outside
    [0, horizon)); mmpp: the stationary mean rate (the phase is random).
    """
    return kind_of(spec).rate_at(np.asarray(t, dtype=float))


def minute_rates(spec: WorkloadSpec, seed: int = 0, replication: int = 0) -> np.ndarray:
    """Expected requests/s in each 60-s bin over the horizon (the last bin may be shorter).

    Analytic for poisson, diurnal and piecewise (the mean of λ over the bin).
    trace: the window's counts per bin × rate_multiplier. mmpp: the realised
    phase path of (seed, replication) — the rate λ averaged over the bin given
    which phases the chain visited, so bursts show (its arrivals are still random).
    """
    return kind_of(spec).minute_rates(seed, replication)


def minute_bins(
    spec: WorkloadSpec, seed: int = 0, replication: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """(bin edges, minute_rates): the rates together with the bins they average over."""
    kind = kind_of(spec)
    return kind.bin_edges(), kind.minute_rates(seed, replication)


def peak_rate(spec: WorkloadSpec, seed: int = 0) -> float:
    """The highest minute rate, requests/s (0 for an empty horizon)."""
    rates = minute_rates(spec, seed)
    return float(rates.max()) if rates.size else 0.0


def mean_tokens(spec: WorkloadSpec) -> tuple[float, float]:
    """Mean (context, generated) tokens per request: the trace window's, or the Dists'.

    For synthetic kinds this ignores rounding to whole tokens (a fraction of a token).
    """
    return kind_of(spec).mean_tokens()


def describe(spec: WorkloadSpec) -> str:
    """One sentence for the report: the arrivals, horizon, warm-up and token sizes."""
    kind = kind_of(spec)
    tokens = ""
    if spec.context_tokens is not None or spec.generated_tokens is not None:
        ctx = spec.context_tokens.describe() if spec.context_tokens else "–"
        gen = spec.generated_tokens.describe() if spec.generated_tokens else "–"
        tokens = f"; prompt tokens {ctx}, output tokens {gen}"
    return (
        f"{kind.describe()}; horizon {kind.horizon_text()}, "
        f"warm-up {spec.warmup_s:g} s excluded{tokens}"
    )


def expected_requests(spec: WorkloadSpec) -> float:
    """Requests one replication draws, expected (before thinning): the work estimate."""
    return kind_of(spec).expected_draws()


def check_volume(spec: WorkloadSpec, replications: int, limit: float, where: str = "") -> None:
    """Refuse a run whose expected requests × replications exceed `limit`.

    A rate of 1e12/s or a horizon of 1e9 s is almost always a typo; drawing it
    would exhaust memory or run for hours before saying anything.
    """
    per_rep = expected_requests(spec)
    total = per_rep * replications
    if not total <= limit:
        name = f" ({where})" if where else ""
        raise CapplanError(
            f"workload{name}: about {per_rep:.3g} requests × {replications} replications = "
            f"{total:.3g}, above simulation.max_requests = {limit:.3g}; lower the rate, the "
            "horizon or the replications, or raise the limit "
            f"(--max-requests {_round_up(total)})"
        )


def _round_up(x: float) -> str:
    """x rounded up to two significant figures, for a limit the user can paste."""
    if not math.isfinite(x):
        return "N"
    scale = 10 ** max(math.floor(math.log10(max(x, 1.0))) - 1, 0)
    return f"{math.ceil(x / scale) * scale:.0f}"


__all__ = [
    "BIN_S",
    "DEFAULT_CONTEXT_TOKENS",
    "DEFAULT_GENERATED_TOKENS",
    "DEFAULT_HORIZON_S",
    "DEFAULT_MAX_REQUESTS",
    "KINDS",
    "MAX_TOKENS",
    "Kind",
    "Requests",
    "check_volume",
    "describe",
    "expected_requests",
    "generate",
    "generate_windows",
    "horizon",
    "kind_of",
    "load_piecewise",
    "load_trace",
    "mean_tokens",
    "minute_bins",
    "minute_rates",
    "peak_rate",
    "poisson_times",
    "rate_at",
    "scale_traffic",
    "stream_rng",
]
