"""GPU catalog and worker prices.

Speeds of other GPU types are derived from a measured reference GPU by ratios
(prefill ∝ dense FP16 tensor throughput, decode ∝ memory bandwidth). Prices are
public on-demand ballparks: ASSUMPTIONS, overridable in a scenario's [costs]
table and printed in every report.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from capplan.errors import CapplanError


@dataclass(frozen=True, slots=True)
class GpuSpec:
    """One GPU type as Launch names it (a MIG slice counts as its own type)."""

    name: str
    memory_gb: float
    fp16_tflops: float  # dense FP16 tensor throughput: scales prefill
    bandwidth_gbs: float  # memory bandwidth: scales decode
    price_per_hour: float  # default $/GPU-hour, an assumption
    # A MIG slice is one isolated instance: no NVLink peer access between slices,
    # so a model is never split across several of them (tensor parallel needs it).
    max_gpus: int | None = None


# Launch's gpu_type enum (SGP endpoint_config.gpu_type); figures from vendor data sheets.
# MIG slices get their share of the full H100: compute by sevenths, bandwidth by eighths.
GPU_CATALOG: Mapping[str, GpuSpec] = MappingProxyType(
    {
        g.name: g
        for g in (
            GpuSpec("nvidia-tesla-t4", 16, 65, 320, 0.35),
            GpuSpec("nvidia-ampere-a10", 24, 125, 600, 1.00),
            GpuSpec("nvidia-ampere-a100", 40, 312, 1555, 2.21),
            GpuSpec("nvidia-ampere-a100e", 80, 312, 2039, 2.90),
            GpuSpec("nvidia-hopper-h100", 80, 989, 3350, 4.25),
            GpuSpec("nvidia-hopper-h100-1g20gb", 20, 989 / 7, 3350 * 2 / 8, 4.25 / 7, max_gpus=1),
            GpuSpec(
                "nvidia-hopper-h100-3g40gb", 40, 989 * 3 / 7, 3350 * 4 / 8, 4.25 * 3 / 7, max_gpus=1
            ),
        )
    }
)

GPU_TYPES: tuple[str, ...] = tuple(GPU_CATALOG)

# A month of cost, as cloud price pages count it: 365 × 24 / 12 = 730 hours.
HOURS_PER_MONTH = 730

DEFAULT_CPU_PER_HOUR = 0.04  # $/vCPU-hour, an assumption
DEFAULT_MEMORY_GIB_PER_HOUR = 0.005  # $/GiB-hour, an assumption
TENSOR_PARALLEL_EFFICIENCY = 0.85  # speed kept per doubling of GPUs: an assumption
GIB = 1024**3


def check_gpu_type(name: str) -> str:
    """`name` if the catalog knows it, else a ValueError listing the known types."""
    if name not in GPU_CATALOG:
        raise ValueError(f"unknown GPU type {name!r}; allowed: {', '.join(GPU_TYPES)}")
    return name


def gpu(name: str) -> GpuSpec:
    """The catalog entry for `name`, or a CapplanError listing the known types."""
    try:
        return GPU_CATALOG[check_gpu_type(name)]
    except ValueError as exc:
        raise CapplanError(f"gpu_type: {exc}") from None


@dataclass(frozen=True, slots=True)
class Prices:
    """$/hour for each GPU type, per vCPU and per GiB of memory."""

    # A plain dict, not a MappingProxyType, so that cases pickle to worker processes.
    gpu_per_hour: Mapping[str, float] = field(
        default_factory=lambda: {name: spec.price_per_hour for name, spec in GPU_CATALOG.items()}
    )
    cpu_per_hour: float = DEFAULT_CPU_PER_HOUR
    memory_gib_per_hour: float = DEFAULT_MEMORY_GIB_PER_HOUR

    def with_overrides(
        self,
        gpu_per_hour: Mapping[str, float] | None = None,
        cpu_per_hour: float | None = None,
        memory_gib_per_hour: float | None = None,
    ) -> Prices:
        merged = dict(self.gpu_per_hour)
        for name, price in (gpu_per_hour or {}).items():
            gpu(name)  # validates the name
            if not math.isfinite(price) or price < 0:
                raise CapplanError(f"costs.{name}: must be a finite number >= 0, got {price}")
            merged[name] = float(price)
        return Prices(
            merged,
            self.cpu_per_hour if cpu_per_hour is None else float(cpu_per_hour),
            self.memory_gib_per_hour if memory_gib_per_hour is None else float(memory_gib_per_hour),
        )


def worker_cost_per_hour(
    gpu_type: str | None, gpus: int, cpus: float, memory_bytes: float, prices: Prices
) -> float:
    """$/hour of one worker (pod): its GPUs, vCPUs and memory."""
    gpu_cost = prices.gpu_per_hour[gpu(gpu_type).name] * gpus if gpus and gpu_type else 0.0
    return gpu_cost + cpus * prices.cpu_per_hour + memory_bytes / GIB * prices.memory_gib_per_hour


def speed_factor(
    reference: str, target: str, gpus_ref: int, gpus_target: int
) -> tuple[float, float]:
    """(prefill, decode) speed of `target` × gpus_target relative to `reference` × gpus_ref.

    More GPUs (tensor parallel) scale speed by the count times an efficiency of
    TENSOR_PARALLEL_EFFICIENCY per doubling — an assumption stated in reports.
    """
    import math

    ref, tgt = gpu(reference), gpu(target)

    def parallel(n: int) -> float:
        n = max(n, 1)
        return n * TENSOR_PARALLEL_EFFICIENCY ** math.log2(n)

    scale = parallel(gpus_target) / parallel(gpus_ref)
    return tgt.fp16_tflops / ref.fp16_tflops * scale, tgt.bandwidth_gbs / ref.bandwidth_gbs * scale
