"""The simulation API: a scenario in, one result per template out."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from capplan.engine import EngineConfig, EngineRecord, run_closed, run_endpoint
from capplan.engine.stream import Chunk, run_endpoint_stream
from capplan.errors import CapplanError
from capplan.launch import is_streaming
from capplan.llm.profile import check_requests_fit
from capplan.metrics import combine, requests_frame, summarize, timeline_frame
from capplan.scenario import Case, Scenario, apply_overrides, load_scenario
from capplan.service import Work, request_work
from capplan.sweep import Progress, Runner, executor_for
from capplan.tally import RequestTally
from capplan.workload import Requests, check_volume, generate_windows, stream_rng
from capplan.workload import horizon as workload_horizon
from capplan.workload.spans import SpanCut, span_cut, whole_horizon_cost


@dataclass(frozen=True)
class SimulationResult:
    """One template's simulation: summary dict plus per-request and timeline tables."""

    template: str
    summary: dict[str, Any]
    runs: list[dict[str, float]] = field(repr=False)  # one summary per replication
    records: list[EngineRecord] = field(repr=False)
    records_kept: bool = True  # False: run with records=False, workers' tables only

    def _need_records(self) -> None:
        if not self.records_kept:
            raise CapplanError(
                "per-request and timeline records were not kept: simulate with records=True"
            )

    @property
    def requests(self) -> pd.DataFrame:
        self._need_records()
        frames = [requests_frame(r, i) for i, r in enumerate(self.records)]
        return pd.concat(frames, ignore_index=True)

    @property
    def timeline(self) -> pd.DataFrame:
        self._need_records()
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


def replication_work(
    case: Case, replication: int, cut: SpanCut | None = None
) -> tuple[Requests, Work]:
    """The requests of one replication and their work on the case's GPU (the planner's
    lower bound reads the same draws the simulation serves): the windows, joined."""
    parts = list(_windows(case, replication, cut))
    if len(parts) == 1:
        return parts[0]
    requests = Requests(
        *(np.concatenate([getattr(r, k) for r, _ in parts]) for k in _REQUEST_ARRAYS),
        parts[0][0].horizon,
        parts[0][0].warmup,
    )
    return requests, Work(
        *(np.concatenate([getattr(w, k) for _, w in parts]) for k in _WORK_ARRAYS)
    )


def replication_windows(case: Case, replication: int) -> Iterator[tuple[Requests, Work]]:
    """The requests of one replication and their work, a window (a day) at a time."""
    return _windows(case, replication)


# Arrivals handed to a run that keeps no per-request record, at a time (~2 h at 20/s).
CHUNK = 1 << 17
_REQUEST_ARRAYS = ("arrival", "context_tokens", "generated_tokens")
_WORK_ARRAYS = ("total", "first_token")


def run_replication(
    case: Case, replication: int, records: bool = True
) -> tuple[dict[str, float], EngineRecord]:
    """Simulate one replication of one case; deterministic in (case, replication).

    records=False keeps no per-request arrays and no timeline (the record
    returned has only the workers' table): requests are drawn a day at a time
    and handed to the engine in chunks, so memory stays O(a day's draws +
    requests in the system + workers) whatever the horizon, and the summary is
    the same as with records (`capplan.engine.stream`).
    """
    seed = case.seed
    cfg = EngineConfig.from_case(case)
    streaming = is_streaming(cfg.endpoint_type)
    cold_rng = stream_rng(seed, replication, "cold_start")
    fault_rng = stream_rng(seed, replication, "faults")
    # Only some windows of the horizon (capplan.workload.spans), or the whole of it.
    cut = span_cut(case.workload)
    horizon, warmup = workload_horizon(case.workload), case.workload.warmup_s
    if cut is not None:
        horizon, warmup = cut.plan.horizon, cut.plan.warmup
    tally = RequestTally(warmup, horizon, streaming, cut.plan.excluded() if cut else ())
    clients = _closed_clients(case, cfg)
    if clients is not None:
        record = run_closed(
            cfg,
            _closed_blocks(case, replication, cfg, records),
            horizon,
            cold_rng,
            clients,
            case.workload.requests,
            limit=case.simulation.max_requests,
            fault_rng=fault_rng,
            sink=None if records else tally.add,
        )
    elif records:
        requests, work = replication_work(case, replication, cut)
        tokens = None
        if case.service.kind != "latency":
            tokens = (requests.context_tokens, requests.generated_tokens)
        _check_fit(cfg, requests)
        ft = work.first_token if streaming else None
        record = run_endpoint(
            cfg, requests.arrival, work.total, ft, requests.horizon, cold_rng, tokens, fault_rng
        )
    else:
        tpot = streaming and case.service.kind != "latency"  # output tokens, for TPOT
        chunks = _chunks(_windows(case, replication, cut), streaming, tpot, cfg)
        record = run_endpoint_stream(cfg, chunks, horizon, cold_rng, tally.add, fault_rng)
    if cut is None:
        return summarize(record, warmup, streaming, tally), record
    tally.tail_ratio = cut.tail_ratio
    pool = (cfg.min_workers, cfg.max_workers, cfg.per_worker)
    summary = whole_horizon_cost(
        summarize(record, warmup, streaming, tally),
        case.workload,
        seed,
        pool,
        cfg.autoscaler != "static",
        cfg.cost_per_hour,
    )
    return summary, record


