"""The capacity planner: the cheapest configuration that meets the SLO, with evidence.

For each template:
1. Candidates: every GPU type (× the GPU count that holds the model) and every
   per_worker in the grid.
2. Analytic screen (capplan.analytic): drop GPU types where a request alone
   misses the SLO, and per_worker targets above the concurrency the SLO allows;
   compute each candidate's fluid lower bound on cost.
3. Simulate, cheapest bound first, in waves: the smallest static pool that
   meets the SLO (an upper bound on the candidate's cost; the search starts at
   Erlang C's count for the peak minute), then bisection over min_workers for
   max_workers in {M, 2M} (more workers never make latency worse). Candidates
   whose lower bound cannot beat the best found are skipped — except on the
   template's own GPU type, which a review always wants to see.
4. Confirm the best few, and the best on each GPU type, with the planner's
   replications: the upper end of each SLO percentile's confidence interval
   must be on target; one that falls short gets one more worker at a time.
5. Evidence: the current configuration and the SGP rule of thumb simulated the
   same way, and the recommendation at 1.5× and 2× traffic.
Every simulation uses the same seeds (common random numbers), so candidates
are compared on the same requests, and results never depend on the executor.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from capplan.analytic import (
    GpuOption,
    Screen,
    concurrency_limit,
    cost_for_concurrency,
    screen,
    work_sample,
    workers_for_peak,
)
from capplan.hardware import GPU_TYPES, HOURS_PER_MONTH, worker_cost_per_hour
from capplan.launch import is_sync
from capplan.metrics import combine, confidence_interval
from capplan.scenario import Case, Scenario, SloSpec, load_scenario
from capplan.service import fits, gpus_to_fit, slowdown
from capplan.simulate import run_replication
from capplan.sweep import Progress, Runner, executor_for
from capplan.workload import check_volume, minute_bins, minute_rates, scale_traffic

WAVE = 4  # candidates simulated per wave; fixed so results never depend on --workers
CONFIRM_TOP = 3  # best explored configurations confirmed with full replications
MAX_BUMPS = 8  # capacity steps tried when a confirmation fails (4 more workers)
SENSITIVITY = (1.5, 2.0)
SYNC_TOLERANCE = 1.1  # the HPA lets average concurrency drift 10 % above per_worker


# ---------------------------------------------------------------- configurations
@dataclass(frozen=True, slots=True, order=True)
class Config:
    """The knobs the planner sets on a template."""

    gpu_type: str
    gpus: int
    min_workers: int
    max_workers: int
    per_worker: int

    def overrides(self) -> dict[str, Any]:
        return {
            "endpoint_config.gpu_type": self.gpu_type,
            "endpoint_config.gpus": self.gpus,
            "endpoint_config.min_workers": self.min_workers,
            "endpoint_config.max_workers": self.max_workers,
            "endpoint_config.per_worker": self.per_worker,
        }

    def knobs(self) -> dict[str, Any]:
        """The configuration fields of a document (no GPU: gpu_type None)."""
        return {
            "gpu_type": self.gpu_type or None,
            "gpus": self.gpus,
            "min_workers": self.min_workers,
            "max_workers": self.max_workers,
            "per_worker": self.per_worker,
        }

    def with_workers(self, min_workers: int, max_workers: int) -> Config:
        return replace(self, min_workers=min_workers, max_workers=max_workers)


def current_config(case: Case) -> Config:
    ec = case.template.endpoint_config
    return Config(ec.gpu_type or "", ec.gpus, ec.min_workers, ec.max_workers, ec.per_worker)


def config_case(case: Case, cfg: Config, traffic: float = 1.0) -> Case:
    """The case with cfg applied to its template and its traffic scaled."""
    template = case.template
    if cfg != current_config(case):
        template = template.with_updates(
            {k: v for k, v in cfg.overrides().items() if cfg.gpus or "gpu" not in k}
        )
    workload = scale_traffic(case.workload, traffic) if traffic != 1.0 else case.workload
    return replace(case, template=template, workload=workload)


def run_config(case: Case, cfg: Config, replication: int, traffic: float = 1.0) -> dict:
    """Summary of one replication of cfg: a pure function of its arguments."""
    return run_replication(config_case(case, cfg, traffic), replication)[0]


# ---------------------------------------------------------------- the SLO test
def slo_values(runs: Sequence[dict], slo: SloSpec) -> dict[str, dict[str, float]]:
    """For each target: the value, the CI's upper end at slo.confidence, and the target."""
    out: dict[str, dict[str, float]] = {}
    for key, target in slo.targets().items():
        vals = [r[key] for r in runs if not math.isnan(r[key])]
        if not vals:
            continue
        mean = sum(vals) / len(vals)
        high = confidence_interval(vals, slo.confidence)[1] if len(vals) >= 2 else mean
        out[key] = {"value": mean, "upper": mean if math.isnan(high) else high, "target": target}
    return out


