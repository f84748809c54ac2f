"""The search: the smallest pools of each candidate that meet the SLO (replication 0)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from capplan.analytic import (
    workers_for_peak,
)
from capplan.planner.bound import Candidate, search_concurrency, worth
from capplan.planner.config import (
    EXPLORE_REPLICATION,
    WAVE,
    Config,
    preference,
    run_config,
    sync_case,
)
from capplan.planner.verdict import passes_slo, stable_workers
from capplan.scenario import Case
from capplan.sweep import Runner


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
        summary = run_config(case, cfg, EXPLORE_REPLICATION)
        self.evaluations.append((cfg, summary))
        return passes_slo(case, cfg, [summary])

    def cost(self, cfg: Config) -> float:
        return next(s["cost_per_hour"] for c, s in self.evaluations if c == cfg)


def static_search(case: Case, base: Config, guess: int, cap: int, floor: int = 0) -> Explored:
    """Smallest static pool (min = max, at least `floor`) of this candidate meeting the SLO."""
    explored = Explored([])
    # Fewer than stable_workers never keep up.
    lo = min(cap, max(1, floor, stable_workers(case, base.with_workers(cap, cap))))
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
        if m == 0 and floor == 0 and sync_case(case) and max_w >= 1:
            # Scale-from-zero passed, but with no activator the first requests after an
            # idle spell get 503s: one warm worker at the same cost is the better choice.
            one = base.with_workers(1, max_w)
            if explored.record(case, one):
                found.append(one)
    costs = {c: explored.cost(c) for c in found if any(c == e for e, _ in explored.evaluations)}
    explored.best = min(costs, key=lambda c: preference(costs[c], c)) if costs else found[0]
    return explored


def workers_needed(case: Case, cfg: Config, traffic: float, cap: int) -> Config | None:
    """The fewest extra workers that meet the SLO at scaled traffic (1 replication).

    A static recommendation grows as a static pool; an autoscaled one first
    gets a higher max_workers, and a static pool if that is not enough.
    """

    def passes(c: Config) -> bool:
        return passes_slo(case, c, [run_config(case, c, EXPLORE_REPLICATION, traffic)], traffic)

    lo = max(cfg.max_workers, 1)
    guess = max(math.ceil(lo * traffic), stable_workers(case, cfg, traffic))
    if cfg.min_workers < cfg.max_workers:
        n = smallest_passing(lambda m: passes(cfg.with_workers(cfg.min_workers, m)), lo, cap, guess)
        if n is not None:
            return cfg.with_workers(cfg.min_workers, n)
    n = smallest_passing(lambda m: passes(cfg.with_workers(m, m)), lo, cap, guess)
    return cfg.with_workers(n, n) if n is not None else None


# ---------------------------------------------------------------- the plan for one template
@dataclass
class Search:
    candidates: int = 0
    screened_out: int = 0
    pruned: int = 0
    simulations: int = 0
    seconds: float = 0.0
    explored: list[tuple[Config, dict]] | None = None


def static_stage(
    case: Case, cands: list[Candidate], cap: int, runner: Runner, search: Search, floor: int
) -> dict[tuple, Explored]:
    """Smallest static pool per distinct static key, in waves, pruned by bound."""
    is_sync = sync_case(case)
    keys: dict[tuple, Candidate] = {}
    for c in cands:
        key = (c.base.gpu_type, c.base.gpus) if is_sync else c.static_key
        keys.setdefault(key, c)
    results: dict[tuple, Explored] = {}
    best = math.inf
    pending = list(keys.items())
    while pending:
        wave, pending = pending[:WAVE], pending[WAVE:]
        wave = [(k, c) for k, c in wave if worth(case, c, best)]
        tasks = [
            (
                case,
                c.base,
                workers_for_peak(case, c.screen, search_concurrency(case, c, is_sync)),
                cap,
                floor,
            )
            for _, c in wave
        ]
        for (key, _), explored in zip(wave, runner.map(static_search, tasks), strict=True):
            results[key] = explored
            search.simulations += len(explored.evaluations)
            search.explored.extend(explored.evaluations)  # type: ignore[union-attr]
            if explored.best is not None:
                best = min(best, explored.cost(explored.best))
        pending = [(k, c) for k, c in pending if worth(case, c, best)]
    return results


def autoscaled_stage(
    case: Case,
    cands: list[Candidate],
    statics: dict[tuple, Explored],
    cap: int,
    runner: Runner,
    search: Search,
    floor: int,
) -> list[tuple[Config, float]]:
    """min/max search for candidates whose bound beats the best static pool."""
    is_sync = sync_case(case)
    found: list[tuple[Config, float]] = []
    for explored in statics.values():
        if explored.best is not None:
            found.append((explored.best, explored.cost(explored.best)))
    best = min((cost for _, cost in found), default=math.inf)
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
        wave = [(c, m) for c, m in wave if worth(case, c, best)]
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
        todo = [(c, m) for c, m in todo if worth(case, c, best)]
    # Candidates never searched with the autoscaler: their bound could not beat the best.
    search.pruned = len(cands) - searched
    found.sort(key=lambda fc: preference(fc[1], fc[0]))
    return found
