"""From a scenario's `[service] kind = "llm"` (and `[model]`) to one worker's LlmParams.

Speeds measured on a reference GPU scale to other GPU types by the same ratios
as the tokens kind (prefill ∝ FP16 FLOPS, decode ∝ bandwidth); without
measured speeds the roofline of the model card on the reference GPU stands in
for them, which is the same roofline on every GPU type after scaling. The KV
cache is given (`kv_cache_tokens`) or computed from the card for each GPU type.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from capplan.errors import CapplanError
from capplan.hardware import GIB, GPU_TYPES
from capplan.llm.batch import INF, LlmParams
from capplan.llm.card import kv_cache_tokens, roofline_speeds

if TYPE_CHECKING:
    from capplan.scenario import ServiceSpec


def check_llm_service(spec: ServiceSpec) -> None:
    """Validation of the llm kind's own rules (ValueError names the key)."""
    speeds = (spec.prefill_tokens_per_s, spec.decode_tokens_per_s)
    if spec.model is None and None in speeds:
        raise ValueError(
            "kind 'llm' needs prefill_tokens_per_s and decode_tokens_per_s, or a [model] card"
        )
    if spec.max_num_batched_tokens < spec.max_num_seqs:
        raise ValueError("max_num_batched_tokens must be >= max_num_seqs (as vLLM requires)")


def pin_llm_reference(spec: ServiceSpec, ref: str | None, ref_gpus: int) -> ServiceSpec:
    """Fix the reference GPU, fill in roofline speeds and the memory the model needs."""
    from capplan.service import gpus_to_fit

    if ref is None:
        raise CapplanError("service.kind: 'llm' needs a GPU template (gpus >= 1) or reference_gpu")
    update: dict[str, object] = {"reference_gpu": ref, "reference_gpus": ref_gpus}
    card = spec.model
    if card is not None:
        prefill, decode = roofline_speeds(
            card,
            ref,
            ref_gpus,
            decode_efficiency=spec.decode_efficiency,
            prefill_efficiency=spec.prefill_efficiency,
        )
        if spec.prefill_tokens_per_s is None:
            update["prefill_tokens_per_s"] = prefill
        if spec.decode_tokens_per_s is None:
            update["decode_tokens_per_s"] = decode
        if spec.model_memory_gb is None:
            # memory_gb figures are used as GiB, as in kv_cache_tokens
            update["model_memory_gb"] = card.weight_bytes / GIB / spec.gpu_memory_utilization
    memory = update.get("model_memory_gb", spec.model_memory_gb)
    if memory is not None and not any(gpus_to_fit(float(memory), g) for g in GPU_TYPES):  # type: ignore[arg-type]
        raise CapplanError(
            f"model: needs {float(memory):.0f} GB at gpu_memory_utilization "  # type: ignore[arg-type]
            f"{spec.gpu_memory_utilization:g}; it fits no GPU type with up to 8 GPUs"
        )
    return spec.model_copy(update=update)


def llm_speeds(spec: ServiceSpec, gpu_type: str | None, gpus: int) -> tuple[float, float]:
    """(prefill, decode) tokens per second of one worker of gpus × gpu_type."""
    from capplan.service import speed_ratios

    prefill_ratio, decode_ratio = speed_ratios(
        gpu_type, gpus, spec.reference_gpu, spec.reference_gpus or 1
    )
    return (
        float(spec.prefill_tokens_per_s) * prefill_ratio,  # type: ignore[arg-type]
        float(spec.decode_tokens_per_s) * decode_ratio,  # type: ignore[arg-type]
    )


def llm_params(spec: ServiceSpec, gpu_type: str | None, gpus: int) -> LlmParams:
    """One worker of gpus × gpu_type, with the scenario's service profile."""
    prefill, decode = llm_speeds(spec, gpu_type, gpus)
    return LlmParams(
        prefill_tokens_per_s=prefill,
        decode_tokens_per_s=decode,
        batching_alpha=spec.batching_alpha,
        overhead_s=spec.overhead_s,
        max_num_seqs=spec.max_num_seqs,
        kv_cache_tokens=worker_kv_tokens(spec, gpu_type, gpus),
        max_num_batched_tokens=spec.max_num_batched_tokens,
        kv_admission=spec.kv_admission,
    )