def _windows(
    case: Case, replication: int, cut: SpanCut | None = None
) -> Iterator[tuple[Requests, Work]]:
    """Each window's requests and their work; service draws continue across windows.

    With spans, the whole horizon is drawn as for a full run and `cut` keeps the spans.
    """
    if cut is not None:
        whole = replace(case, workload=case.workload.model_copy(update={"spans": None}))
        yield from cut.windows(_windows(whole, replication))
        return
    ec = case.template.endpoint_config
    svc = case.service
    rng = stream_rng(case.seed, replication, "service")
    for requests in generate_windows(case.workload, case.seed, replication):
        yield (
            requests,
            request_work(
                svc,
                requests,
                gpu_type=ec.gpu_type if ec.gpus else None,
                gpus=max(ec.gpus, 1),
                ref_gpu_type=svc.reference_gpu,
                ref_gpus=svc.reference_gpus or 1,
                rng=rng,
            ),
        )
        del requests  # not held while the next window is drawn


def _closed_clients(case: Case, cfg: EngineConfig) -> int | None:
    """The clients of a closed-loop workload (None for the open-loop kinds)."""
    if case.workload.kind != "closed":
        return None
    if cfg.is_async:
        raise CapplanError(
            "workload.kind: 'closed' needs a SYNC or STREAMING template (its clients wait "
            f"for each answer); {case.name} is {cfg.endpoint_type}"
        )
    return int(case.workload.concurrency)  # type: ignore[arg-type]


def _closed_blocks(
    case: Case, replication: int, cfg: EngineConfig, records: bool
) -> Iterator[Chunk]:
    """A closed loop's request sizes and work, a block at a time (`capplan.workload.closed`),
    cut at `requests`; token counts as `run_endpoint` (records) or `_chunks` would pass them."""
    streaming = is_streaming(cfg.endpoint_type)
    tokens = case.service.kind != "latency"
    llm = cfg.llm is not None
    left = case.workload.requests
    for requests, work in _windows(case, replication):
        n = len(requests) if left is None else min(len(requests), left)
        _check_fit(cfg, requests)
        output = requests.generated_tokens[:n] if tokens and (records or streaming or llm) else None
        prompt = requests.context_tokens[:n] if tokens and (records or llm) else None
        first_token = work.first_token[:n] if streaming else None
        yield (requests.arrival[:n], work.total[:n], first_token, output, prompt)
        if left is not None:
            left -= n
            if left == 0:
                return


def _check_fit(cfg: EngineConfig, requests: Requests) -> None:
    """The llm service: every request must fit one worker's KV cache."""
    if cfg.llm is not None and len(requests):
        largest = float((requests.context_tokens + requests.generated_tokens).max())
        check_requests_fit(cfg.llm.kv_cache_tokens, largest)


def _chunks(
    windows: Iterator[tuple[Requests, Work]], streaming: bool, tpot: bool, cfg: EngineConfig
) -> Iterator[Chunk]:
    """Each window's arrivals and work in CHUNK slices; a window is let go before the next."""
    llm = cfg.llm is not None  # its batches need both token counts
    for requests, work in windows:
        _check_fit(cfg, requests)
        arrival, total = requests.arrival, work.total
        first_token = work.first_token if streaming else None
        output = requests.generated_tokens if tpot or llm else None
        prompt = requests.context_tokens if llm else None
        del requests, work
        for i in range(0, len(arrival), CHUNK):
            yield (
                arrival[i : i + CHUNK],
                total[i : i + CHUNK],
                _slice(first_token, i),
                _slice(output, i),
                _slice(prompt, i),
            )
        del arrival, total, first_token, output, prompt


def _slice(values: np.ndarray | None, i: int) -> np.ndarray | None:
    return None if values is None else values[i : i + CHUNK]


def simulate_cases(
    cases: Sequence[Case],
    replications: int,
    runner: Runner | None = None,
    records: bool = True,
) -> list[SimulationResult]:
    """Every replication of every case as one batch through `runner` (default: in-process).

    Replication r of a case is a pure function of (case, r), and results come
    back in task order, so the numbers never depend on the executor.
    records=False: no per-request or timeline records (bounded memory).
    """
    runner = runner if runner is not None else Runner.inline()
    for case in cases:  # before drawing anything: refuse absurd volume up front
        check_volume(case.workload, replications, case.simulation.max_requests, case.name)
    tasks = [(case, r, records) for case in cases for r in range(replications)]
    outputs = runner.map(run_replication, tasks)
    results = []
    for n, case in enumerate(cases):
        mine = outputs[n * replications : (n + 1) * replications]
        runs = [summary for summary, _ in mine]
        summary = {**describe_config(case), **combine(runs)}
        recs = [rec for _, rec in mine]
        results.append(SimulationResult(case.name, summary, runs, recs, records))
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
    records: bool = True,
) -> list[SimulationResult]:
    """Simulate every template of a scenario (or just `template`).

    `overrides` takes the same dotted paths as `capplan simulate --set`:
    `{"endpoint_config.per_worker": 4, "workload.rate": 5}`.
    Replications run in this process by default; `workers=N` runs N at once in
    a process pool (None: one per core), `dask_address` on a Dask cluster.
    The results are the same whichever is used. records=False keeps no
    per-request or timeline records (`.requests` / `.timeline` then raise), so
    memory does not grow with the horizon; the summaries are the same.
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
        return simulate_cases(cases, reps, Runner(executor, progress), records)


__all__ = [
    "SimulationResult",
    "describe_config",
    "run_replication",
    "simulate",
    "simulate_cases",
]
