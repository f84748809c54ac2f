"""The search: the smallest pools of each candidate that meet the SLO (replication 0)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

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

K = TypeVar("K")


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
    return bisect_threshold(passes, fail, ok)


def smallest_passing_from(
    passes: Callable[[int], bool], lo: int, hi: int, start: int
) -> int | None:
    """Smallest n in [lo, hi] with passes(n), assuming monotone, searched outward from
    `start` in doubling steps (down if start passes, up if not), then bisected: about
    2 log2 |answer − start| probes, few when the answer is near the start."""
    start = min(max(start, lo), hi)
    if passes(start):
        ok, step = start, 1
        while ok > lo:
            probe = max(lo, ok - step)
            if not passes(probe):
                fail = probe
                break
            ok, step = probe, 2 * step
        else:
            return ok
    else:
        fail, step = start, 1
        while True:
            if fail >= hi:
                return None
            probe = min(hi, fail + step)
            if passes(probe):
                ok = probe
                break
            fail, step = probe, 2 * step
    return bisect_threshold(passes, fail, ok)


def bisect_threshold(passes: Callable[[int], bool], fail: int, ok: int) -> int:
    """Smallest n in (fail, ok] with passes(n), given that fail fails (or is below the
    range) and ok passes, assuming monotone."""
    while ok - fail > 1:
        mid = (ok + fail) // 2
        if passes(mid):
            ok = mid
        else:
            fail = mid
    return ok


@dataclass
class Explored:
    """What one search task simulated: (config, summary of replication 0), and which
    of them passed the SLO test on it."""

    evaluations: list[tuple[Config, dict]]
    best: Config | None = None
    passed: dict[Config, bool] = field(default_factory=dict)
    # A lower bound on the cost of every pool the search stopped before (None: none).
    stopped_at: float | None = None

    def record(self, case: Case, cfg: Config) -> bool:
        if cfg in self.passed:  # a search may ask twice; the run is the same
            return self.passed[cfg]
        summary = run_config(case, cfg, EXPLORE_REPLICATION)
        self.evaluations.append((cfg, summary))
        self.passed[cfg] = passes_slo(case, cfg, [summary])
        return self.passed[cfg]

    def cost(self, cfg: Config) -> float:
        return next(s["cost_per_hour"] for c, s in self.evaluations if c == cfg)

    def passing(self) -> list[tuple[Config, float]]:
        return [(c, s["cost_per_hour"]) for c, s in self.evaluations if self.passed[c]]


def static_search(case: Case, base: Config, guess: int, cap: int, floor: int = 0) -> Explored:
    """Smallest static pool (min = max, at least `floor`) of this candidate meeting the SLO."""
    explored = Explored([])
    # Fewer than stable_workers never keep up.
    lo = min(cap, max(1, floor, stable_workers(case, base.with_workers(cap, cap))))
    m = smallest_passing(lambda n: explored.record(case, base.with_workers(n, n)), lo, cap, guess)
    explored.best = base.with_workers(m, m) if m is not None else None
    return explored


def autoscaled_search(
    case: Case,
    base: Config,
    static: tuple[int, float],
    cap: int,
    floor: int,
    price: float,
    best: float,
) -> Explored:
    """For each min_workers from `floor` up, the smallest max_workers meeting the SLO.

    The static pool (M, M) passed at `static` = (M, its cost), so only min < M can
    cost less. More warm workers
    never need a higher max_workers, so each min's search starts from the last one's
    answer and walks down (a staircase: a few runs per min). A pool is never below
    min_workers billed pods (Launch's HPA and Celery autoscaler keep min_workers; a
    failed pod is replaced at once), so it costs at least min × price: the walk stops
    at the first min where that reaches the cheapest pass known (`best`, from earlier
    waves, or one found here); `stopped_at` keeps m × price where it stopped, a lower
    bound on every pool it left (min ≥ m), for the screened search's check
    (`capplan.planner.screening`). max_workers only costs when used, so the smallest
    passing max is the cheapest for its min whenever extra workers only add cost;
    the confirmation tries the next max when it is not (`capplan.planner.confirmation`).
    """
    explored = Explored([])
    static_m, best = static[0], min(best, static[1])
    stable = stable_workers(case, base.with_workers(cap, cap))
    hi, guess = cap, static_m  # the first min starts at max M, the static pool's size
    for m in range(floor, static_m):
        lo = max(m + 1, stable)
        if m * price >= best or lo > hi:
            explored.stopped_at = m * price  # every pool with min ≥ m bills at least this
            break
        x = smallest_passing_from(
            lambda n, m=m: explored.record(case, base.with_workers(m, n)), lo, hi, guess
        )
        if x is None:
            continue
        cfg = base.with_workers(m, x)
        best = min(best, explored.cost(cfg))
        hi, guess = x, x
    passing = explored.passing()
    explored.best = min(passing, key=lambda p: preference(p[1], p[0]))[0] if passing else None
    return explored


# ---------------------------------------------------------------- the plan for one template
@dataclass
class Search:
    candidates: int = 0
    screened_out: int = 0
    pruned: int = 0
    simulations: int = 0
    seconds: float = 0.0
    explored: list[tuple[Config, dict]] | None = None
    refuted: int = 0  # passes explored on a screening case that failed on the whole horizon
    confirming: int = 0  # simulations of the confirmation (whole horizon, and its bumps)
    explored_first: int = 0  # simulations so far, less confirming, after the first search
    # For each part of the space left unsearched on cost (a candidate pruned by its bound,
    # a staircase stopped at a min_workers): a lower bound on the cost of every pool in it.
    skipped: list[float] = field(default_factory=list)


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
        wave = kept(case, wave, best, search)
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
        pending = kept(case, pending, best, search)
    return results


def kept(
    case: Case, items: list[tuple[K, Candidate]], best: float, search: Search
) -> list[tuple[K, Candidate]]:
    """The items whose candidate is `worth` simulating; each dropped candidate's proven
    bound goes to `search.skipped` (no pool of it costs less)."""
    out = []
    for key, c in items:
        if worth(case, c, best):
            out.append((key, c))
        else:
            search.skipped.append(c.bound)  # type: ignore[arg-type]  # worth: not None
    return out


def autoscaled_stage(
    case: Case,
    cands: list[Candidate],
    statics: dict[tuple, Explored],
    cap: int,
    runner: Runner,
    search: Search,
    floor: int,
) -> list[tuple[Config, float]]:
    """min/max search for candidates whose bound beats the cheapest pass so far.

    Returns every configuration that passed the exploration run, static pools
    included (cost on replication 0), cheapest first: the confirmation works
    down this list.
    """
    is_sync = sync_case(case)
    found: dict[Config, float] = {}
    for explored in statics.values():
        found.update(explored.passing())
    best = min(found.values(), default=math.inf)
    todo = []
    for c in cands:
        key = (c.base.gpu_type, c.base.gpus) if is_sync else c.static_key
        static = statics.get(key)
        if static is None or static.best is None:
            continue
        todo.append(((static.best.min_workers, static.cost(static.best)), c))
    searched = 0
    while todo:
        wave, todo = todo[:WAVE], todo[WAVE:]
        wave = kept(case, wave, best, search)
        searched += len(wave)
        tasks = [
            (case, c.base, m, cap, floor, c.screen.option.cost_per_hour, best) for m, c in wave
        ]
        for explored in runner.map(autoscaled_search, tasks):
            search.simulations += len(explored.evaluations)
            search.explored.extend(explored.evaluations)  # type: ignore[union-attr]
            found.update(explored.passing())
            if explored.stopped_at is not None:
                search.skipped.append(explored.stopped_at)
        best = min(found.values(), default=math.inf)
        todo = kept(case, todo, best, search)
    # Candidates never searched with the autoscaler: their bound could not beat the best.
    search.pruned = len(cands) - searched
    return sorted(found.items(), key=lambda fc: preference(fc[1], fc[0]))
