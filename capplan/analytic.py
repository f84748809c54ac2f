"""Queueing-theory screens: cheap bounds that decide what is worth simulating.

- `erlang_c`: P(wait) and mean wait of M/M/c (and the servers a rate needs).
- `usable_concurrency`: the highest concurrency k whose own latency — the
  request's work stretched by the batching curve s(k), with no waiting —
  still meets every latency and TTFT target: the best batching the SLO allows.
- `fluid_cost_per_hour`: minute by minute, the whole workers needed to carry
  that minute's work at that concurrency, with no cold starts and perfect
  packing. An estimate, not a proof: a pool that runs a little above the SLO's
  concurrency in busy minutes can still meet a p99 target slightly below it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from capplan.launch import async_task_slots, is_async, is_streaming
from capplan.scenario import Case
from capplan.service import request_work, slowdown
from capplan.workload import generate_windows, minute_bins, minute_rates, stream_rng

LATENCY_TARGETS = {"latency_p50_s": 50, "latency_p95_s": 95, "latency_p99_s": 99}
TTFT_TARGETS = {"ttft_p50_s": 50, "ttft_p95_s": 95, "ttft_p99_s": 99}


def erlang_c(lam: float, mu: float, c: int) -> tuple[float, float]:
    """(P(wait), mean wait) of an M/M/c queue; (1, inf) when unstable.

    Uses the Erlang B recursion, stable for hundreds of servers.
    """
    a = lam / mu
    if c <= 0 or a >= c:
        return 1.0, math.inf
    b = 1.0
    for k in range(1, c + 1):
        b = a * b / (k + a * b)
    p_wait = c * b / (c - a * (1 - b))
    return p_wait, p_wait / (c * mu - lam)


def erlang_c_servers(lam: float, mu: float, max_wait: float, cap: int = 10_000) -> int:
    """Fewest servers whose M/M/c mean wait is at most max_wait (cap if none)."""
    c = max(1, math.ceil(lam / mu))
    while c < cap and erlang_c(lam, mu, c)[1] > max_wait:
        c += 1
    return c


@dataclass(frozen=True, slots=True)
class GpuOption:
    """A GPU type and count a template can run on, with its worker price."""

    gpu_type: str
    gpus: int
    cost_per_hour: float


@dataclass(frozen=True, slots=True)
class Screen:
    """What the analytic screen knows about one GPU option."""

    option: GpuOption
    mean_work_s: float  # at concurrency 1
    k_max: float  # usable concurrency (0: the SLO fails even alone on a worker)
    throughput: float  # requests/s of one worker at k_max
    fluid_cost_per_hour: float  # inf when k_max == 0
    wait_budget_s: float = math.inf  # tightest latency target minus the work's own percentile

    @property
    def feasible(self) -> bool:
        return self.k_max >= 1


def work_sample(case: Case, option: GpuOption) -> tuple[np.ndarray, np.ndarray]:
    """The work (and first-token work) of replication 0's requests on this option: its
    first day when the horizon is longer (drawing a week for a sample of the work would
    cost the memory and time a bounded-memory run avoids)."""
    requests = next(iter(generate_windows(case.workload, case.seed, 0)))
    svc = case.service
    work = request_work(
        svc,
        requests,
        gpu_type=option.gpu_type or None,
        gpus=max(option.gpus, 1),
        ref_gpu_type=svc.reference_gpu,
        ref_gpus=svc.reference_gpus or 1,
        rng=stream_rng(case.seed, 0, "service"),
    )
    return work.total, work.first_token


def usable_concurrency(case: Case, total: np.ndarray, first_token: np.ndarray, limit: int) -> float:
    """Largest k in [1, limit] with every SLO percentile of s(k) × work on target; 0 if none."""
    if len(total) == 0:
        return float(limit)
    slo = case.slo.targets()
    streaming = is_streaming(case.template.effective_endpoint_type)
    worst = 0.0  # the largest slowdown factor every target tolerates
    bounds = []
    for key, pct in LATENCY_TARGETS.items():
        if key in slo:
            bounds.append(slo[key] / float(np.percentile(total, pct)))
    for key, pct in TTFT_TARGETS.items():
        if key in slo and streaming:
            bounds.append(slo[key] / max(float(np.percentile(first_token, pct)), 1e-12))
    worst = min(bounds) if bounds else math.inf
    if worst < 1.0:
        return 0.0
    alpha = case.service.batching_alpha
    if alpha == 0 or math.isinf(worst):
        return float(limit)
    # s(k) = 1 + alpha (k - 1) <= worst  →  k <= 1 + (worst - 1) / alpha
    return float(min(limit, math.floor(1 + (worst - 1) / alpha + 1e-9)))


def concurrency_limit(case: Case, per_worker: int | None = None) -> int:
    """Most requests one worker may hold: the forwarder limit, or the async cap."""
    if is_async(case.template.effective_endpoint_type):
        pw = per_worker if per_worker is not None else case.template.endpoint_config.per_worker
        return async_task_slots(pw, case.simulation.async_concurrency_cap)
    return case.service.concurrency_limit


def screen(case: Case, option: GpuOption) -> Screen:
    """Usable concurrency, throughput and fluid cost bound of one GPU option."""
    total, first_token = work_sample(case, option)
    mean_work = float(total.mean()) if len(total) else 1.0
    # the most any per_worker can use: the async cap, or the forwarder limit
    limit = (
        case.simulation.async_concurrency_cap
        if is_async(case.template.effective_endpoint_type)
        else case.service.concurrency_limit
    )
    k = usable_concurrency(case, total, first_token, limit)
    if k < 1:
        return Screen(option, mean_work, 0.0, 0.0, math.inf)
    thr = k / (slowdown(k, case.service.batching_alpha) * mean_work)
    fluid = _fluid_cost(case, k, thr, option.cost_per_hour)
    return Screen(option, mean_work, k, thr, fluid, _wait_budget(case, total))


def closed_clients(case: Case) -> int | None:
    """A closed loop's clients (`[workload] kind = "closed"`), None for an open loop.

    A closed loop has no arrival rate of its own: it keeps `concurrency` requests
    in flight, so the planner's estimates count workers for them instead of rates.
    """
    spec = case.workload
    return int(spec.concurrency) if spec.kind == "closed" else None  # type: ignore[arg-type]


def _fluid_cost(case: Case, k: float, throughput: float, cost_per_hour: float) -> float:
    """`fluid_cost_per_hour`, or for a closed loop the whole workers holding its clients'
    requests at concurrency k: ceil(C / k) (an estimate, like the fluid cost)."""
    clients = closed_clients(case)
    if clients is not None:
        return math.ceil(clients / k - 1e-9) * cost_per_hour
    return fluid_cost_per_hour(case, throughput, cost_per_hour)


def _wait_budget(case: Case, total: np.ndarray) -> float:
    """How long a request may wait and still meet the tightest latency target."""
    slo = case.slo.targets()
    budgets = [
        slo[key] - float(np.percentile(total, pct))
        for key, pct in LATENCY_TARGETS.items()
        if key in slo and len(total)
    ]
    return max(min(budgets), 0.0) if budgets else math.inf


def fluid_cost_per_hour(case: Case, throughput: float, cost_per_hour: float) -> float:
    """Mean $/hour of the whole workers each minute's traffic needs at `throughput` each."""
    edges, rates = minute_bins(case.workload, case.seed)
    if rates.size == 0:
        return 0.0
    width = np.diff(edges)
    keep = edges[1:] > case.workload.warmup_s  # bins that end after the warm-up
    workers = np.ceil(rates[keep] / throughput - 1e-9)
    return float(np.sum(workers * width[keep]) / np.sum(width[keep]) * cost_per_hour)


