"""Model cards: what a model's architecture says about memory and speed.

From a card (`[model]` in a scenario): weights = parameters × dtype_bytes; KV
bytes per token = 2 (K and V) × layers × kv_heads × head_dim × dtype_bytes;
a worker's KV cache = gpus × GPU memory × gpu_memory_utilization − weights, in
tokens. vLLM sizes its cache the same way (`gpu_memory_utilization`, default
0.9), less the activation memory it profiles at start-up, which this ignores:
an estimate that errs on the large side by a few percent.

Speeds, when a scenario gives none, come from a roofline on the worker's GPU:
- decode (one sequence): memory bandwidth × DECODE_EFFICIENCY / weight bytes,
  since every step reads all the weights;
- prefill: dense FP16 FLOPS × PREFILL_EFFICIENCY / (2 × parameters), the
  FLOPs of a forward pass per token.
Both efficiencies are ASSUMPTIONS, printed as such in reports. Their defaults
come from a published vLLM 0.10.1.1 run of Qwen2-7B-Instruct on one A100 80GB
(github.com/dennislee22/vLLM-benchmarking, Test 5): one request decodes at
TPOT 11.75 ms, where the roofline gives 15.2 GB / 2,039 GB/s = 7.5 ms, so
decode reaches 0.64 of peak bandwidth (johnmusgrave.com/p/vllm-throughput-
latency-sweep-on measured 0.77 for Llama-3.1-8B on an A100 40GB: 0.65 is the
lower of the two, rounded); a burst of 100 × 1,024-token prompts had its
first tokens after a mean 3.98 s, about 102,400 tokens in 2 × 3.98 s = 12,900
tokens/s against a roofline of 312 TFLOPS / 15.2 GFLOP = 20,500 tokens/s:
0.63 of peak, of which 0.6 is the default.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from pydantic import BaseModel, ConfigDict, Field, model_validator

from capplan.errors import CapplanError
from capplan.hardware import GIB, gpu

DECODE_EFFICIENCY = 0.65  # achieved / peak memory bandwidth in decode: an assumption
PREFILL_EFFICIENCY = 0.6  # achieved / peak dense FP16 FLOPS in prefill: an assumption
GPU_MEMORY_UTILIZATION = 0.9  # vLLM's default share of GPU memory for weights + KV cache


class ModelCard(BaseModel):
    """The `[model]` table: the architecture figures that size memory and speed."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str | None = None  # a bundled card's name fills in the rest
    parameters_b: float = Field(gt=0)  # billions of parameters
    layers: int = Field(ge=1)
    kv_heads: int = Field(ge=1)  # key/value heads (grouped-query attention)
    head_dim: int = Field(ge=1)
    dtype_bytes: float = Field(2.0, gt=0)  # 2 for FP16/BF16

    @model_validator(mode="before")
    @classmethod
    def _bundled(cls, data: object) -> object:
        if isinstance(data, Mapping) and "name" in data and "parameters_b" not in data:
            card = BUNDLED_CARDS.get(str(data["name"]))
            if card is None:
                known = ", ".join(BUNDLED_CARDS)
                raise ValueError(
                    f"no bundled card named {data['name']!r}; give parameters_b, layers, "
                    f"kv_heads and head_dim, or one of: {known}"
                )
            return {**card.model_dump(), **data}
        return data

    @property
    def weight_bytes(self) -> float:
        return self.parameters_b * 1e9 * self.dtype_bytes

    @property
    def kv_bytes_per_token(self) -> float:
        return 2.0 * self.layers * self.kv_heads * self.head_dim * self.dtype_bytes


def kv_cache_tokens(
    card: ModelCard, gpu_type: str, gpus: int, utilization: float = GPU_MEMORY_UTILIZATION
) -> float:
    """KV cache tokens one worker holds; <= 0 when the weights do not fit."""
    memory = gpus * gpu(gpu_type).memory_gb * GIB * utilization
    return (memory - card.weight_bytes) / card.kv_bytes_per_token


def roofline_speeds(
    card: ModelCard,
    gpu_type: str,
    gpus: int,
    *,
    decode_efficiency: float = DECODE_EFFICIENCY,
    prefill_efficiency: float = PREFILL_EFFICIENCY,
) -> tuple[float, float]:
    """(prefill tokens/s, one sequence's decode tokens/s) on gpus × gpu_type: an estimate.

    GPUs beyond one scale by the tensor-parallel efficiency, as measured speeds do.
    """
    from capplan.hardware import speed_factor

    spec = gpu(gpu_type)
    prefill_1 = spec.fp16_tflops * 1e12 * prefill_efficiency / (2.0 * card.parameters_b * 1e9)
    decode_1 = spec.bandwidth_gbs * 1e9 * decode_efficiency / card.weight_bytes
    prefill_ratio, decode_ratio = speed_factor(gpu_type, gpu_type, 1, gpus)
    return prefill_1 * prefill_ratio, decode_1 * decode_ratio


def require_fit(card: ModelCard, gpu_type: str, gpus: int, utilization: float) -> float:
    """kv_cache_tokens of the worker, or a CapplanError when the model does not fit."""
    tokens = kv_cache_tokens(card, gpu_type, gpus, utilization)
    if tokens < 1:
        raise CapplanError(
            f"model: {card.name or 'the model'} ({card.weight_bytes / 1e9:.1f} GB of weights) "
            f"does not fit {gpus} × {gpu_type} at gpu_memory_utilization {utilization:g}"
        )
    return tokens


def _card(name: str, parameters_b: float, layers: int, kv_heads: int, head_dim: int) -> ModelCard:
    return ModelCard(
        name=name, parameters_b=parameters_b, layers=layers, kv_heads=kv_heads, head_dim=head_dim
    )


# Figures from each model's config.json on Hugging Face (num_hidden_layers,
# num_key_value_heads, hidden_size / num_attention_heads) and its model card.
BUNDLED_CARDS: Mapping[str, ModelCard] = MappingProxyType(
    {
        c.name: c  # type: ignore[misc]
        for c in (
            _card("meta-llama/Meta-Llama-3-8B-Instruct", 8.03, 32, 8, 128),
            _card("meta-llama/Meta-Llama-3-70B-Instruct", 70.6, 80, 8, 128),
            _card("bigcode/starcoder2-15b", 15.96, 40, 4, 128),
            _card("Qwen/Qwen2-7B-Instruct", 7.62, 28, 4, 128),
            _card("mistralai/Mistral-7B-Instruct-v0.3", 7.25, 32, 8, 128),
            _card("meta-llama/Llama-2-7b-chat-hf", 6.74, 32, 32, 128),
        )
    }
)