def error_rate(runs: Sequence[dict]) -> float:
    bad = sum(r["rejected"] + r["expired"] for r in runs)
    known = sum(r["requests"] - r["in_flight_at_end"] for r in runs)
    return bad / known if known else 0.0


def meets_slo(runs: Sequence[dict], slo: SloSpec) -> bool:
    """Every percentile's CI upper end on target and the error rate within budget."""
    checks = slo_values(runs, slo)
    return all(c["upper"] <= c["target"] for c in checks.values()) and (
        error_rate(runs) <= slo.max_error_rate
    )


def violation(runs: Sequence[dict], slo: SloSpec) -> float:
    """How far from the SLO (1 = on the edge): the worst value/target ratio."""
    ratios = [c["value"] / c["target"] for c in slo_values(runs, slo).values()]
    rate = error_rate(runs)
    ratios.append(rate / slo.max_error_rate if slo.max_error_rate > 0 else (1e6 if rate else 0))
    return max(ratios)


def mean_rate(case: Case) -> float:
    """Requests/s averaged over the whole horizon: the long-run rate a pool must carry."""
    edges, rates = minute_bins(case.workload, case.seed)
    width = np.diff(edges)
    return float(np.sum(rates * width) / np.sum(width)) if rates.size else 0.0


def stable_workers(case: Case, cfg: Config, traffic: float = 1.0) -> int:
    """Fewest workers whose most throughput exceeds the mean rate (utilisation < 1).

    Each worker completes at most k / (s(k) × mean work) requests/s at its
    concurrency limit k. With fewer workers the backlog grows without bound:
    a finite simulation can still pass, because requests still queued at the
    end have no latency yet, but any longer run misses the SLO.
    """
    total, _ = work_sample(case, GpuOption(cfg.gpu_type, cfg.gpus, 0.0))
    if not len(total):
        return 0
    k = concurrency_limit(case, cfg.per_worker)
    per_worker = k / (slowdown(k, case.service.batching_alpha) * float(total.mean()))
    return math.floor(mean_rate(case) * traffic / per_worker) + 1


def passes_slo(case: Case, cfg: Config, runs: Sequence[dict], traffic: float = 1.0) -> bool:
    """The planner's verdict: the SLO test, for a pool that can carry the mean rate."""
    return cfg.max_workers >= stable_workers(case, cfg, traffic) and meets_slo(runs, case.slo)


# ---------------------------------------------------------------- searches (run in workers)
def smallest_passing(passes: Callable[[int], bool], lo: int, hi: int, guess: int) -> int | None:
    """Smallest n in [lo, hi] with passes(n), assuming monotone; None if hi fails."""
    guess = min(max(guess, lo), hi)
    if passes(guess):
        fail, ok = lo - 1, guess
    else:
        fail, probe = guess, guess
        while True:
            if probe >= hi:
                return None
            probe = min(hi, max(probe + 1, math.ceil(probe * 1.5)))
            if passes(probe):
                ok = probe
                break
            fail = probe
    while ok - fail > 1:
        mid = (ok + fail) // 2
        if passes(mid):
            ok = mid
        else:
            fail = mid
    return ok


