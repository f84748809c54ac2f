"""Configurations: the knobs the planner sets, and how one is simulated."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from capplan.hardware import HOURS_PER_MONTH
from capplan.launch import is_sync
from capplan.scenario import Case
from capplan.simulate import run_replication
from capplan.workload import scale_traffic

# Candidates searched per wave. Between waves the search prunes with the cheapest pass
# found so far, and each task gets that figure as an argument, so which candidates are
# simulated depends on how the list is cut into waves. A fixed size (not the executor's
# worker count) makes the document a function of the scenario alone: the same with
# --workers 1, 2 or a Dask cluster. 4 keeps 2-4 cores busy while pruning early.
WAVE = 4
# The [planner] keys confirm_top and max_bumps (PlannerSpec) set the confirmation's
# width and its rounds of runners-up and bumps; their defaults live there.
# Exploration judges candidates on replication 0; confirmation and every figure with
# replications (current, rule of thumb, sensitivity, the lower bound) use 1..R, draws
# that played no part in choosing the candidate.
EXPLORE_REPLICATION = 0
# How far above per_worker a SYNC/STREAMING worker's average concurrency runs before
# the HPA adds a pod: Kubernetes' --horizontal-pod-autoscaler-tolerance default 0.1,
# which Launch does not change. It steers the analytic screen's cost estimate and where
# the static search starts, and for the llm kind it sizes the batch a candidate's KV
# cache must hold (per_worker values whose 1.1 × batch does not fit are not searched).
# No verdict or bound rests on it, so it is not a [planner] key: the simulated HPA
# (`[autoscaler] hpa_tolerance`) decides how the pool actually behaves.
SYNC_TOLERANCE = 1.1


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
    return run_replication(config_case(case, cfg, traffic), replication, records=False)[0]


def preference(cost: float, cfg: Config) -> tuple:
    """Cheapest first; at equal cost (to the cent per month), more warm workers —
    the same money buys less reliance on scaling from cold."""
    return (round(cost * HOURS_PER_MONTH, 2), -cfg.min_workers, cfg.max_workers, cfg)


def config_of(doc: dict) -> Config:
    return Config(
        doc["gpu_type"] or "",
        doc["gpus"],
        doc["min_workers"],
        doc["max_workers"],
        doc["per_worker"],
    )


def distinct(cfgs: list[Config]) -> list[Config]:
    seen, out = set(), []
    for c in cfgs:
        if c not in seen:
            seen.add(c)
            out.append(c)
    return out


def sync_case(case: Case) -> bool:
    """SYNC or STREAMING (the HPA and KEDA scale it), not ASYNC or BATCH (Celery)."""
    return is_sync(case.template.effective_endpoint_type)


def workers_floor(case: Case, floor: int | None, cap: int) -> int:
    """The fewest min_workers the planner recommends: [planner] min_workers_floor, else 2
    for SYNC/STREAMING (a production endpoint survives one pod restart or node drain; with
    no activator, Launch returns 503 while no pod is ready) and 0 for ASYNC/BATCH (Celery
    keeps tasks queued while a worker starts)."""
    if floor is None:
        floor = 2 if sync_case(case) else 0
    return min(floor, cap)


def confirm_replications(reps: int) -> range:
    """The replications behind a confirmed verdict: fresh ones, never the exploring one."""
    return range(EXPLORE_REPLICATION + 1, EXPLORE_REPLICATION + 1 + reps)
