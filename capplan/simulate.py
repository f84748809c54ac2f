"""The simulation API: a scenario in, one result per template out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from capplan.engine import EngineConfig, EngineRecord, run_endpoint
from capplan.errors import CapplanError
from capplan.launch import is_streaming
from capplan.llm.profile import check_requests_fit
from capplan.metrics import combine, requests_frame, summarize, timeline_frame
from capplan.scenario import Case, Scenario, apply_overrides, load_scenario
from capplan.service import request_work
from capplan.sweep import Progress, Runner, executor_for
from capplan.workload import check_volume, generate, stream_rng


@dataclass(frozen=True)
class SimulationResult:
    """One template's simulation: summary dict plus per-request and timeline tables."""

    template: str
    summary: dict[str, Any]
    runs: list[dict[str, float]] = field(repr=False)  # one summary per replication
    records: list[EngineRecord] = field(repr=False)

    @property
    def requests(self) -> pd.DataFrame:
        frames = [requests_frame(r, i) for i, r in enumerate(self.records)]
        return pd.concat(frames, ignore_index=True)

    @property
    def timeline(self) -> pd.DataFrame:
        frames = [timeline_frame(r, i) for i, r in enumerate(self.records)]
        return pd.concat(frames, ignore_index=True)


def describe_config(case: Case) -> dict[str, Any]:
    """The configuration fields every summary starts with."""
    ec = case.template.endpoint_config
    return {
        "template": case.name,
        "gpu_type": ec.gpu_type if ec.gpus else None,
        "gpus": ec.gpus,
        "min_workers": ec.min_workers,
        "max_workers": ec.max_workers,
        "per_worker": ec.per_worker,
        "endpoint_type": str(case.template.effective_endpoint_type),
    }


def run_replication(case: Case, replication: int) -> tuple[dict[str, float], EngineRecord]:
    """Simulate one replication of one case; deterministic in (case, replication)."""
    seed = case.seed
    requests = generate(case.workload, seed, replication)
    ec = case.template.endpoint_config
    svc = case.service
    work = request_work(
        svc,
        requests,
        gpu_type=ec.gpu_type if ec.gpus else None,
        gpus=max(ec.gpus, 1),
        ref_gpu_type=svc.reference_gpu,
        ref_gpus=svc.reference_gpus or 1,
        rng=stream_rng(seed, replication, "service"),
    )
    cfg = EngineConfig.from_case(case)
    streaming = is_streaming(cfg.endpoint_type)
    tokens = None
    if svc.kind != "latency":
        tokens = (requests.context_tokens, requests.generated_tokens)
    if cfg.llm is not None and len(requests):
        check_requests_fit(cfg.llm.kv_cache_tokens, float((tokens[0] + tokens[1]).max()))  # type: ignore[index]
    record = run_endpoint(
        cfg,
        requests.arrival,
        work.total,
        work.first_token if streaming else None,
        requests.horizon,
        stream_rng(seed, replication, "cold_start"),
        tokens,
    )
    return summarize(record, requests.warmup, streaming), record


def simulate_cases(
    cases: Sequence[Case], replications: int, runner: Runner | None = None
) -> list[SimulationResult]:
    """Every replication of every case as one batch through `runner` (default: in-process).

    Replication r of a case is a pure function of (case, r), and results come
    back in task order, so the numbers never depend on the executor.
    """
    runner = runner if runner is not None else Runner.inline()
    for case in cases:  # before drawing anything: refuse absurd volume up front
        check_volume(case.workload, replications, case.simulation.max_requests, case.name)
    tasks = [(case, r) for case in cases for r in range(replications)]
    outputs = runner.map(run_replication, tasks)
    results = []
    for n, case in enumerate(cases):
        mine = outputs[n * replications : (n + 1) * replications]
        runs = [summary for summary, _ in mine]
        summary = {**describe_config(case), **combine(runs)}
        results.append(SimulationResult(case.name, summary, runs, [rec for _, rec in mine]))
    return results


def resolve_replications(scen: Scenario, replications: int | None) -> int:
    reps = replications if replications is not None else scen.simulation.replications
    if reps < 1:
        raise CapplanError(f"replications: must be >= 1, got {reps}")
    return reps


def simulate(
    scenario: Scenario | str | Path,
    template: str | None = None,
    *,
    seed: int | None = None,
    replications: int | None = None,
    overrides: dict[str, Any] | None = None,
    workers: int | None = 1,
    dask_address: str | None = None,
    progress: Progress | None = None,
) -> list[SimulationResult]:
    """Simulate every template of a scenario (or just `template`).

    `overrides` takes the same dotted paths as `capplan simulate --set`:
    `{"endpoint_config.per_worker": 4, "workload.rate": 5}`.
    Replications run in this process by default; `workers=N` runs N at once in
    a process pool (None: one per core), `dask_address` on a Dask cluster.
    The results are the same whichever is used.
    """
    scen = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    if template is not None:
        scen.template(template)  # a clear error for an unknown name
    scen = apply_overrides(scen, overrides or {}, template)
    if seed is not None:
        scen = apply_overrides(scen, {"seed": seed})
    reps = resolve_replications(scen, replications)
    cases = scen.cases(template)
    with executor_for(workers, dask_address) as executor:
        return simulate_cases(cases, reps, Runner(executor, progress))


__all__ = [
    "SimulationResult",
    "describe_config",
    "run_replication",
    "simulate",
    "simulate_cases",
]