@dataclass
class Explored:
    """What one search task simulated: (config, summary of replication 0)."""

    evaluations: list[tuple[Config, dict]]
    best: Config | None = None

    def record(self, case: Case, cfg: Config) -> bool:
        summary = run_config(case, cfg, 0)
        self.evaluations.append((cfg, summary))
        return passes_slo(case, cfg, [summary])

    def cost(self, cfg: Config) -> float:
        return next(s["cost_per_hour"] for c, s in self.evaluations if c == cfg)


def static_search(case: Case, base: Config, guess: int, cap: int) -> Explored:
    """Smallest static pool (min = max) of this candidate that meets the SLO."""
    explored = Explored([])
    lo = max(1, stable_workers(case, base.with_workers(cap, cap)))  # fewer never keep up
    m = smallest_passing(lambda n: explored.record(case, base.with_workers(n, n)), lo, cap, guess)
    explored.best = base.with_workers(m, m) if m is not None else None
    return explored


def autoscaled_search(case: Case, base: Config, static_m: int, cap: int, floor: int) -> Explored:
    """Smallest min_workers for max_workers in {M, 2M}, given the static size M."""
    explored = Explored([])
    found: list[Config] = [base.with_workers(static_m, static_m)]
    for max_w in sorted({static_m, min(cap, 2 * static_m)}):
        m = smallest_passing(
            lambda n, mw=max_w: explored.record(case, base.with_workers(n, mw)),
            floor,
            static_m,
            floor,
        )
        if m is not None:
            found.append(base.with_workers(m, max_w))
        if m == 0 and _is_sync(case) and max_w >= 1:
            # Scale-from-zero passed, but with no activator the first requests after an
            # idle spell get 503s: one warm worker at the same cost is the better choice.
            one = base.with_workers(1, max_w)
            if explored.record(case, one):
                found.append(one)
    costs = {c: explored.cost(c) for c in found if any(c == e for e, _ in explored.evaluations)}
    explored.best = min(costs, key=lambda c: preference(costs[c], c)) if costs else found[0]
    return explored


def _is_sync(case: Case) -> bool:
    return is_sync(case.template.effective_endpoint_type)


def workers_needed(case: Case, cfg: Config, traffic: float, cap: int) -> Config | None:
    """The fewest extra workers that meet the SLO at scaled traffic (1 replication).

    A static recommendation grows as a static pool; an autoscaled one first
    gets a higher max_workers, and a static pool if that is not enough.
    """

    def passes(c: Config) -> bool:
        return passes_slo(case, c, [run_config(case, c, 0, traffic)], traffic)

    lo = max(cfg.max_workers, 1)
    guess = max(math.ceil(lo * traffic), stable_workers(case, cfg, traffic))
    if cfg.min_workers < cfg.max_workers:
        n = smallest_passing(lambda m: passes(cfg.with_workers(cfg.min_workers, m)), lo, cap, guess)
        if n is not None:
            return cfg.with_workers(cfg.min_workers, n)
    n = smallest_passing(lambda m: passes(cfg.with_workers(m, m)), lo, cap, guess)
    return cfg.with_workers(n, n) if n is not None else None


# ---------------------------------------------------------------- evidence
def evaluate(
    runner: Runner, case: Case, cfgs: Sequence[Config], reps: int, traffic: float = 1.0
) -> list[dict[str, Any]]:
    """Each config with `reps` replications: metrics with CIs, cost and the SLO verdict."""
    tasks = [(case, cfg, r, traffic) for cfg in cfgs for r in range(reps)]
    summaries = runner.map(run_config, tasks)
    out = []
    for n, cfg in enumerate(cfgs):
        runs = summaries[n * reps : (n + 1) * reps]
        out.append(describe(case, cfg, runs, traffic))
    return out


