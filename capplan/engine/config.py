"""The engine's input: plain numbers drawn from a template and a scenario case.

The engine knows nothing of files, pydantic or the CLI; `EngineConfig.from_case`
is the one place where a template's fields become simulation parameters.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from capplan.distributions import Dist
from capplan.launch import async_task_slots, is_async
from capplan.llm.batch import LlmParams
from capplan.policies import AutoscalerParams

if TYPE_CHECKING:  # for the type hint only: the engine never imports the scenario layer
    from capplan.scenario import Case


@dataclass(frozen=True, slots=True)
class EngineConfig:
    """Everything the engine needs to simulate one endpoint configuration."""

    endpoint_type: str  # SYNC | STREAMING | ASYNC | BATCH
    min_workers: int
    max_workers: int
    per_worker: int
    batching_alpha: float  # s(k) = 1 + alpha (k - 1)
    concurrency_limit: int  # sync: the forwarder's hard limit; async: min(per_worker, cap)
    readiness_delay_s: float  # bundle_config.readiness_initial_delay_seconds
    probe_period_s: float  # readiness probe period after the initial delay
    node_provisioning_s: float  # skipped when high_priority
    high_priority: bool
    cold_start: Dist  # image pull + model load
    image_pull_s: float  # the first part of each cold start (pod Pending); the rest runs unready
    max_retries: int
    retry_backoff_base: float
    retry_min_wait_s: float
    retry_max_wait_s: float
    gateway_timeout_s: float
    task_expiry_s: float
    drain_grace_s: float
    autoscaler: str  # launch | static
    cost_per_hour: float  # one worker, $/h
    llm: LlmParams | None = None  # set for the llm service kind: each worker is a serving engine
    autoscaler_params: AutoscalerParams = AutoscalerParams()  # the control loops' constants
    worker_mtbf_s: float = math.inf  # mean time between failures of one running pod; inf: none

    @property
    def is_async(self) -> bool:
        return is_async(self.endpoint_type)

    @classmethod
    def from_case(cls, case: Case, cost_per_hour: float | None = None) -> EngineConfig:
        from capplan.hardware import worker_cost_per_hour

        t = case.template
        ec, bc = t.endpoint_config, t.bundle_config
        sim = case.simulation
        kind = str(t.effective_endpoint_type)
        queued = is_async(kind)
        if cost_per_hour is None:
            cost_per_hour = worker_cost_per_hour(
                ec.gpu_type, ec.gpus, float(ec.cpus), ec.memory_bytes, case.prices
            )
        return cls(
            endpoint_type=kind,
            min_workers=ec.min_workers,
            max_workers=ec.max_workers,
            per_worker=ec.per_worker,
            batching_alpha=case.service.batching_alpha,
            concurrency_limit=(
                async_task_slots(ec.per_worker, sim.async_concurrency_cap)
                if queued
                else case.service.concurrency_limit
            ),
            readiness_delay_s=float(bc.readiness_initial_delay_seconds) if bc else 120.0,
            probe_period_s=sim.readiness_probe_period_s,
            node_provisioning_s=case.service.node_provisioning_s,
            high_priority=bool(ec.high_priority),
            cold_start=case.service.cold_start,
            image_pull_s=case.service.image_pull_s,
            max_retries=sim.max_retries,
            retry_backoff_base=sim.retry_backoff_base,
            retry_min_wait_s=sim.retry_min_wait_s,
            retry_max_wait_s=sim.retry_max_wait_s,
            gateway_timeout_s=sim.gateway_timeout_s,
            task_expiry_s=sim.task_expiry_s,
            drain_grace_s=sim.drain_grace_async_s if queued else sim.drain_grace_sync_s,
            autoscaler=sim.autoscaler,
            cost_per_hour=cost_per_hour,
            llm=_llm_params(case),
            autoscaler_params=case.autoscaler.params(),
            worker_mtbf_s=(
                math.inf
                if case.faults.worker_mtbf_h is None
                else case.faults.worker_mtbf_h * 3600.0
            ),
        )


def _llm_params(case: Case) -> LlmParams | None:
    if case.service.kind != "llm":
        return None
    from capplan.llm.profile import llm_params

    ec = case.template.endpoint_config
    return llm_params(case.service, ec.gpu_type if ec.gpus else None, max(ec.gpus, 1))
