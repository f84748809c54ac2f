"""The recommendation document for each template, and the planner's entry point."""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

from capplan.analytic import closed_clients
from capplan.planner.bound import Candidate, candidates
from capplan.planner.config import HOURS_PER_MONTH, Config, current_config, workers_floor
from capplan.planner.confirmation import confirm, confirm_options
from capplan.planner.evidence import (
    alternatives,
    best_achievable,
    cheapest_confirmed,
    evaluate,
    point,
    rule_of_thumb,
)
from capplan.planner.recommendation import Recommendation, evidence_of
from capplan.planner.screening import Screening, fallback_reason, screening_doc, screening_for
from capplan.planner.search import Search, autoscaled_stage, static_stage
from capplan.planner.sensitivity import sensitivity
from capplan.scenario import Case, Scenario, load_scenario
from capplan.sweep import Progress, Runner, executor_for
from capplan.workload import check_volume


def plan_template(case: Case, scenario: Scenario, runner: Runner) -> Recommendation:
    """The recommendation document for one template."""
    started = time.perf_counter()
    reps = scenario.planner.replications
    check_volume(case.workload, reps, case.simulation.max_requests, case.name)
    cap = scenario.planner.max_workers_cap
    cands, screens, cut, bounds = candidates(case, scenario)
    search = Search(candidates=len(cands) + cut, screened_out=cut, explored=[])
    proven = [b for b in bounds.values() if b is not None]
    # A bound only when every GPU type considered has one.
    lower_bound = min(proven) if proven and len(proven) == len(bounds) else None
    estimate = min((s.fluid_cost_per_hour for s in screens), default=math.inf)

    floor = workers_floor(case, scenario.planner.min_workers_floor, cap)
    # On a long horizon the search explores on the busiest windows (`screening`); a closed
    # loop has no busiest windows of its own (its traffic follows the pool), so never.
    screen = screening_for(case, scenario.planner) if closed_clients(case) is None else None
    allowed = ({(s.option.gpu_type, s.option.gpus) for s in screens}, floor, cap)
    # Judged on the confirming replications like every pick: either may be the cheapest.
    current, thumb = evaluate(runner, case, [current_config(case), rule_of_thumb(case)], reps)
    options = confirm_options(case, cands, scenario.planner)
    finals, (recommended, confirmed, failed), why = search_with_fallback(
        case, screen, cands, (cap, floor, reps), runner, search, options, (current, thumb, allowed)
    )
    explored = search.explored_first  # the first search's exploring runs
    search.simulations += 2 * reps  # the current configuration and the rule of thumb
    recommended, current_note = cheapest_confirmed(recommended, current, thumb, allowed)
    factors = scenario.planner.sensitivity
    stressed, stress_sims = sensitivity(case, recommended, reps, cap, runner, factors)
    search.simulations += stress_sims
    doc: dict[str, Any] = {
        "template": case.name,
        "feasible": recommended is not None,
        "current": evidence_of(current),
        "rule_of_thumb": evidence_of(thumb),
        "recommended": evidence_of(recommended) if recommended else None,
        "lower_bound_cost_per_hour": lower_bound,
        "fluid_estimate_cost_per_hour": estimate,
        "saving_per_month": (current["cost_per_hour"] - recommended["cost_per_hour"])
        * HOURS_PER_MONTH
        if recommended
        else None,
        "alternatives": alternatives(finals, confirmed, failed, screens, recommended, reps, bounds),
        "sensitivity": stressed,
        "explored": [point(c, s) for c, s in search.explored or []],
        "screening": screening_doc(screen, explored, why),
        "current_not_recommended": current_note,
    }
    if recommended is None:
        doc["best_achievable"], doc["why"] = best_achievable(
            case, scenario, search, screens, [current, thumb]
        )
    search.seconds = time.perf_counter() - started
    doc["search"] = {
        "candidates": search.candidates,
        "screened_out": search.screened_out,
        "pruned": search.pruned,
        "min_workers_floor": floor,
        "simulations": search.simulations,
        "sensitivity_simulations": stress_sims,
        "seconds": round(search.seconds, 2),
    }
    return Recommendation.model_validate(doc)


def search_with_fallback(
    case: Case,
    screen: Screening | None,
    cands: list[Candidate],
    limits: tuple[int, int, int],
    runner: Runner,
    search: Search,
    options: dict[str, Any],
    evidence: tuple[dict, dict, tuple[set[tuple[str, int]], int, int]],
) -> tuple[list[tuple[Config, float]], tuple[dict | None, list[dict], set[str]], str | None]:
    """Search (on the screening case when there is one) and confirm; when the screened
    search may have stopped short of full simulation's pick (`fallback_reason`: a pass
    the whole horizon failed, or a stop whose bound is below the best confirmed cost,
    the current configuration and the rule of thumb included), search again on the whole
    horizon, the same computation as with screening off, so the pick is its pick.
    Returns the finals, confirm()'s answer and why it fell back (None: it did not)."""
    explore = screen.case if screen is not None else case
    finals, answer = search_and_confirm(explore, case, cands, limits, runner, search, options)
    search.explored_first = search.simulations - search.confirming
    if screen is None:
        return finals, answer, None
    pick, _ = cheapest_confirmed(answer[0], *evidence)
    best = pick["cost_per_hour"] if pick else math.inf
    why = fallback_reason(search.refuted, search.skipped, best)
    if why is not None:
        full = Search(explored=[])
        finals, answer = search_and_confirm(case, case, cands, limits, runner, full, options)
        search.simulations += full.simulations
        search.explored.extend(full.explored or [])  # type: ignore[union-attr]
        search.pruned = full.pruned
    return finals, answer, why


def search_and_confirm(
    explore: Case,
    case: Case,
    cands: list[Candidate],
    limits: tuple[int, int, int],
    runner: Runner,
    search: Search,
    options: dict[str, Any],
) -> tuple[list[tuple[Config, float]], tuple[dict | None, list[dict], set[str]]]:
    """Explore on `explore` (the case, or its screening case), then confirm the passes
    on the whole `case`: the finals and confirm()'s answer. `limits`: cap, floor, reps."""
    cap, floor, reps = limits
    statics = static_stage(explore, cands, cap, runner, search, floor)
    finals = autoscaled_stage(explore, cands, statics, cap, runner, search, floor)
    before = search.simulations
    # Bumps are explored where the finals were, so the queue orders like with like.
    answer = confirm(case, finals, reps, cap, runner, search, explore_case=explore, **options)
    search.confirming += search.simulations - before
    return finals, answer


# ---------------------------------------------------------------- entry point
def recommend(
    scenario: Scenario | str | Path,
    template: str | None = None,
    *,
    workers: int | None = None,
    dask_address: str | None = None,
    progress: Progress | None = None,
) -> list[Recommendation]:
    """One recommendation document per template (`capplan.planner.recommendation`)."""
    scen = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    if template is not None:
        scen.template(template)
    with executor_for(workers, dask_address) as executor:
        runner = Runner(executor, progress)
        return [plan_template(case, scen, runner) for case in scen.cases(template)]