def describe(case: Case, cfg: Config, runs: Sequence[dict], traffic: float = 1.0) -> dict[str, Any]:
    metrics = combine(runs)
    cost = metrics["cost_per_hour"]
    return {
        **cfg.knobs(),
        "metrics": metrics,
        "cost_per_hour": cost,
        "cost_per_month": cost * HOURS_PER_MONTH,
        "meets_slo": passes_slo(case, cfg, runs, traffic),
        "slo": slo_values(runs, case.slo),
        "_runs": list(runs),
    }


# ---------------------------------------------------------------- candidates
@dataclass(frozen=True)
class Candidate:
    base: Config  # workers unset (0)
    screen: Screen
    lower_bound: float  # fluid $/hour with this per_worker

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


def candidates(case: Case, scenario: Scenario) -> tuple[list[Candidate], list[Screen], int]:
    """Screened candidates (cheapest bound first), every screen, and how many were cut."""
    planner = scenario.planner
    screens = [
        screen(case, opt) for opt in gpu_options(case, planner.gpu_types, planner.change_gpu_count)
    ]
    is_async = not _is_sync(case)
    out, cut = [], 0
    for scr in screens:
        for pw in planner.per_worker:
            k = min(pw, concurrency_limit(case, pw)) if is_async else pw * SYNC_TOLERANCE
            if not scr.feasible or pw > scr.k_max:
                cut += 1
                continue
            base = Config(scr.option.gpu_type, scr.option.gpus, 0, 0, pw)
            out.append(Candidate(base, scr, cost_for_concurrency(case, scr, k)))
    out.sort(key=lambda c: (c.lower_bound, c.base))
    return out, screens, cut


# ---------------------------------------------------------------- the plan for one template
@dataclass
class Search:
    candidates: int = 0
    screened_out: int = 0
    pruned: int = 0
    simulations: int = 0
    seconds: float = 0.0
    explored: list[tuple[Config, dict]] | None = None


def plan_template(case: Case, scenario: Scenario, runner: Runner) -> dict[str, Any]:
    """The recommendation document for one template."""
    started = time.perf_counter()
    reps = scenario.planner.replications
    check_volume(case.workload, reps, case.simulation.max_requests, case.name)
    cap = scenario.planner.max_workers_cap
    cands, screens, cut = candidates(case, scenario)
    search = Search(candidates=len(cands) + cut, screened_out=cut, explored=[])
    lower_bound = min((s.fluid_cost_per_hour for s in screens), default=math.inf)

    statics = _static_stage(case, cands, cap, runner, search)
    finals = _autoscaled_stage(case, cands, statics, cap, runner, search)
    recommended, confirmed, failed = _confirm(case, finals, reps, cap, runner, search)

    current = evaluate(runner, case, [current_config(case)], reps)[0]
    thumb_cfg = rule_of_thumb(case)
    thumb = evaluate(runner, case, [thumb_cfg], reps)[0]
    search.simulations += 2 * reps
    doc: dict[str, Any] = {
        "template": case.name,
        "feasible": recommended is not None,
        "current": current,
        "rule_of_thumb": thumb,
        "recommended": recommended,
        "lower_bound_cost_per_hour": lower_bound,
        "saving_per_month": (current["cost_per_hour"] - recommended["cost_per_hour"])
        * HOURS_PER_MONTH
        if recommended
        else None,
        "alternatives": _alternatives(finals, confirmed, failed, screens, recommended, reps),
        "sensitivity": _sensitivity(case, recommended, reps, cap, runner, search),
        "explored": [_point(c, s) for c, s in search.explored or []],
    }
    if recommended is None:
        doc["best_achievable"], doc["why"] = _best_achievable(
            case, scenario, search, screens, [current, thumb]
        )
    search.seconds = time.perf_counter() - started
    doc["search"] = {
        "candidates": search.candidates,
        "screened_out": search.screened_out,
        "pruned": search.pruned,
        "simulations": search.simulations,
        "seconds": round(search.seconds, 2),
    }
    return doc


