"""Candidates and the cost bounds that decide which are worth simulating."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from capplan import quantiles
from capplan.analytic import (
    GpuOption,
    Screen,
    closed_clients,
    concurrency_limit,
    cost_for_concurrency,
    screen,
)
from capplan.hardware import GPU_TYPES, worker_cost_per_hour
from capplan.planner.config import (
    SYNC_TOLERANCE,
    Config,
    config_case,
    confirm_replications,
    current_config,
    sync_case,
)
from capplan.scenario import Case, Scenario
from capplan.service import Work, fits, gpus_to_fit, slowdown
from capplan.simulate import replication_windows, replication_work
from capplan.workload import Requests, expected_requests, horizon


# ---------------------------------------------------------------- candidates
@dataclass(frozen=True)
class Candidate:
    base: Config  # workers unset (0)
    screen: Screen
    estimate: float  # fluid $/hour with this per_worker: an estimate that orders the search
    bound: float | None  # proven $/hour no configuration of this candidate beats (None: none)

    @property
    def static_key(self) -> tuple[str, int, int]:
        """Sync endpoints' static pools don't depend on per_worker (only the HPA uses it)."""
        return (self.base.gpu_type, self.base.gpus, self.base.per_worker)


def gpu_options(case: Case, gpu_types: Sequence[str] | None, change_count: bool) -> list[GpuOption]:
    """GPU types (and counts) that hold the model, each with its worker price."""
    ec = case.template.endpoint_config
    memory = case.service.model_memory_gb or 0.0
    options = []
    for name in gpu_types or GPU_TYPES:
        count = gpus_to_fit(memory, name) if change_count else ec.gpus
        if count is None or not fits(memory, name, count):
            continue
        price = worker_cost_per_hour(name, count, float(ec.cpus), ec.memory_bytes, case.prices)
        options.append(GpuOption(name, count, price))
    return options


def candidates(
    case: Case, scenario: Scenario
) -> tuple[list[Candidate], list[Screen], int, dict[str, float | None]]:
    """Screened candidates (cheapest estimate first), every screen, how many were cut,
    and each GPU type's proven bound (`proven_bound` at the most each worker can hold)."""
    planner = scenario.planner
    options = gpu_options(case, planner.gpu_types, planner.change_gpu_count)
    screens = [screen(case, opt) for opt in options]
    needs = {o.gpu_type: required_work_rate(case, o, planner.replications) for o in options}
    bounds = {
        o.gpu_type: proven_bound(case, o, needs[o.gpu_type], bound_limit(case)) for o in options
    }
    is_async = not sync_case(case)
    out, cut = [], 0
    for scr in screens:
        for pw in planner.per_worker:
            k = min(pw, concurrency_limit(case, pw)) if is_async else pw * SYNC_TOLERANCE
            if not scr.feasible or pw > scr.k_max or not kv_holds(case, scr.option, k):
                cut += 1
                continue
            base = Config(scr.option.gpu_type, scr.option.gpus, 0, 0, pw)
            need = needs[scr.option.gpu_type]
            proven = proven_bound(case, scr.option, need, bound_limit(case, pw))
            out.append(Candidate(base, scr, cost_for_concurrency(case, scr, k), proven))
    out.sort(key=lambda c: (c.estimate, c.base))
    return out, screens, cut, bounds


def kv_holds(case: Case, option: GpuOption, k: float) -> bool:
    """llm kind: the worker's KV cache holds the batch per_worker implies (at most
    max_num_seqs sequences of the workload's mean prompt + output tokens)."""
    if case.service.kind != "llm":
        return True
    from capplan.llm.profile import worker_kv_tokens
    from capplan.workload import mean_tokens

    batch = min(math.ceil(k), case.service.max_num_seqs)
    prompt, output = mean_tokens(case.workload)
    return batch * (prompt + output) <= worker_kv_tokens(case.service, option.gpu_type, option.gpus)


def search_concurrency(case: Case, c: Candidate, is_sync: bool) -> float:
    return (
        c.base.per_worker * SYNC_TOLERANCE
        if is_sync
        else concurrency_limit(case, c.base.per_worker)
    )


def worth(case: Case, c: Candidate, best: float) -> bool:
    """Simulate c unless its proven bound already reaches the best confirmed-grade cost
    found so far (pruning only with the proven bound, never the estimate) — and always on
    the template's own GPU type, so a review sees the best it could do without changing
    hardware."""
    ec = case.template.endpoint_config
    own = c.base.gpu_type == ec.gpu_type
    return own or c.bound is None or c.bound < best


# ---------------------------------------------------------------- the proven lower bound
def work_rate(case: Case, limit: int) -> float:
    """θ: the most seconds of work one worker does per second, max over k <= limit of k/s(k).

    llm kind: 1, because `llm_least_work` already counts each request in worker-seconds
    at the engine's best batching."""
    if case.service.kind == "llm":
        return 1.0
    k = np.arange(1, max(limit, 1) + 1, dtype=float)
    return float(np.max(k / slowdown(k, case.service.batching_alpha)))


