"""Sensitivity: the recommendation under more traffic, and what it would need.

Both the recommendation at each traffic factor and what it needs there are
judged by the planner's own verdict (`verdict.passes_slo`): the one-sided test
at slo.confidence on the replications behind every confirmed verdict
(`confirm_replications`: 1..R, never the exploring replication 0). "Needs" is
always strictly more capacity than the recommendation (`capacity_ladder`),
never the recommended configuration itself.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from capplan.planner.config import (
    EXPLORE_REPLICATION,
    Config,
    config_of,
    confirm_replications,
    run_config,
)
from capplan.planner.evidence import describe
from capplan.planner.recommendation import Stress, evidence_of
from capplan.planner.search import smallest_passing
from capplan.planner.verdict import passes_slo, stable_workers
from capplan.scenario import Case
from capplan.sweep import Runner


def capacity_ladder(cfg: Config, cap: int) -> list[list[Config]]:
    """The larger pools the sensitivity search may propose: sections, each in increasing
    capacity, searched in turn.

    An autoscaled recommendation (min < max) first gets a higher max_workers with
    the same warm workers, then static pools from its max_workers up; a static one
    grows as a static pool. Every rung has at least the recommendation's
    min_workers and max_workers and more of one of them: strictly more capacity.
    """
    lo, hi = cfg.min_workers, cfg.max_workers
    sections = []
    if lo < hi:
        sections.append([cfg.with_workers(lo, m) for m in range(hi + 1, cap + 1)])
    first_static = hi if lo < hi else hi + 1
    sections.append([cfg.with_workers(n, n) for n in range(max(first_static, 1), cap + 1)])
    return [s for s in sections if s]


@dataclass(frozen=True)
class Needed:
    """What a larger pool search found: the config (None: nothing up to the cap) with the
    replications that confirmed it, and how many simulations the search ran."""

    config: Config | None
    runs: tuple[dict, ...]
    simulations: int


def workers_needed(case: Case, cfg: Config, traffic: float, cap: int, reps: int) -> Needed:
    """A larger pool (on `capacity_ladder`) that meets the SLO at scaled traffic.

    As the planner does, section by section: the smallest rung that passes on the
    exploring replication (bisection, assuming more workers never hurt), then the
    verdict's test on replications 1..reps; a rung that fails it hands over to a
    search of the rungs above it with that same test. So the configuration
    returned always passes the verdict's test and is strictly more than cfg; it
    is the smallest such rung the search found, not proven the smallest. Runs in
    a worker process (a pure function).
    """
    count = [0]
    confirmed: dict[Config, tuple[dict, ...]] = {}

    def explore(c: Config) -> bool:
        count[0] += 1
        return passes_slo(case, c, [run_config(case, c, EXPLORE_REPLICATION, traffic)], traffic)

    def verdict(c: Config) -> bool:
        runs = tuple(run_config(case, c, r, traffic) for r in confirm_replications(reps))
        count[0] += len(runs)
        if passes_slo(case, c, runs, traffic):
            confirmed[c] = runs
            return True
        return False

    sections = capacity_ladder(cfg, cap)
    for rungs in sections:
        last = len(rungs) - 1
        guess = _guess(case, cfg, traffic, rungs)
        i = smallest_passing(lambda k, r=rungs: explore(r[k]), 0, last, guess)
        if i is not None and not verdict(rungs[i]):
            above = i + 1
            i = None
            if above <= last:
                i = smallest_passing(lambda k, r=rungs: verdict(r[k]), above, last, above)
        if i is not None:
            return Needed(rungs[i], confirmed[rungs[i]], count[0])
    # Not even the largest pool passed one replication: the verdict has the last word.
    if sections and verdict(sections[-1][-1]):
        return Needed(sections[-1][-1], confirmed[sections[-1][-1]], count[0])
    return Needed(None, (), count[0])


def _guess(case: Case, cfg: Config, traffic: float, rungs: Sequence[Config]) -> int:
    """The first rung with max_workers >= the recommendation's × traffic (and enough to
    carry the mean rate): where the search starts."""
    want = max(math.ceil(cfg.max_workers * traffic), stable_workers(case, cfg, traffic))
    return next((i for i, c in enumerate(rungs) if c.max_workers >= want), len(rungs) - 1)


def sensitivity_needs(
    case: Case, cfg: Config, failing: Sequence[float], cap: int, reps: int, runner: Runner
) -> list[Needed]:
    """workers_needed for each failing traffic factor, one parallel task per factor."""
    return runner.map(workers_needed, [(case, cfg, f, cap, reps) for f in failing])


def sensitivity(
    case: Case,
    recommended: dict | None,
    reps: int,
    cap: int,
    runner: Runner,
    factors: Sequence[float],
) -> tuple[list[Stress], int]:
    """The recommendation at each [planner] sensitivity traffic factor, and for each
    factor where it fails the verdict, the larger pool that passes it. Also returns
    the simulations run."""
    if recommended is None:
        return [], 0
    cfg = config_of(recommended)
    # Every traffic level in one batch, then the searches for what the failing ones
    # need, one task per level: each stage runs in parallel on the runner.
    tasks = [(case, cfg, r, f) for f in factors for r in confirm_replications(reps)]
    summaries = runner.map(run_config, tasks)
    docs = [
        describe(case, cfg, summaries[n * reps : (n + 1) * reps], factor)
        for n, factor in enumerate(factors)
    ]
    failing = [f for f, doc in zip(factors, docs, strict=True) if not doc["meets_slo"]]
    needs = sensitivity_needs(case, cfg, failing, cap, reps, runner)
    found = dict(zip(failing, needs, strict=True))
    simulations = len(tasks) + sum(n.simulations for n in found.values())
    out = []
    for factor, doc in zip(factors, docs, strict=True):
        entry: dict[str, Any] = {
            "traffic": factor,
            "meets_slo": doc["meets_slo"],
            "metrics": doc["metrics"],
            "slo": doc["slo"],
            "cost_per_hour": doc["cost_per_hour"],
        }
        if factor in found:
            entry.update(_needs_entry(case, found[factor], factor, cap))
        out.append(Stress.model_validate(entry))
    return out, simulations


def _needs_entry(case: Case, needed: Needed, factor: float, cap: int) -> dict[str, Any]:
    level = f"{case.slo.confidence:.0%} confidence"
    if needed.config is None:
        return {
            "needs": None,
            "note": f"does not meet the SLO at {level} even with {cap} workers "
            "(planner.max_workers_cap): change GPU type or per_worker",
        }
    c = needed.config
    return {
        "needs": evidence_of(describe(case, c, needed.runs, factor)),
        "note": f"needs min_workers {c.min_workers}, max_workers {c.max_workers} "
        f"to meet it at {level}",
    }