def cost_for_concurrency(case: Case, scr: Screen, k: float) -> float:
    """Fluid cost of an option when workers are held at concurrency k (<= its usable k)."""
    k = min(k, scr.k_max)
    if k < 1:
        return math.inf
    thr = k / (slowdown(k, case.service.batching_alpha) * scr.mean_work_s)
    return _fluid_cost(case, k, thr, scr.option.cost_per_hour)


def workers_for_peak(case: Case, scr: Screen, k: float) -> int:
    """Workers the busiest minute needs at concurrency k (at least 1): the larger of
    the fluid count and Erlang C's.

    Erlang C treats the pool as an M/M/c queue of its k-request slots, each
    serving at 1 / (s(k) × mean work), and asks for the fewest slots whose mean
    wait fits in the SLO's wait budget; the planner starts its search there.
    A closed loop: the workers holding its clients' requests at k each, ceil(C / k).
    """
    k = math.floor(min(k, scr.k_max))
    if k < 1:
        return 1
    clients = closed_clients(case)
    if clients is not None:
        return max(1, math.ceil(clients / k))
    mu = 1.0 / (slowdown(k, case.service.batching_alpha) * scr.mean_work_s)
    rates = minute_rates(case.workload, case.seed)
    peak = float(rates.max()) if rates.size else 0.0
    fluid = math.ceil(peak / (k * mu) - 1e-9)
    if peak <= 0 or math.isinf(scr.wait_budget_s):
        return max(1, fluid)
    slots = erlang_c_servers(peak, mu, max(scr.wait_budget_s, 1e-3), cap=k * 10_000)
    return max(1, fluid, math.ceil(slots / k))