def _static_stage(
    case: Case, cands: list[Candidate], cap: int, runner: Runner, search: Search
) -> dict[tuple, Explored]:
    """Smallest static pool per distinct static key, in waves, pruned by bound."""
    is_sync = _is_sync(case)
    keys: dict[tuple, Candidate] = {}
    for c in cands:
        key = (c.base.gpu_type, c.base.gpus) if is_sync else c.static_key
        keys.setdefault(key, c)
    results: dict[tuple, Explored] = {}
    best = math.inf
    pending = list(keys.items())
    while pending:
        wave, pending = pending[:WAVE], pending[WAVE:]
        wave = [(k, c) for k, c in wave if _worth(case, c, is_sync, best)]
        tasks = [
            (case, c.base, workers_for_peak(case, c.screen, _concurrency(case, c, is_sync)), cap)
            for _, c in wave
        ]
        for (key, _), explored in zip(wave, runner.map(static_search, tasks), strict=True):
            results[key] = explored
            search.simulations += len(explored.evaluations)
            search.explored.extend(explored.evaluations)  # type: ignore[union-attr]
            if explored.best is not None:
                best = min(best, explored.cost(explored.best))
        pending = [(k, c) for k, c in pending if _worth(case, c, is_sync, best)]
    return results


def _concurrency(case: Case, c: Candidate, is_sync: bool) -> float:
    return (
        c.base.per_worker * SYNC_TOLERANCE
        if is_sync
        else concurrency_limit(case, c.base.per_worker)
    )


def _worth(case: Case, c: Candidate, is_sync: bool, best: float) -> bool:
    """Simulate c if its bound can beat the best so far — and always on the template's
    own GPU type, so a review sees the best it could do without changing hardware."""
    ec = case.template.endpoint_config
    own = c.base.gpu_type == ec.gpu_type
    return own or _bound(case, c, is_sync) < best


def _bound(case: Case, c: Candidate, is_sync: bool) -> float:
    """A bound no configuration of the candidate can beat.

    Sync endpoints: the GPU's own fluid bound, whatever per_worker says — with
    min_workers = max_workers the HPA target never binds, and pods may run up
    to the concurrency the SLO allows.
    """
    return c.screen.fluid_cost_per_hour if is_sync else c.lower_bound


def _autoscaled_stage(
    case: Case,
    cands: list[Candidate],
    statics: dict[tuple, Explored],
    cap: int,
    runner: Runner,
    search: Search,
) -> list[tuple[Config, float]]:
    """min/max search for candidates whose bound beats the best static pool."""
    is_sync = _is_sync(case)
    found: list[tuple[Config, float]] = []
    for explored in statics.values():
        if explored.best is not None:
            found.append((explored.best, explored.cost(explored.best)))
    best = min((cost for _, cost in found), default=math.inf)
    floor = 0  # scale-to-zero is allowed: KEDA for sync, the celery autoscaler for async
    todo = []
    for c in cands:
        key = (c.base.gpu_type, c.base.gpus) if is_sync else c.static_key
        static = statics.get(key)
        if static is None or static.best is None:
            continue
        todo.append((c, static.best.min_workers))
    searched = 0
    while todo:
        wave, todo = todo[:WAVE], todo[WAVE:]
        wave = [(c, m) for c, m in wave if _worth(case, c, is_sync, best)]
        searched += len(wave)
        tasks = [(case, c.base, m, cap, floor) for c, m in wave]
        for explored in runner.map(autoscaled_search, tasks):
            search.simulations += len(explored.evaluations)
            search.explored.extend(explored.evaluations)  # type: ignore[union-attr]
            if explored.best is not None:
                cost = explored.cost(explored.best) if explored.evaluations else math.inf
                if any(c == explored.best for c, _ in explored.evaluations):
                    found.append((explored.best, cost))
                    best = min(best, cost)
        todo = [(c, m) for c, m in todo if _worth(case, c, is_sync, best)]
    # Candidates never searched with the autoscaler: their bound could not beat the best.
    search.pruned = len(cands) - searched
    found.sort(key=lambda fc: preference(fc[1], fc[0]))
    return found