def bound_limit(case: Case, per_worker: int | None = None) -> int:
    """The most requests one worker of the candidate can hold: the forwarder's hard limit
    (SYNC/STREAMING), min(per_worker, async cap) for ASYNC — every per_worker if None."""
    if sync_case(case):
        return case.service.concurrency_limit
    cap = case.simulation.async_concurrency_cap
    return cap if per_worker is None else min(per_worker, cap)


def late_allowed(n: int, pct: float) -> int:
    """Most of n latency values that may exceed a target x while the value of numpy's
    linear percentile pct is at most x: those above rank floor(pct/100 (n − 1))."""
    return max(n - 1 - math.floor(pct / 100 * (n - 1)), 0) if n else 0


def required_work_rate(case: Case, option: GpuOption, reps: int) -> float | None:
    """Seconds of work per second every configuration on `option` passing the planner's
    SLO test must do, averaged over its replications; the bound is P × this / θ_K.

    Claim. Let a configuration on this GPU option, whose workers hold at most
    K = `limit` requests each, pass the planner's test over R = `reps`
    replications (see `capplan.planner.verdict`): for a target "percentile p
    of latency (or TTFT) <= D", an upper confidence limit at or above the mean
    of the per-replication percentiles is <= D; the pooled error rate is <=
    e = max_error_rate. Then its mean cost per hour over the R replications is
    at least P × this rate / θ_K = P / (θ_K · R · T) · max over targets of
    (Σ_r W_r − top_m), where P is the worker price, T = horizon − warm-up,
    θ_K = max_{k<=K} k/s(k), W_r the work (s at concurrency 1, the same draws
    the simulation serves) of replication r's requests arriving in
    [warm-up, horizon − D*), D* = (R·D + L)/(1 − a) with the percentile
    record's error constants a, L (`capplan.quantiles`), and top_m the sum of
    the m largest of those works pooled over replications, with
    m = Σ_r late_allowed(n_r, p) + floor(e · Σ_r n_r), n_r the requests of
    replication r after the warm-up.

    Proof. (1) A ready worker running k requests serves each at speed 1/s(k),
    so it does k/s(k) <= θ_K seconds of work per second; provisioning,
    starting and idle time do none. Work done in [warm-up, horizon] is at most
    θ_K × billed worker-seconds there = θ_K · T · cost_r / P. (2) The upper
    limit is >= the mean of R non-negative percentiles, so each replication's
    reported percentile is <= R·D; the record reports the order statistic at
    rank floor(p(N−1)) as at least (1 − a)·x − L, so that order statistic is
    <= D*, and at most late_allowed(N, p) <= late_allowed(n_r, p) latency values
    (completed requests and in-flight ones censored at horizon − arrival)
    exceed D*. (3) Pooled errors are at most e · Σ known <= e · Σ n_r. (4)
    Every other request arriving in [warm-up, horizon − D*) finished within D*
    of its arrival, so before the horizon: its whole work (or, for a TTFT
    target, its first-token work) was done in [warm-up, horizon]. Dropping
    the at most m late or failed requests removes at most top_m. Summing (1)
    over replications: Σ_r cost_r >= P (Σ_r W_r − top_m) / (θ_K T). The
    same holds for each target, hence for the largest.

    Faults only add work (an ASYNC task re-runs) or errors (counted in e).
    For the llm service kind, step (1) is `llm_least_work`'s: the work of a
    request is the fewest worker-seconds the engine can spend on it, and θ = 1.

    Not for a closed loop (`[workload] kind = "closed"`): None. Step (4) needs
    the requests that arrive in the window, and a closed loop's arrivals
    depend on the configuration (a slower pool is sent fewer requests), so no
    fixed W_r exists; the planner then states no bound (null) and prunes nothing.
    """
    if closed_clients(case) is not None:
        return None
    targets = case.slo.targets()
    spec = case.workload
    window = horizon(spec) - spec.warmup_s
    if not targets or window <= 0:
        return 0.0
    case = replace_gpu(case, option)
    # Streamed a day at a time (bounded memory on a week): per target, the total work
    # and the `keep` largest values, enough for the `late` ones whenever keep >= late.
    expected = expected_requests(spec)
    n_upper = reps * (expected + 10 * math.sqrt(expected) + 100)
    e = case.slo.max_error_rate
    keep = {k: math.ceil(n_upper * (1 - _pct(k) / 100 + e)) + reps + 1 for k in targets}
    total = dict.fromkeys(targets, 0.0)
    top = {k: np.zeros(0) for k in targets}
    late = dict.fromkeys(targets, 0)
    n_all = 0
    for r in confirm_replications(reps):
        n_r = 0
        for req, work in replication_windows(case, r):
            work = least_work(case, option, req, work)
            after = req.arrival >= spec.warmup_s
            n_r += int(np.count_nonzero(after))
            for key, target in targets.items():
                d_star = (reps * target + quantiles.LOW) / (1 - quantiles.ALPHA)
                inside = after & (req.arrival < req.horizon - d_star)
                w = (work.first_token if key.startswith("ttft") else work.total)[inside]
                total[key] += math.fsum(w.tolist())
                both = np.concatenate([top[key], w])
                k = min(keep[key], len(both))
                top[key] = np.partition(both, len(both) - k)[len(both) - k :] if k else both[:0]
        n_all += n_r
        for key in targets:
            late[key] += late_allowed(n_r, _pct(key))
    best = 0.0
    for key in targets:
        m = late[key] + math.floor(e * n_all)
        if m > keep[key]:  # more requests than the volume estimate allowed: recount whole
            return _required_work_rate_whole(case, option, reps)
        largest = np.sort(top[key])[len(top[key]) - min(m, len(top[key])) :]
        best = max(best, total[key] - math.fsum(largest.tolist()))
    return best / (reps * window)


