"""The exhaustive reference: every (min, max, per_worker) of a grid under the planner's rule.

The rule is the planner's own: a configuration counts when it passes the SLO
test on the exploration run (replication 0) and then on the fresh
replications 1..R (`capplan.planner.verdict.passes_slo`). The cheapest such
configuration of the grid (by its confirmed cost) is what the planner's search
is measured against, in `benchmarks/planner.py --exhaustive` and in the tests.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from capplan.planner.config import (
    EXPLORE_REPLICATION,
    Config,
    config_of,
    preference,
    run_config,
    sync_case,
)
from capplan.planner.evidence import evaluate
from capplan.planner.verdict import passes_slo
from capplan.scenario import Case
from capplan.sweep import Runner


@dataclass
class GridResult:
    best: dict | None  # the cheapest confirmed configuration's document
    configs: int  # grid points (static pools of a SYNC endpoint counted once)
    passed: int  # of which passed the exploration run
    confirmed: int  # of which were confirmed (the search stops early, see below)
    simulations: int


def grid_configs(
    case: Case,
    gpu: tuple[str, int],
    per_workers: Sequence[int],
    mins: Sequence[int],
    max_hi: int,
    price: float,
    below: float = math.inf,
) -> list[Config]:
    """Every min in `mins`, max in [max(min, 1), max_hi], per_worker: min <= max. A
    SYNC static pool does not depend on per_worker: it appears once. Points whose
    min_workers alone cost more than `below` are left out: a pool keeps at least
    min_workers billed pods, so none of them can be cheaper than `below`."""
    out, statics = [], set()
    for pw in per_workers:
        for m in mins:
            if m * price > below:
                continue
            for x in range(max(m, 1), max_hi + 1):
                if m == x and sync_case(case):
                    if m in statics:
                        continue
                    statics.add(m)
                out.append(Config(gpu[0], gpu[1], m, x, pw))
    return out


def grid_optimum(
    case: Case,
    cfgs: Sequence[Config],
    reps: int,
    runner: Runner,
    margin: float | None = None,
    chunk: int = 4,
) -> GridResult:
    """The cheapest configuration of `cfgs` passing replication 0 and then 1..R.

    Every point is explored; the passes are confirmed cheapest first (by their
    cost on replication 0). With `margin` None every pass is confirmed; else the
    confirmation stops at the first pass whose exploration cost exceeds the
    cheapest confirmed cost × (1 + margin) (a replication's cost differs from the
    mean of R others by a few per cent at most on the bundled scenarios).
    """
    summaries = runner.map(run_config, [(case, c, EXPLORE_REPLICATION) for c in cfgs])
    passes = [
        (s["cost_per_hour"], c)
        for c, s in zip(cfgs, summaries, strict=True)
        if passes_slo(case, c, [s])
    ]
    passes.sort(key=lambda p: preference(*p))
    best: dict | None = None
    done = 0
    while done < len(passes):
        if best is not None and margin is not None:
            if passes[done][0] > best["cost_per_hour"] * (1 + margin):
                break
        batch = [c for _, c in passes[done : done + chunk]]
        done += len(batch)
        for doc in evaluate(runner, case, batch, reps):
            if doc["meets_slo"] and (best is None or _key(doc) < _key(best)):
                best = doc
    return GridResult(best, len(cfgs), len(passes), done, len(cfgs) + done * reps)


def _key(doc: dict) -> tuple:
    return preference(doc["cost_per_hour"], config_of(doc))