def _confirm(
    case: Case,
    finals: list[tuple[Config, float]],
    reps: int,
    cap: int,
    runner: Runner,
    search: Search,
) -> tuple[dict | None, list[dict], set[str]]:
    """Confirm with full replications the best few, and the best on each GPU type.

    One that falls short gets one more warm worker at a time (MAX_BUMPS at most).
    Returns the recommendation, every confirmed document, and the GPU types whose
    explored best failed its confirmation.
    """
    per_gpu: dict[str, Config] = {}
    for cfg, _ in finals:
        per_gpu.setdefault(cfg.gpu_type, cfg)
    wanted = _distinct([cfg for cfg, _ in finals][:CONFIRM_TOP] + list(per_gpu.values()))
    first = evaluate(runner, case, wanted, reps)  # one parallel batch
    search.simulations += reps * len(wanted)
    confirmed, failed = [], set()
    for cfg, doc in zip(wanted, first, strict=True):
        bumped: Config | None = cfg
        for _ in range(MAX_BUMPS):
            if doc["meets_slo"]:
                break
            bumped = _bump(bumped, cap)
            if bumped is None:
                break
            doc = evaluate(runner, case, [bumped], reps)[0]
            search.simulations += reps
        if doc["meets_slo"]:
            confirmed.append(doc)
        else:
            failed.add(cfg.gpu_type)
    confirmed = _distinct_docs(confirmed)
    confirmed.sort(key=lambda d: preference(d["cost_per_hour"], _config_of(d)))
    return (confirmed[0] if confirmed else None), confirmed, failed


def _distinct_docs(docs: list[dict]) -> list[dict]:
    seen, out = set(), []
    for d in docs:
        key = _config_of(d)
        if key not in seen:
            seen.add(key)
            out.append(d)
    return out


def preference(cost: float, cfg: Config) -> tuple:
    """Cheapest first; at equal cost (to the cent per month), more warm workers —
    the same money buys less reliance on scaling from cold."""
    return (round(cost * HOURS_PER_MONTH, 2), -cfg.min_workers, cfg.max_workers, cfg)


def _config_of(doc: dict) -> Config:
    return Config(
        doc["gpu_type"] or "",
        doc["gpus"],
        doc["min_workers"],
        doc["max_workers"],
        doc["per_worker"],
    )


def _bump(cfg: Config, cap: int) -> Config | None:
    """The next step up in capacity: one more warm worker, or, for a static pool,
    one more worker the autoscaler may add — (2, 2) → (2, 3) → (3, 3) → (3, 4) —
    so each step costs at most one worker more than the last."""
    if cfg.min_workers < cfg.max_workers:
        return cfg.with_workers(cfg.min_workers + 1, cfg.max_workers)
    if cfg.max_workers >= cap:
        return None
    return cfg.with_workers(cfg.min_workers, cfg.max_workers + 1)


def _distinct(cfgs: list[Config]) -> list[Config]:
    seen, out = set(), []
    for c in cfgs:
        if c not in seen:
            seen.add(c)
            out.append(c)
    return out


