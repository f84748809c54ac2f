"""The work each request brings, and how fast a worker does it at concurrency k.

Work is measured in seconds of service at concurrency 1 on the worker's own GPU
configuration. A worker serving k requests at once runs each at speed 1/s(k),
s(k) = 1 + α (k − 1): processor sharing with a batching efficiency α (α = 0: k
independent slots; α = 1: one server shared; LLM continuous batching ≈ 0.05–0.2).

Note for the engine: with processor sharing, a worker with k requests in
service advances each at rate 1/s(k). Keep one virtual work clock per worker
that advances by dt / s(k) in wall time dt; a request admitted at virtual time
v0 finishes when the clock reaches v0 + total, and its first token arrives when
the clock reaches v0 + first_token. Every job advances at the same rate, so a
heap of virtual finish times stays valid; only the wall-clock time of the next
event is recomputed when k changes.

Speeds on other GPU types come from a measured reference GPU by ratios
(capplan.hardware.speed_factor): prefill ∝ FP16 throughput, decode ∝ bandwidth.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from capplan.hardware import gpu, speed_factor
from capplan.workload import Requests, mean_tokens

if TYPE_CHECKING:
    from capplan.scenario import ServiceSpec, WorkloadSpec

# Exponential draws can round to exactly 0.0; the engine needs strictly positive work.
MIN_WORK_S = 1e-9
MEMORY_SLACK = 1e-9  # relative: 2 × 80 GB must hold a model stated as 160 GB


@dataclass(frozen=True, slots=True)
class Work:
    """Per-request work, aligned with the Requests it was computed for."""

    total: np.ndarray  # float64 > 0: seconds of service at concurrency 1
    first_token: np.ndarray  # float64, 0 <= first_token <= total

    def __len__(self) -> int:
        return len(self.total)


def reference_gpu(
    service: ServiceSpec, template_gpu_type: str | None, template_gpus: int
) -> tuple[str | None, int]:
    """(GPU type, count) the service figures were measured on; default the template's.

    A template with gpus = 0 is CPU-only: its gpu_type field is ignored (SGP fills in a default).
    """
    gpu_type = service.reference_gpu
    if gpu_type is None:
        gpu_type = template_gpu_type if template_gpus > 0 else None
    gpus = service.reference_gpus if service.reference_gpus is not None else template_gpus
    return gpu_type, (max(gpus, 1) if gpu_type is not None else gpus)


def speed_ratios(
    gpu_type: str | None, gpus: int, ref_gpu_type: str | None, ref_gpus: int
) -> tuple[float, float]:
    """(prefill, decode) speed of the worker relative to the reference; 1 if either is CPU-only."""
    if gpu_type is None or ref_gpu_type is None or gpus <= 0 or ref_gpus <= 0:
        return 1.0, 1.0
    return speed_factor(ref_gpu_type, gpu_type, ref_gpus, gpus)


def request_work(
    service: ServiceSpec,
    requests: Requests,
    *,
    gpu_type: str | None,
    gpus: int,
    ref_gpu_type: str | None,
    ref_gpus: int,
    rng: np.random.Generator,
) -> Work:
    """The work of every request on a worker of gpus × gpu_type.

    latency kind: draws from the "service" stream (rng), one per request whether or
    not the request is later served, so candidates share draws (common random numbers).
    tokens kind: deterministic in the token counts; rng is unused.
    """
    prefill_ratio, decode_ratio = speed_ratios(gpu_type, gpus, ref_gpu_type, ref_gpus)
    if service.kind == "latency":
        ratio = decode_ratio if service.scales_with == "bandwidth" else prefill_ratio
        draws = service.latency_dist().sample(rng, len(requests))
        total = np.maximum(draws / ratio, MIN_WORK_S)
        # A latency profile has no token structure: the response starts with the request.
        return Work(total, np.zeros_like(total))
    return _token_work(service, requests, prefill_ratio, decode_ratio)


def _token_work(
    service: ServiceSpec, requests: Requests, prefill_ratio: float, decode_ratio: float
) -> Work:
    prefill_rate = float(service.prefill_tokens_per_s) * prefill_ratio  # type: ignore[arg-type]
    decode_rate = float(service.decode_tokens_per_s) * decode_ratio  # type: ignore[arg-type]
    prefill = requests.context_tokens / prefill_rate
    decode = requests.generated_tokens / decode_rate
    total = np.maximum(service.overhead_s + prefill + decode, MIN_WORK_S)
    # The first token needs the whole prompt plus one decode step.
    first_token = np.minimum(service.overhead_s + prefill + 1.0 / decode_rate, total)
    return Work(total.astype(np.float64), first_token.astype(np.float64))


def slowdown(k: int | np.ndarray, alpha: float) -> float | np.ndarray:
    """s(k) = 1 + α (k − 1): each of k concurrent requests runs at speed 1/s(k)."""
    if np.ndim(k):
        return 1.0 + alpha * (np.asarray(k, dtype=float) - 1.0)
    return 1.0 + alpha * (float(k) - 1.0)


def throughput(k: int | np.ndarray, alpha: float, mean_work: float) -> float | np.ndarray:
    """Requests/s one worker completes when kept at constant concurrency k."""
    return k / (slowdown(k, alpha) * mean_work)


def mean_work(
    service: ServiceSpec,
    workload: WorkloadSpec,
    *,
    gpu_type: str | None,
    gpus: int,
    ref_gpu_type: str | None,
    ref_gpus: int,
) -> tuple[float, float]:
    """(mean total work, mean first-token work) in seconds, for the analytic screen.

    Exact for the latency kind (the Dist's analytic mean). The tokens kind is
    linear in tokens, so it uses the mean token counts: the trace window's, or
    the workload Dists' (ignoring rounding to whole tokens).
    """
    prefill_ratio, decode_ratio = speed_ratios(gpu_type, gpus, ref_gpu_type, ref_gpus)
    if service.kind == "latency":
        ratio = decode_ratio if service.scales_with == "bandwidth" else prefill_ratio
        return service.latency_dist().expected / ratio, 0.0
    context, generated = mean_tokens(workload)
    prefill = context / (float(service.prefill_tokens_per_s) * prefill_ratio)  # type: ignore[arg-type]
    decode_token = 1.0 / (float(service.decode_tokens_per_s) * decode_ratio)  # type: ignore[arg-type]
    total = service.overhead_s + prefill + generated * decode_token
    return total, service.overhead_s + prefill + decode_token


def fits(model_memory_gb: float, gpu_type: str, gpus: int) -> bool:
    """Whether gpus × gpu_type hold the model's weights and cache."""
    return gpus * gpu(gpu_type).memory_gb >= model_memory_gb * (1 - MEMORY_SLACK)


def gpus_to_fit(model_memory_gb: float, gpu_type: str, max_gpus: int = 8) -> int | None:
    """The smallest power-of-two GPU count (up to max_gpus) that holds the model, else None.

    Powers of two because tensor parallelism splits attention heads evenly; a
    MIG slice type allows only one (its GpuSpec.max_gpus).
    """
    n = 1
    cap = gpu(gpu_type).max_gpus
    while n <= (max_gpus if cap is None else min(max_gpus, cap)):
        if fits(model_memory_gb, gpu_type, n):
            return n
        n *= 2
    return None


__all__ = [
    "Work",
    "fits",
    "gpus_to_fit",
    "mean_work",
    "reference_gpu",
    "request_work",
    "slowdown",
    "speed_ratios",
    "throughput",
]