def _pct(key: str) -> float:
    return float(key.split("_p")[1].removesuffix("_s"))


def _required_work_rate_whole(case: Case, option: GpuOption, reps: int) -> float:
    """`required_work_rate` with every replication's requests in memory at once."""
    targets = case.slo.targets()
    best = 0.0
    runs = [
        (req, least_work(case, option, req, work))
        for req, work in (replication_work(case, r) for r in confirm_replications(reps))
    ]
    n_all = sum(int(np.sum(req.arrival >= req.warmup)) for req, _ in runs)
    errors = math.floor(case.slo.max_error_rate * n_all)
    for key, target in targets.items():
        pct = _pct(key)
        d_star = (reps * target + quantiles.LOW) / (1 - quantiles.ALPHA)
        works, late = [], errors
        for req, work in runs:
            after = req.arrival >= req.warmup
            late += late_allowed(int(np.sum(after)), pct)
            inside = after & (req.arrival < req.horizon - d_star)
            works.append((work.first_token if key.startswith("ttft") else work.total)[inside])
        pooled = np.sort(np.concatenate(works)) if works else np.zeros(0)
        total_work = float(np.sum(pooled[: max(len(pooled) - late, 0)]))
        best = max(best, total_work)
    window = runs[0][0].horizon - runs[0][0].warmup if runs else 0.0
    return best / (reps * window) if window > 0 else 0.0


def least_work(case: Case, option: GpuOption, requests: Requests, work: Work) -> Work:
    """The work the bound charges each request: `work` (seconds at concurrency 1), or for
    the llm kind `llm_least_work`."""
    return llm_least_work(case, option, requests) if case.service.kind == "llm" else work


def llm_least_work(case: Case, option: GpuOption, requests: Requests) -> Work:
    """llm kind: the fewest worker-seconds a serving engine on `option` can spend on each
    request (total), and on its prompt (first token).

    Claim. A worker of `capplan.llm.batch` spends at least
    prompt / prefill_tokens_per_s + (output − 1) / (θ_d · decode_tokens_per_s)
    seconds on a request, θ_d = max over B <= max_num_seqs of B / (1 + α (B − 1)).

    Proof. Every engine step costs its decode time plus its prompt tokens at
    prefill_tokens_per_s, the two added, so the worker's busy time is the sum
    of the two parts. A prompt token costs 1 / prefill_tokens_per_s (a preempted
    sequence is prefilled again: more, never less). A step with B sequences
    decoding, B <= max_num_seqs, costs (1 + α (B − 1)) / decode_tokens_per_s and
    yields B tokens, so a token costs at least 1 / (θ_d · decode_tokens_per_s);
    the prompt's forward pass yields the first token, so output − 1 tokens are
    decoded. The first token needs only the prompt's prefill.
    """
    from capplan.llm.profile import llm_speeds

    prefill_rate, decode_rate = llm_speeds(case.service, option.gpu_type, option.gpus)
    b = np.arange(1, case.service.max_num_seqs + 1, dtype=float)
    theta = float(np.max(b / slowdown(b, case.service.batching_alpha)))
    prefill = requests.context_tokens.astype(np.float64) / prefill_rate
    decode = np.maximum(requests.generated_tokens.astype(np.float64) - 1.0, 0.0)
    return Work(prefill + decode / (theta * decode_rate), prefill)


def proven_bound(case: Case, option: GpuOption, need: float | None, limit: int) -> float | None:
    """$/hour no configuration on `option` with at most `limit` requests per worker
    passing the SLO test beats (`need` from required_work_rate; see its proof)."""
    if need is None:
        return None
    return option.cost_per_hour * need / work_rate(case, limit)


def replace_gpu(case: Case, option: GpuOption) -> Case:
    """The case on this GPU option (only the hardware changes the work)."""
    cfg = current_config(case)
    return config_case(case, replace(cfg, gpu_type=option.gpu_type, gpus=option.gpus))