def rule_of_thumb(case: Case) -> Config:
    """SGP docs: per_worker = peak concurrent requests / max_workers, template's min/max.

    Peak concurrency by Little's law: the busiest minute's rate × the mean
    request time at concurrency 1 on the template's GPU.
    """
    cfg = current_config(case)
    ec = case.template.endpoint_config
    total, _ = work_sample(case, GpuOption(ec.gpu_type or "", ec.gpus, 0.0))
    rates = minute_rates(case.workload, case.seed)
    peak = float(rates.max()) if rates.size else 0.0
    mean_work = float(total.mean()) if len(total) else 0.0
    per_worker = max(1, math.ceil(peak * mean_work / max(cfg.max_workers, 1)))
    return replace(cfg, per_worker=per_worker)


def _alternatives(
    finals: list[tuple[Config, float]],
    confirmed: list[dict],
    failed: set[str],
    screens: list[Screen],
    recommended: dict | None,
    reps: int,
) -> list[dict[str, Any]]:
    """The best confirmed configuration on each other GPU type (or why there is none)."""
    rec_gpu = recommended["gpu_type"] if recommended else None
    out = []
    for scr in screens:
        name = scr.option.gpu_type
        if name == rec_gpu:
            continue
        conf = [d for d in confirmed if d["gpu_type"] == name]
        explored = [(c, cost) for c, cost in finals if c.gpu_type == name]
        entry: dict[str, Any] = {"gpu_type": name, "gpus": scr.option.gpus}
        if conf:
            entry.update({**conf[0], "confirmed": True})
        elif explored and name in failed:
            cfg, cost = explored[0]
            entry.update(
                {
                    "min_workers": cfg.min_workers,
                    "max_workers": cfg.max_workers,
                    "per_worker": cfg.per_worker,
                    "cost_per_hour": cost,
                    "cost_per_month": cost * HOURS_PER_MONTH,
                    "meets_slo": False,
                    "confirmed": False,
                    "note": (
                        f"met the SLO in one replication but not at the SLO's confidence over "
                        f"{reps} replications, even with up to {MAX_BUMPS} more warm workers"
                    ),
                }
            )
        else:
            entry.update(
                {
                    "cost_per_hour": None,
                    "lower_bound_cost_per_hour": scr.fluid_cost_per_hour,
                    "meets_slo": False if not scr.feasible else None,
                    "note": (
                        "a request alone on this GPU misses the SLO"
                        if not scr.feasible
                        else "skipped: its lower bound cannot beat the recommendation"
                    ),
                }
            )
        out.append(entry)
    return out


def _sensitivity(
    case: Case, recommended: dict | None, reps: int, cap: int, runner: Runner, search: Search
) -> list[dict[str, Any]]:
    if recommended is None:
        return []
    cfg = _config_of(recommended)
    # Both traffic levels in one batch, then the searches for what the failing ones
    # need, one task per level: each stage runs in parallel on the runner.
    tasks = [(case, cfg, r, f) for f in SENSITIVITY for r in range(reps)]
    summaries = runner.map(run_config, tasks)
    search.simulations += len(tasks)
    docs = [
        describe(case, cfg, summaries[n * reps : (n + 1) * reps], factor)
        for n, factor in enumerate(SENSITIVITY)
    ]
    failing = [f for f, doc in zip(SENSITIVITY, docs, strict=True) if not doc["meets_slo"]]
    found = runner.map(workers_needed, [(case, cfg, f, cap) for f in failing])
    needs = dict(zip(failing, found, strict=True))
    out = []
    for factor, doc in zip(SENSITIVITY, docs, strict=True):
        entry: dict[str, Any] = {
            "traffic": factor,
            "meets_slo": doc["meets_slo"],
            "metrics": doc["metrics"],
            "cost_per_hour": doc["cost_per_hour"],
        }
        if factor in needs:
            needed = needs[factor]
            entry["needs"] = (
                {"min_workers": needed.min_workers, "max_workers": needed.max_workers}
                if needed
                else None
            )
            entry["note"] = (
                f"needs min_workers {needed.min_workers}, max_workers {needed.max_workers}"
                if needed is not None
                else f"misses the SLO even with {cap} workers: change GPU type or per_worker"
            )
        out.append(entry)
    return out