def worker_kv_tokens(spec: ServiceSpec, gpu_type: str | None, gpus: int) -> float:
    """KV cache tokens of one worker: as given, from the model card, or unbounded."""
    if spec.kv_cache_tokens is not None:
        return float(spec.kv_cache_tokens)
    if spec.model is None or gpu_type is None:
        return INF
    tokens = kv_cache_tokens(spec.model, gpu_type, gpus, spec.gpu_memory_utilization)
    if tokens < 1:
        raise CapplanError(
            f"model: the weights ({spec.model.weight_bytes / 1e9:.1f} GB) leave no KV cache "
            f"on {gpus} × {gpu_type} at gpu_memory_utilization {spec.gpu_memory_utilization:g}"
        )
    return tokens


def check_requests_fit(kv_tokens: float, prompt_plus_output: float) -> None:
    """A worker must hold its largest request, or that request never finishes."""
    if prompt_plus_output > kv_tokens:
        raise CapplanError(
            f"service.kv_cache_tokens: {kv_tokens:,.0f} tokens per worker cannot hold one request "
            f"of {prompt_plus_output:,.0f} tokens (prompt + output); give more memory or GPUs"
        )


def engine_limits(spec: ServiceSpec, gpu_type: str | None, gpus: int) -> dict[str, float | int]:
    """The llm kind's per-worker limits of one configuration, for the planner's documents:
    kv_cache_tokens (omitted when unbounded) and max_num_seqs; {} for other kinds."""
    if spec.kind != "llm":
        return {}
    limits: dict[str, float | int] = {"max_num_seqs": spec.max_num_seqs}
    tokens = worker_kv_tokens(spec, gpu_type, max(gpus, 1))
    if tokens < INF:
        limits["kv_cache_tokens"] = float(int(tokens))  # whole tokens
    return limits


# Where the roofline efficiencies come from (capplan.llm.card's docstring has the arithmetic).
EFFICIENCY_SOURCES = {
    "decode": (
        "vLLM 0.10.1.1, Qwen2-7B-Instruct on one A100 80GB, one request alone at TPOT "
        "11.75 ms = 0.64 of peak bandwidth (github.com/dennislee22/vLLM-benchmarking, Test 5)"
    ),
    "prefill": (
        "the same run's burst of 100 × 1,024-token prompts, about 12,900 prompt tokens/s "
        "= 0.63 of peak FP16 FLOPS"
    ),
}


def roofline_assumptions(spec: ServiceSpec) -> list[str]:
    """One sentence per speed the roofline supplied (the scenario gave none): its
    efficiency, labelled an assumption, with its source. [] when both were given."""
    if spec.kind != "llm" or spec.model is None or spec.reference_gpu is None:
        return []
    prefill, decode = roofline_speeds(
        spec.model,
        spec.reference_gpu,
        spec.reference_gpus or 1,
        decode_efficiency=spec.decode_efficiency,
        prefill_efficiency=spec.prefill_efficiency,
    )
    out = []
    if spec.decode_tokens_per_s == decode:
        out.append(
            f"Decode efficiency {spec.decode_efficiency:g} (assumption): one sequence decodes "
            f"at memory bandwidth × {spec.decode_efficiency:g} / weight bytes "
            f"({decode:,.0f} tokens/s on {spec.reference_gpu}); source: "
            f"{EFFICIENCY_SOURCES['decode']}."
        )
    if spec.prefill_tokens_per_s == prefill:
        out.append(
            f"Prefill efficiency {spec.prefill_efficiency:g} (assumption): prefill runs at "
            f"FP16 FLOPS × {spec.prefill_efficiency:g} / (2 × parameters) "
            f"({prefill:,.0f} tokens/s on {spec.reference_gpu}); source: "
            f"{EFFICIENCY_SOURCES['prefill']}."
        )
    return out
