"""Spans: simulate only some windows of a workload's horizon, back to back.

A workload with ``spans = [[a1, b1], [a2, b2], …]`` (sorted, disjoint, after
the warm-up, within the horizon) is simulated as the pieces
``[a_i − w_i, b_i)`` of the whole workload laid end to end, where
``w_i = min(span_warmup_s, a_i − b_{i−1})`` (``b_0 = 0``): each span is
preceded by up to ``span_warmup_s`` of the traffic that really precedes it,
and those seconds are not counted (a warm-up). When two spans are closer than
``span_warmup_s`` the warm-up is exactly the gap, so the state carried from
the earlier span into the later one is the state of the whole run.

The requests are the whole run's requests, not new draws: the whole horizon
is drawn as for a full run (a day at a time, with the same streams) and cut.
A request inside a span has the same arrival time (shifted), tokens and work
as in the full run of the same (seed, replication), so the spans' requests
are a subset of the full run's (common random numbers across fidelities).

Percentiles of a spans run are read at the whole horizon's level (see
`tail_level`): with ``N`` requests counted over the whole horizon and ``n``
in the spans, the summary's ``pNN`` is the spans' percentile at level about
``100 − (100 − NN)·N/n`` (exactly: `tail_level`). Proof that it is a lower
bound of the full run's pNN when every span request has the latency it has
in the full run: the full run has at most ``(1 − NN/100)·(N − 1) + 1``
requests slower than its pNN value ``x``; the spans hold a subset of them,
so the spans' order statistic just below those, and every percentile up to
its level, is at most ``x``. Each is estimated within the histogram's bound
(`capplan.quantiles`). A level below 0 says nothing: the value is reported
as 0. ``N`` and ``n`` are counted on the draws themselves (the whole
horizon is drawn), not estimated; for a histogram that holds fewer values
than requests (TPOT, say) N is its n × N/n. Whether
span requests have their full-run latency depends on the state carried in
(the planner's screening documents why the warm-up gets it there): that is
the one approximation.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from capplan.workload.draws import Requests

if TYPE_CHECKING:
    from capplan.scenario import WorkloadSpec
    from capplan.service import Work


@dataclass(frozen=True)
class SpanPlan:
    """Where each piece of the whole horizon goes in the spans run."""

    starts: np.ndarray  # a_i − w_i: where each piece begins in the whole horizon
    counted: np.ndarray  # a_i: where counting begins
    ends: np.ndarray  # b_i
    offsets: np.ndarray  # where each piece begins in the spans run
    full_warmup: float  # the whole run's own warm-up: requests before it count nowhere

    @property
    def horizon(self) -> float:
        return float(self.offsets[-1] + self.ends[-1] - self.starts[-1])

    @property
    def warmup(self) -> float:
        """Seconds at the start of the spans run that are not counted (the first warm-up)."""
        return float(self.counted[0] - self.starts[0])

    def excluded(self) -> tuple[tuple[float, float], ...]:
        """The later pieces' warm-ups, in spans-run time (the first is `warmup`)."""
        lo = self.offsets[1:]
        hi = lo + self.counted[1:] - self.starts[1:]
        return tuple((float(a), float(b)) for a, b in zip(lo, hi, strict=True) if b > a)


def plan_spans(spec: WorkloadSpec) -> SpanPlan:
    spans = np.asarray(spec.spans, dtype=float).reshape(-1, 2)
    a, b = spans[:, 0], spans[:, 1]
    prev_end = np.concatenate(([0.0], b[:-1]))
    starts = np.maximum(a - spec.span_warmup_s, prev_end)
    lengths = b - starts
    offsets = np.concatenate(([0.0], np.cumsum(lengths)[:-1]))
    return SpanPlan(starts, a, b, offsets, spec.warmup_s)


@dataclass
class SpanCut:
    """Cuts the whole run's windows to the spans, counting what each side counts."""

    plan: SpanPlan
    full_counted: int = 0  # requests the whole run would count (arrival >= its warm-up)
    span_counted: int = 0  # requests the spans run counts
    _pieces: list[int] = field(default_factory=list)

    def windows(self, whole: Iterator[tuple[Requests, Work]]) -> Iterator[tuple[Requests, Work]]:
        from capplan.service import Work

        p = self.plan
        for requests, work in whole:
            t = requests.arrival
            self.full_counted += int(np.count_nonzero(t >= p.full_warmup))
            piece = np.searchsorted(p.starts, t, side="right") - 1
            inside = (piece >= 0) & (t < p.ends[np.maximum(piece, 0)])
            keep = np.flatnonzero(inside)
            piece = piece[keep]
            shifted = t[keep] - p.starts[piece] + p.offsets[piece]
            self.span_counted += int(np.count_nonzero(t[keep] >= p.counted[piece]))
            yield (
                Requests(
                    shifted,
                    requests.context_tokens[keep],
                    requests.generated_tokens[keep],
                    p.horizon,
                    p.warmup,
                ),
                Work(work.total[keep], work.first_token[keep]),
            )

    @property
    def tail_ratio(self) -> float:
        """N / n: requests the whole run counts per request the spans count (>= 1)."""
        if self.span_counted == 0:
            return 1.0
        return max(1.0, self.full_counted / self.span_counted)