def _best_achievable(
    case: Case, scenario: Scenario, search: Search, screens: list[Screen], simulated: list[dict]
) -> tuple[dict | None, str]:
    """When nothing meets the SLO: the closest configuration tried, and why.

    `simulated` are the documents of the configurations evaluated with full
    replications (the current one and the rule of thumb): there is always one.
    """
    slo, planner = case.slo, scenario.planner
    tried = [(violation([s], slo), c, s) for c, s in search.explored or []]
    tried += [(violation(d["_runs"], slo), _config_of(d), d["metrics"]) for d in simulated]
    # Closest first; then the cheapest.
    score, cfg, summary = min(tried, key=lambda t: (t[0], t[2]["cost_per_hour"], t[1]))
    reasons = []
    if not screens:
        reasons.append(
            f"no GPU type considered holds the model ({case.service.model_memory_gb or 0:g} GB): "
            "widen [planner] gpu_types or allow change_gpu_count"
        )
    elif not any(s.feasible for s in screens):
        reasons.append(
            "even a single request alone on a worker misses the SLO on every GPU type "
            "considered: the service time itself is longer than the target"
        )
    else:
        cap = planner.max_workers_cap
        if any(c.max_workers >= cap for c, _ in search.explored or []):
            reasons.append(
                f"even {cap} worker{'s' if cap > 1 else ''} (planner.max_workers_cap) miss the SLO"
            )
        if any(passes_slo(case, c, [s]) for c, s in search.explored or []):
            reasons.append(
                "the configurations that met the SLO in one replication missed it at "
                f"{slo.confidence:.0%} confidence over {planner.replications} replications"
            )
    if summary.get("rejected_503", 0) and cfg.min_workers == 0:
        reasons.append(
            f"with min_workers 0, requests after idle gaps wait for a cold start "
            f"(~{_start_up_s(case):.0f} s to ready) longer than the gateway's retry budget "
            f"({case.simulation.gateway_timeout_s:g} s) and fail with 503"
        )
    why = "; ".join(reasons) or "no configuration tried met every SLO target"
    best = {**_point(cfg, summary), "violation": score}
    return best, why


def _start_up_s(case: Case) -> float:
    """Expected seconds from a worker's request to ready (node, load, readiness delay)."""
    svc, bundle = case.service, case.template.bundle_config
    delay = float(bundle.readiness_initial_delay_seconds) if bundle else 120.0
    node = 0.0 if case.template.endpoint_config.high_priority else svc.node_provisioning_s
    return node + max(delay, svc.cold_start.expected)


def _point(cfg: Config, summary: dict) -> dict[str, Any]:
    return {
        **cfg.knobs(),
        "cost_per_hour": summary["cost_per_hour"],
        "latency_p99_s": summary["latency_p99_s"],
        "ttft_p99_s": summary["ttft_p99_s"],
        "error_rate": summary["error_rate"],
    }


# ---------------------------------------------------------------- entry point
def recommend(
    scenario: Scenario | str | Path,
    template: str | None = None,
    *,
    workers: int | None = None,
    dask_address: str | None = None,
    progress: Progress | None = None,
) -> list[dict[str, Any]]:
    """One recommendation document per template (see the README for its keys)."""
    scen = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    if template is not None:
        scen.template(template)
    with executor_for(workers, dask_address) as executor:
        runner = Runner(executor, progress)
        docs = [plan_template(case, scen, runner) for case in scen.cases(template)]
    return [_public(d) for d in docs]


def _public(doc: dict[str, Any]) -> dict[str, Any]:
    """Drop internal per-replication lists before the document leaves the planner."""
    if isinstance(doc, dict):
        return {k: _public(v) for k, v in doc.items() if k != "_runs"}
    if isinstance(doc, list):
        return [_public(v) for v in doc]
    return doc
