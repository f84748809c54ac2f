"""Confirmation: the explored passes, cheapest first, on fresh replications.

The search hands over every configuration that passed the exploration run
(replication 0), cheapest first. Replication 0 chose them, so it cannot also
vouch for them: each is confirmed on replications 1..R. Per GPU type, rounds
go down the list cheapest first: the GPU type holding the cheapest untried
pass confirms `confirm_top` at once, the others one (an alternative only needs
its best). A configuration that fails is bumped: its neighbours with one more
max_workers (for a static pool of a SYNC endpoint, at every per_worker of the
grid: the HPA then uses it) and one more min_workers are explored on
replication 0, and those that pass join the list at their cost. So a bump is
tried only when it is cheaper than the next runner-up, and a runner-up only
when it is cheaper than the next bump. A GPU type stops once nothing left can
beat the cheapest confirmed configuration, or after `max_bumps` rounds.
When the search explored on a screening case, the passes whose screened lower
bound on cost is below the cheapest confirmed are then confirmed together
(`capplan.planner.screening.near_ties`); every such pass that fails on the
whole horizon is counted (`Search.refuted`), and the planner then searches
again on the whole horizon (`capplan.planner.screening`, the fallback): so a
screened confirmation stops at the first round with a refuted pass, whose
further rounds could not change the pick.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from capplan.planner.bound import Candidate
from capplan.planner.config import (
    EXPLORE_REPLICATION,
    Config,
    config_of,
    preference,
    run_config,
    sync_case,
)
from capplan.planner.evidence import evaluate
from capplan.planner.screening import lower_bounds, near_ties
from capplan.planner.search import Search
from capplan.planner.verdict import passes_slo
from capplan.scenario import Case
from capplan.scenario.specs import PlannerSpec
from capplan.sweep import Runner


@dataclass
class Queue:
    """One GPU type's passes not yet confirmed (cheapest first) and its best confirmed."""

    todo: list[tuple[Config, float]] = field(default_factory=list)
    best: dict | None = None
    rounds: int = 0
    tried: bool = False  # whether anything of this GPU type was confirmed or failed

    def push(self, cfg: Config, cost: float) -> None:
        self.todo.append((cfg, cost))
        self.todo.sort(key=lambda fc: preference(fc[1], fc[0]))

    def head(self) -> float:
        return self.todo[0][1] if self.todo else math.inf


def confirm(
    case: Case,
    finals: list[tuple[Config, float]],
    reps: int,
    cap: int,
    runner: Runner,
    search: Search,
    *,
    grid: dict[tuple[str, int], list[int]] | None = None,
    explore_case: Case | None = None,
    confirm_top: int = 3,
    max_bumps: int = 8,
) -> tuple[dict | None, list[dict], set[str]]:
    """Confirm the exploration's passes cheapest first, with runners-up and bumps.

    `finals`: every configuration that passed the exploration run, with its cost
    there. `grid`: per (GPU type, count), the per_worker values searched (for the
    bumps of a static pool). `explore_case`: the case bumps are explored on (the
    search's; by default `case`). Returns the recommendation, every confirmed
    document (cheapest first) and the GPU types where nothing confirmed.
    """
    explore_case = explore_case or case
    queues: dict[str, Queue] = {}
    for cfg, cost in finals:
        queues.setdefault(cfg.gpu_type, Queue()).push(cfg, cost)
    seen = {c for c, _ in search.explored or []} | {c for c, _ in finals}
    confirmed: list[dict] = []
    while True:
        batch, ties = _batch(queues, confirm_top, max_bumps), False
        if not batch and explore_case is not case:  # screened: the near ties, together
            lower = lower_bounds(search.explored or [])
            batch = near_ties({g: q.todo for g, q in queues.items()}, lower, _best(queues))
            ties = True
        if not batch:
            break
        docs = evaluate(runner, case, batch, reps)
        search.simulations += reps * len(batch)
        failed = []
        for cfg, doc in zip(batch, docs, strict=True):
            q = queues[cfg.gpu_type]
            q.tried = True
            if doc["meets_slo"]:
                confirmed.append(doc)
                if q.best is None or _key(doc) < _key(q.best):
                    q.best = doc
            elif not ties:  # a near tie that fails is not bumped: the rounds did that
                failed.append(cfg)
            if not doc["meets_slo"] and explore_case is not case:
                search.refuted += 1  # the screen let it through: plan_template falls back
        if search.refuted:
            break  # the planner searches again on the whole horizon: nothing here counts
        bumps = [b for cfg in failed for b in neighbours(cfg, cap, grid) if b not in seen]
        bumps = list(dict.fromkeys(bumps))
        seen.update(bumps)
        for cfg, (summary, ok) in zip(bumps, _explore(runner, explore_case, bumps), strict=True):
            search.simulations += 1
            search.explored.append((cfg, summary))  # type: ignore[union-attr]
            if ok:
                queues[cfg.gpu_type].push(cfg, summary["cost_per_hour"])
    confirmed.sort(key=_key)
    failed_gpus = {g for g, q in queues.items() if q.tried and q.best is None}
    return (confirmed[0] if confirmed else None), confirmed, failed_gpus