def tail_level(percentile: float, n: int, ratio: float) -> float:
    """The level at which the spans' n values bound the whole run's `percentile` from
    below, the whole run having N = n × ratio values; < 0 when they say nothing.

    numpy's percentile p of N values is at least the order statistic of rank
    floor(h), h = (N − 1)p/100 (0-based), so at most M = (N − 1)(1 − p/100) + 1
    values exceed it. The spans hold at most M of those; their order statistic of
    rank n − 1 − ceil(M), and every percentile at a level up to 100(n − 1 −
    ceil(M))/(n − 1), lies at or below it.
    """
    if n < 2:
        return -1.0
    big_n = n * ratio
    m = (big_n - 1.0) * (1.0 - percentile / 100.0) + 1.0
    return 100.0 * (n - 1 - math.ceil(m - 1e-9)) / (n - 1)


def check_spans(spec: WorkloadSpec, horizon: float) -> None:
    """Raise ValueError naming what is wrong with `spans` (sorted, disjoint, inside)."""
    prev = spec.warmup_s
    for n, (a, b) in enumerate(spec.spans or ()):
        if not a < b:
            raise ValueError(f"window {n}: start {a:g} must be < end {b:g}")
        if a < prev:
            raise ValueError(
                f"window {n}: starts at {a:g} s, before the previous span's end or the "
                f"warm-up ({prev:g} s); spans must be sorted, disjoint and after warmup_s"
            )
        if b > horizon:
            raise ValueError(f"window {n}: ends at {b:g} s, after the horizon ({horizon:g} s)")
        prev = b


def span_cut(spec: WorkloadSpec) -> SpanCut | None:
    """A fresh cutter for one run of a spans workload; None for a whole-horizon one."""
    return SpanCut(plan_spans(spec)) if spec.spans else None


def whole_horizon_cost(
    summary: dict[str, float],
    spec: WorkloadSpec,
    seed: int,
    pool: tuple[int, int, int],
    scales: bool,
    cost_per_hour: float,
) -> dict[str, float]:
    """A spans run's cost and mean workers over the whole horizon: an estimate.

    Inside the spans they are measured. Outside, each minute's pool is what the
    autoscaler aims for at that minute's expected rate λ: ceil(λ × mean latency /
    per_worker), clamped to [min_workers, max_workers] — the HPA's target
    concurrency per pod and the Celery autoscaler's queue per worker, by Little's
    law, with the spans' mean latency (busier than most of the horizon, so this
    leans high). A fixed pool (`scales` False, or min = max) is exact.

    `cost_lower_per_hour` is the same figure with min_workers outside the spans
    instead: the pool never bills fewer (the HPA and the Celery autoscaler keep
    min_workers), so it is a lower bound of this replication's whole-horizon cost
    whenever the spans' pool is the whole run's there (`capplan.planner.screening`).
    """
    from capplan.workload import minute_bins

    min_w, max_w, per_worker = pool
    plan = plan_spans(spec)
    edges, rates = minute_bins(spec.model_copy(update={"spans": None}), seed)
    start, width = edges[:-1], np.diff(edges)
    inside = np.zeros(len(start), dtype=bool)
    for a, b in zip(plan.counted, plan.ends, strict=True):
        inside |= (start >= a) & (start < b)
    outside = (start >= spec.warmup_s) & ~inside
    latency = summary.get("latency_mean_s", math.nan)
    if not scales or min_w == max_w:
        workers = np.full(len(start), float(min_w))
    elif not math.isfinite(latency):  # nothing finished in the spans: assume the most
        workers = np.full(len(start), float(max_w))
    else:
        workers = np.clip(np.ceil(rates * latency / per_worker - 1e-9), min_w, max_w)
    span_time = float(np.sum(plan.ends - plan.counted))
    out_time = float(np.sum(width[outside]))
    seconds = summary["mean_workers"] * span_time + float(np.sum(workers[outside] * width[outside]))
    total = span_time + out_time
    mean = seconds / total if total > 0 else 0.0
    least = (summary["mean_workers"] * span_time + min_w * out_time) / total if total > 0 else 0.0
    return {
        **summary,
        "spans_cost_per_hour": summary["cost_per_hour"],
        "spans_mean_workers": summary["mean_workers"],
        "mean_workers": mean,
        "cost_per_hour": mean * cost_per_hour,
        "cost_lower_per_hour": least * cost_per_hour,
    }
