"""Evidence: configurations simulated with full replications, and what they show."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from capplan.analytic import (
    GpuOption,
    Screen,
    closed_clients,
    work_sample,
)
from capplan.llm.profile import engine_limits
from capplan.metrics import combine
from capplan.planner.config import (
    HOURS_PER_MONTH,
    Config,
    config_of,
    confirm_replications,
    current_config,
    preference,
    run_config,
)
from capplan.planner.recommendation import Alternative, evidence_of
from capplan.planner.search import Search
from capplan.planner.verdict import passes_slo, slo_values, violation
from capplan.scenario import Case, Scenario
from capplan.sweep import Runner
from capplan.workload import minute_rates


# ---------------------------------------------------------------- evidence
def evaluate(
    runner: Runner, case: Case, cfgs: Sequence[Config], reps: int, traffic: float = 1.0
) -> list[dict[str, Any]]:
    """Each config with `reps` replications: metrics with CIs, cost and the SLO verdict."""
    tasks = [(case, cfg, r, traffic) for cfg in cfgs for r in confirm_replications(reps)]
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
        **engine_limits(case.service, cfg.gpu_type or None, cfg.gpus),
        "metrics": metrics,
        "cost_per_hour": cost,
        "cost_per_month": cost * HOURS_PER_MONTH,
        "meets_slo": passes_slo(case, cfg, runs, traffic),
        "slo": slo_values(runs, case.slo),
        "_runs": list(runs),
    }


def cheapest_confirmed(
    found: dict | None,
    current: dict,
    thumb: dict,
    allowed: tuple[set[tuple[str, int]], int, int],
) -> tuple[dict | None, str | None]:
    """The recommendation: the cheapest configuration that met the SLO on the
    confirming replications among the search's pick (`found`), the current
    configuration and the rule of thumb (all three judged on the same runs), within
    the planner's limits, `allowed` = (GPU options, min_workers floor, max_workers cap).
    Also, when the current configuration met the SLO for less (or alone) but is outside
    them, why it is not the pick."""
    options, floor, cap = allowed

    def outside(doc: dict) -> str | None:
        if (doc["gpu_type"] or "", doc["gpus"]) not in options:
            return f"its GPU ({doc['gpus']}× {doc['gpu_type']}) is not among those considered"
        if doc["min_workers"] < floor:
            return (
                f"its min_workers {doc['min_workers']} is below the planner's floor of "
                f"{floor} ([planner] min_workers_floor)"
            )
        if doc["max_workers"] > cap:
            return f"its max_workers {doc['max_workers']} is above [planner] max_workers_cap"
        return None

    def key(doc: dict) -> tuple:
        return preference(doc["cost_per_hour"], config_of(doc))

    pick = found
    for doc in (current, thumb):
        if doc["meets_slo"] and outside(doc) is None and (pick is None or key(doc) < key(pick)):
            pick = doc
    cheaper = current["meets_slo"] and (pick is None or key(current) < key(pick))
    return pick, (outside(current) if cheaper else None)


def rule_of_thumb(case: Case) -> Config:
    """SGP docs: per_worker = peak concurrent requests / max_workers, template's min/max.

    Peak concurrency by Little's law: the busiest minute's rate × the mean
    request time at concurrency 1 on the template's GPU; a closed loop's is its
    clients (each has one request out at every moment).
    """
    cfg = current_config(case)
    clients = closed_clients(case)
    if clients is not None:
        return replace(cfg, per_worker=max(1, math.ceil(clients / max(cfg.max_workers, 1))))
    ec = case.template.endpoint_config
    total, _ = work_sample(case, GpuOption(ec.gpu_type or "", ec.gpus, 0.0))
    rates = minute_rates(case.workload, case.seed)
    peak = float(rates.max()) if rates.size else 0.0
    mean_work = float(total.mean()) if len(total) else 0.0
    per_worker = max(1, math.ceil(peak * mean_work / max(cfg.max_workers, 1)))
    return replace(cfg, per_worker=per_worker)


def alternatives(
    finals: list[tuple[Config, float]],
    confirmed: list[dict],
    failed: set[str],
    screens: list[Screen],
    recommended: dict | None,
    reps: int,
    bounds: dict[str, float | None],
) -> list[Alternative]:
    """The best confirmed configuration on each other GPU type (or why there is none)."""
    rec_gpu = recommended["gpu_type"] if recommended else None
    out = []
    for scr in screens:
        name = scr.option.gpu_type
        if name == rec_gpu:
            continue
        conf = [d for d in confirmed if d["gpu_type"] == name]
        explored = [(c, cost) for c, cost in finals if c.gpu_type == name]
        gpu = {"gpu_type": name or None, "gpus": scr.option.gpus}
        if conf:
            ev = evidence_of(conf[0])
            out.append(
                Alternative(
                    status="confirmed",
                    **ev.model_dump(include=set(Alternative.model_fields)),
                    evidence=ev,
                    note="confirmed with full replications",
                )
            )
        elif explored and name in failed:
            cfg, cost = explored[0]
            out.append(
                Alternative(
                    status="failed_confirmation",
                    **cfg.knobs(),
                    cost_per_hour=cost,
                    cost_per_month=cost * HOURS_PER_MONTH,
                    meets_slo=False,
                    note=(
                        f"met the SLO in one replication but not at the SLO's confidence over "
                        f"{reps} replications, nor did its runners-up and bumps (planner.max_bumps)"
                    ),
                )
            )
        else:
            out.append(
                Alternative(
                    status="not_simulated",
                    **gpu,
                    lower_bound_cost_per_hour=bounds.get(name),
                    fluid_estimate_cost_per_hour=scr.fluid_cost_per_hour,
                    meets_slo=False if not scr.feasible else None,
                    note=(
                        "a request alone on this GPU misses the SLO"
                        if not scr.feasible
                        else "skipped: its proven lower bound cannot beat the best found"
                    ),
                )
            )
    return out


def best_achievable(
    case: Case, scenario: Scenario, search: Search, screens: list[Screen], simulated: list[dict]
) -> tuple[dict | None, str]:
    """When nothing meets the SLO: the closest configuration tried, and why.

    `simulated` are the documents of the configurations evaluated with full
    replications (the current one and the rule of thumb): there is always one.
    """
    slo, planner = case.slo, scenario.planner
    tried = [(violation([s], slo), c, s) for c, s in search.explored or []]
    tried += [(violation(d["_runs"], slo), config_of(d), d["metrics"]) for d in simulated]
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
    best = {**point(cfg, summary), "violation": score}
    return best, why


def _start_up_s(case: Case) -> float:
    """Expected seconds from a worker's request to ready (node, load, readiness delay)."""
    svc, bundle = case.service, case.template.bundle_config
    delay = float(bundle.readiness_initial_delay_seconds) if bundle else 120.0
    node = 0.0 if case.template.endpoint_config.high_priority else svc.node_provisioning_s
    return node + max(delay, svc.cold_start.expected)


def point(cfg: Config, summary: dict) -> dict[str, Any]:
    return {
        **cfg.knobs(),
        "cost_per_hour": summary["cost_per_hour"],
        "latency_p99_s": summary["latency_p99_s"],
        "ttft_p99_s": summary["ttft_p99_s"],
        "error_rate": summary["error_rate"],
    }
