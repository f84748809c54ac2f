"""Confirmation: the best explored configurations, with the planner's replications."""

from __future__ import annotations

from capplan.planner.config import CONFIRM_TOP, MAX_BUMPS, Config, config_of, distinct, preference
from capplan.planner.evidence import evaluate
from capplan.planner.search import Search
from capplan.scenario import Case
from capplan.sweep import Runner


def confirm(
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
    wanted = distinct([cfg for cfg, _ in finals][:CONFIRM_TOP] + list(per_gpu.values()))
    first = evaluate(runner, case, wanted, reps)  # one parallel batch
    search.simulations += reps * len(wanted)
    confirmed, failed = [], set()
    for cfg, doc in zip(wanted, first, strict=True):
        bumped: Config | None = cfg
        for _ in range(MAX_BUMPS):
            if doc["meets_slo"]:
                break
            bumped = bump(bumped, cap)
            if bumped is None:
                break
            doc = evaluate(runner, case, [bumped], reps)[0]
            search.simulations += reps
        if doc["meets_slo"]:
            confirmed.append(doc)
        else:
            failed.add(cfg.gpu_type)
    confirmed = distinct_docs(confirmed)
    confirmed.sort(key=lambda d: preference(d["cost_per_hour"], config_of(d)))
    return (confirmed[0] if confirmed else None), confirmed, failed


def distinct_docs(docs: list[dict]) -> list[dict]:
    seen, out = set(), []
    for d in docs:
        key = config_of(d)
        if key not in seen:
            seen.add(key)
            out.append(d)
    return out


def bump(cfg: Config, cap: int) -> Config | None:
    """The next step up in capacity: one more warm worker, or, for a static pool,
    one more worker the autoscaler may add — (2, 2) → (2, 3) → (3, 3) → (3, 4) —
    so each step costs at most one worker more than the last."""
    if cfg.min_workers < cfg.max_workers:
        return cfg.with_workers(cfg.min_workers + 1, cfg.max_workers)
    if cfg.max_workers >= cap:
        return None
    return cfg.with_workers(cfg.min_workers, cfg.max_workers + 1)