def confirm_options(case: Case, cands: list[Candidate], planner: PlannerSpec) -> dict[str, Any]:
    """confirm()'s keyword arguments from the [planner] table: the per_worker grid of
    each GPU option (SYNC only: an ASYNC static pool depends on per_worker, and each
    per_worker's own was searched), confirm_top and max_bumps."""
    grid: dict[tuple[str, int], list[int]] = {}
    if sync_case(case):
        for c in cands:
            grid.setdefault((c.base.gpu_type, c.base.gpus), []).append(c.base.per_worker)
    return {"grid": grid, "confirm_top": planner.confirm_top, "max_bumps": planner.max_bumps}


def _key(doc: dict) -> tuple:
    return preference(doc["cost_per_hour"], config_of(doc))


def _best(queues: dict[str, Queue]) -> float:
    return min((q.best["cost_per_hour"] for q in queues.values() if q.best), default=math.inf)


def _batch(queues: dict[str, Queue], confirm_top: int, max_bumps: int) -> list[Config]:
    """This round's configurations to confirm: see the module docstring."""
    overall = _best(queues)
    active = {
        g: q
        for g, q in queues.items()
        if q.todo
        and q.rounds <= max_bumps
        and (q.best is None or q.head() < min(overall, q.best["cost_per_hour"]))
    }
    if not active:
        return []
    lead = min(active, key=lambda g: (active[g].head(), g))
    batch = []
    for g, q in sorted(active.items()):
        n = confirm_top if g == lead else 1
        limit = min(overall, q.best["cost_per_hour"]) if q.best else overall
        # Only passes that could beat the best confirmed; a GPU type with nothing
        # confirmed yet still tries its cheapest (the document's alternative).
        take = [c for c, cost in q.todo[:n] if cost < limit] or [q.todo[0][0]]
        q.todo = q.todo[len(take) :]
        q.rounds += 1
        batch.extend(take)
    return batch


def neighbours(
    cfg: Config, cap: int, grid: dict[tuple[str, int], list[int]] | None
) -> list[Config]:
    """One more max_workers, and one more min_workers (max raised to match if needed).
    A static pool's extra max_workers is tried at every per_worker of the grid: the
    static pool did not depend on it, the autoscaled one does."""
    out = []
    if cfg.max_workers < cap:
        static = cfg.min_workers == cfg.max_workers
        pws = (grid or {}).get((cfg.gpu_type, cfg.gpus), []) if static else []
        for pw in dict.fromkeys([cfg.per_worker, *pws]):
            out.append(Config(cfg.gpu_type, cfg.gpus, cfg.min_workers, cfg.max_workers + 1, pw))
    if cfg.min_workers < cap:
        out.append(cfg.with_workers(cfg.min_workers + 1, max(cfg.max_workers, cfg.min_workers + 1)))
    return out


def _explore(runner: Runner, case: Case, cfgs: list[Config]) -> list[tuple[dict, bool]]:
    summaries = runner.map(run_config, [(case, c, EXPLORE_REPLICATION) for c in cfgs])
    return [(s, passes_slo(case, c, [s])) for c, s in zip(cfgs, summaries, strict=True)]
