"""`[service]`, `[slo]`, `[planner]` and `[simulation]`: the frozen specs besides the workload."""

from __future__ import annotations

import math
from typing import Literal

from pydantic import Field, field_validator, model_validator

from capplan.distributions import DISTRIBUTIONS, Deterministic, Dist, Distribution, parse_dist
from capplan.hardware import check_gpu_type
from capplan.launch import ASYNC_CONCURRENCY_CAP
from capplan.llm.card import (
    DECODE_EFFICIENCY,
    GPU_MEMORY_UTILIZATION,
    PREFILL_EFFICIENCY,
    ModelCard,
)
from capplan.scenario.base import Spec
from capplan.workload import DEFAULT_MAX_REQUESTS


# ---------------------------------------------------------------- service
class ServiceSpec(Spec):
    """How long a request takes on a worker, and how workers start."""

    kind: Literal["latency", "tokens", "llm"] = "latency"
    distribution: Literal["exponential", "lognormal", "deterministic", "uniform"] = "exponential"
    mean_s: float | None = Field(None, gt=0)  # latency kind, at concurrency 1
    median_s: float | None = Field(None, gt=0)  # latency kind (not uniform)
    p99_s: float | None = Field(None, gt=0)  # latency kind (lognormal)
    low_s: float | None = Field(None, ge=0)  # latency kind (uniform)
    high_s: float | None = Field(None, gt=0)  # latency kind (uniform)
    prefill_tokens_per_s: float | None = Field(None, gt=0)  # tokens kind, at concurrency 1
    decode_tokens_per_s: float | None = Field(None, gt=0)  # tokens kind, at concurrency 1
    overhead_s: float = Field(0.0, ge=0)  # tokens kind: fixed time per request
    # latency kind on another GPU: memory-bound models (LLM decode) scale with bandwidth,
    # compute-bound ones (embeddings, rerankers) with FP16 throughput.
    scales_with: Literal["bandwidth", "compute"] = "bandwidth"
    reference_gpu: str | None = None  # the GPU the figures were measured on
    reference_gpus: int | None = Field(None, ge=1)  # how many of them (default: template's)
    batching_alpha: float = Field(0.0, ge=0, le=1)  # s(k) = 1 + alpha (k - 1)
    # Launch forwarder: 100 concurrent requests per process × 2 processes per pod.
    concurrency_limit: int = Field(200, ge=1)
    cold_start: Dist = Deterministic(value=60.0)  # image pull + load
    # the first part of each cold start, spent pulling the image (k8s phase Pending);
    # the rest is the model load in a running, not-ready container
    image_pull_s: float = Field(0.0, ge=0)
    node_provisioning_s: float = Field(0.0, ge=0)  # GPU node start when no warm capacity
    model_memory_gb: float | None = Field(None, gt=0)  # default: template gpus × memory
    # llm kind (capplan.llm): a serving engine with continuous batching and a KV cache.
    model: ModelCard | None = None  # the [model] table: KV cache size and roofline speeds
    max_num_seqs: int = Field(256, ge=1)  # vLLM default
    kv_cache_tokens: float | None = Field(None, gt=0)  # per worker; default: from the model
    kv_admission: Literal["reserve", "preempt"] = "reserve"  # see capplan.llm.batch
    gpu_memory_utilization: float = Field(GPU_MEMORY_UTILIZATION, gt=0, le=1)
    max_num_batched_tokens: int = Field(2048, ge=1)  # vLLM chunked-prefill budget per step
    decode_efficiency: float = Field(DECODE_EFFICIENCY, gt=0, le=1)  # roofline assumption
    prefill_efficiency: float = Field(PREFILL_EFFICIENCY, gt=0, le=1)  # roofline assumption

    @field_validator("reference_gpu")
    @classmethod
    def _known_gpu(cls, v: str | None) -> str | None:
        return None if v is None else check_gpu_type(v)

    @model_validator(mode="after")
    def _by_kind(self) -> ServiceSpec:
        if self.kind == "llm":
            from capplan.llm.profile import check_llm_service

            check_llm_service(self)
            return self
        if self.kind == "tokens":
            if self.prefill_tokens_per_s is None or self.decode_tokens_per_s is None:
                raise ValueError("kind 'tokens' needs prefill_tokens_per_s and decode_tokens_per_s")
            return self
        self.latency_dist()  # raises ValueError naming what is missing
        return self

    def latency_dist(self) -> Distribution:
        """The work of one request at concurrency 1, as a distribution (latency kind).

        `distribution` with the `*_s` keys that are set, e.g. exponential with
        median_s: the distribution converts (mean = median / ln 2).
        """
        given = {k: v for k in _LATENCY_KEYS if (v := getattr(self, k)) is not None}
        takes = DISTRIBUTIONS[self.distribution].model_fields
        extra = [k for k in given if k.removesuffix("_s") not in takes]
        if extra:
            raise ValueError(f"distribution {self.distribution!r} does not take {extra[0]}")
        return parse_dist({"distribution": self.distribution, **given})


_LATENCY_KEYS = ("mean_s", "median_s", "p99_s", "low_s", "high_s")


# ---------------------------------------------------------------- slo
class SloSpec(Spec):
    """Latency targets (seconds) and the error budget; all optional."""

    latency_p50_s: float | None = Field(None, gt=0)
    latency_p95_s: float | None = Field(None, gt=0)
    latency_p99_s: float | None = Field(None, gt=0)
    ttft_p50_s: float | None = Field(None, gt=0)
    ttft_p95_s: float | None = Field(None, gt=0)
    ttft_p99_s: float | None = Field(None, gt=0)
    # Time per output token: (end − first token) / (output tokens − 1), STREAMING only.
    tpot_p50_s: float | None = Field(None, gt=0)
    tpot_p90_s: float | None = Field(None, gt=0)
    tpot_p95_s: float | None = Field(None, gt=0)
    tpot_p99_s: float | None = Field(None, gt=0)
    max_error_rate: float = Field(0.01, ge=0, le=1)
    confidence: float = Field(0.95, gt=0, lt=1)

    def targets(self) -> dict[str, float]:
        """{summary metric name: target seconds} for every target that is set."""
        names = (
            *("latency_p50", "latency_p95", "latency_p99", "ttft_p50", "ttft_p95", "ttft_p99"),
            *("tpot_p50", "tpot_p90", "tpot_p95", "tpot_p99"),
        )
        return {
            f"{n}_s": getattr(self, f"{n}_s") for n in names if getattr(self, f"{n}_s") is not None
        }


# ---------------------------------------------------------------- planner & simulation
class PlannerSpec(Spec):
    gpu_types: tuple[str, ...] | None = None  # default: every memory-feasible type
    per_worker: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 64)
    replications: int = Field(3, ge=2)
    max_workers_cap: int = Field(250, ge=1)
    change_gpu_count: bool = True  # allow more GPUs per worker to fit the model
    # fewest min_workers recommended; None: 2 for SYNC/STREAMING (survive one pod
    # restart or node drain), 0 for ASYNC/BATCH (the queue holds tasks while scaling)
    min_workers_floor: int | None = Field(None, ge=0)
    # explored passes confirmed at once, cheapest first, on the GPU type leading the search
    confirm_top: int = Field(3, ge=1)
    # confirmation rounds (runners-up and bumps) after the first, per GPU type
    max_bumps: int = Field(8, ge=0)
    # traffic factors the recommendation is stressed at (each > 1; empty: no stress test)
    sensitivity: tuple[float, ...] = (1.5, 2.0)
    # Multi-fidelity search (capplan/planner/screening.py): explore on the busiest
    # windows, confirm on the whole horizon. "auto": when the horizon is over a day.
    screening: Literal["auto", "on", "off"] = "auto"
    screen_window_s: float = Field(14400.0, ge=60, allow_inf_nan=False)  # L: each window
    screen_windows: int = Field(7, ge=1)  # k: how many of the busiest windows
    screen_warmup_s: float = Field(3600.0, ge=0, allow_inf_nan=False)  # W: before each

    @field_validator("gpu_types")
    @classmethod
    def _known(cls, v: tuple[str, ...] | None) -> tuple[str, ...] | None:
        for name in v or ():
            check_gpu_type(name)
        if v is not None and not v:
            raise ValueError("must list at least one GPU type")
        return v

    @field_validator("sensitivity")
    @classmethod
    def _factors(cls, v: tuple[float, ...]) -> tuple[float, ...]:
        if any(not (math.isfinite(f) and f > 1) for f in v):
            raise ValueError("must be a list of finite traffic factors > 1 (e.g. [1.5, 2])")
        return tuple(sorted(set(v)))

    @field_validator("per_worker")
    @classmethod
    def _grid(cls, v: tuple[int, ...]) -> tuple[int, ...]:
        if not v or any(p < 1 for p in v):
            raise ValueError("must be a non-empty list of integers >= 1")
        return tuple(sorted(set(v)))


class FaultsSpec(Spec):
    """`[faults]`: pod failures. Without the table nothing fails."""

    # mean time between failures of one running pod, hours; failures are exponential
    worker_mtbf_h: float | None = Field(None, gt=0, allow_inf_nan=False)


class SimulationSpec(Spec):
    replications: int = Field(1, ge=1)
    autoscaler: Literal["launch", "static"] = "launch"
    # Launch gateway (live_sync_model_endpoint_inference_gateway): 8 retries on 429/503,
    # wait_exponential(min 1, max 5, base 1.2), stop after timeout_seconds (default 10).
    max_retries: int = Field(8, ge=0)
    retry_backoff_base: float = Field(1.2, gt=1)
    retry_min_wait_s: float = Field(1.0, ge=0)
    retry_max_wait_s: float = Field(5.0, ge=0)
    gateway_timeout_s: float = Field(10.0, gt=0)
    # Launch async tasks expire after 24 h in the broker queue.
    task_expiry_s: float = Field(86400.0, gt=0)
    # Launch pod terminationGracePeriodSeconds: sync/streaming 600 s, async 1800 s.
    drain_grace_sync_s: float = Field(600.0, ge=0)
    drain_grace_async_s: float = Field(1800.0, ge=0)
    # Launch async workers run at most 20 tasks concurrently, whatever per_worker says.
    async_concurrency_cap: int = Field(ASYNC_CONCURRENCY_CAP, ge=1)
    # Readiness probe period (Launch bundle readiness probe: periodSeconds 5).
    readiness_probe_period_s: float = Field(5.0, gt=0)
    # Refuse a run expected to draw more requests (summed over replications) than this:
    # a typo'd rate or horizon would otherwise exhaust memory or run for hours.
    max_requests: float = Field(DEFAULT_MAX_REQUESTS, gt=0, allow_inf_nan=False)
