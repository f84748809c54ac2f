"""Model cards, the [service] kind = "llm" scenario path, and the engine hook."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from helpers import make_case, run

from capplan.engine import EngineConfig, run_endpoint
from capplan.errors import CapplanError
from capplan.llm.batch import LlmParams
from capplan.llm.card import BUNDLED_CARDS, ModelCard, kv_cache_tokens, roofline_speeds

QWEN = "Qwen/Qwen2-7B-Instruct"
LLM = {"kind": "llm", "model": {"name": QWEN}}


def test_card_arithmetic() -> None:
    card = ModelCard(parameters_b=8.0, layers=32, kv_heads=8, head_dim=128)
    assert card.weight_bytes == 16e9
    assert card.kv_bytes_per_token == 2 * 32 * 8 * 128 * 2  # 128 KiB
    assert BUNDLED_CARDS[QWEN].kv_bytes_per_token == 57_344


@pytest.mark.parametrize(("utilization", "vllm_logged"), [(0.5, 464_848), (0.25, 93_872)])
def test_kv_cache_estimate_against_vllm(utilization: float, vllm_logged: int) -> None:
    """vLLM 0.10.1.1 logged "GPU KV cache size" for Qwen2-7B-Instruct on one A100 80GB
    (github.com/dennislee22/vLLM-benchmarking, logs of Tests 4 and 5). The estimate
    ignores activation memory, so it is a little above and within 20 %."""
    est = kv_cache_tokens(BUNDLED_CARDS[QWEN], "nvidia-ampere-a100e", 1, utilization)
    assert vllm_logged <= est <= vllm_logged * 1.2


def test_roofline_matches_the_measured_single_stream_speed() -> None:
    """Same source, Test 5: one request alone decoded at TPOT 11.75 ms (85 tokens/s)."""
    _, decode = roofline_speeds(BUNDLED_CARDS[QWEN], "nvidia-ampere-a100e", 1)
    assert decode == pytest.approx(1 / 0.01175, rel=0.05)


def test_unknown_bundled_card_is_one_clear_error() -> None:
    with pytest.raises(CapplanError, match=r"service\.model.*no bundled card"):
        make_case(
            "STREAMING", workload={"rate": 1}, service={"kind": "llm", "model": {"name": "x"}}
        )


@pytest.mark.parametrize("key", ["prefill_tokens_per_s", "decode_tokens_per_s"])
@pytest.mark.parametrize("value", [0, -5])
def test_zero_or_negative_speed_names_the_key(key: str, value: float) -> None:
    service = {**LLM, key: value}
    with pytest.raises(CapplanError, match=rf"service\.{key}: .*greater than 0"):
        make_case("STREAMING", workload={"rate": 1}, service=service)


def test_model_that_fits_no_gpu_type() -> None:
    huge = {
        "kind": "llm",
        "model": {"parameters_b": 2000, "layers": 1, "kv_heads": 1, "head_dim": 1},
    }
    with pytest.raises(CapplanError, match=r"^model: .*fits no GPU type"):
        make_case("STREAMING", workload={"rate": 1}, service=huge)


def test_kv_cache_smaller_than_one_request() -> None:
    service = {**LLM, "kv_cache_tokens": 500}
    case = make_case(
        "STREAMING",
        workload={"rate": 1, "horizon_s": 10, "context_tokens": 400, "generated_tokens": 200},
        service=service,
        gpu_type="nvidia-ampere-a100e",
    )
    with pytest.raises(CapplanError, match=r"service\.kv_cache_tokens: .*cannot hold one request"):
        run(case)


def test_a_card_alone_gives_roofline_speeds_and_kv_on_the_template_gpu() -> None:
    case = make_case("STREAMING", workload={"rate": 1}, service=LLM, gpu_type="nvidia-ampere-a100e")
    cfg = EngineConfig.from_case(case)
    assert cfg.llm is not None
    prefill, decode = roofline_speeds(BUNDLED_CARDS[QWEN], "nvidia-ampere-a100e", 1)
    assert cfg.llm.decode_tokens_per_s == pytest.approx(decode)
    assert cfg.llm.prefill_tokens_per_s == pytest.approx(prefill)
    assert cfg.llm.kv_cache_tokens == pytest.approx(
        kv_cache_tokens(BUNDLED_CARDS[QWEN], "nvidia-ampere-a100e", 1)
    )


def test_engine_with_one_worker_matches_the_standalone_worker() -> None:
    """The endpoint's hook adds nothing to the batch model: one static worker under
    Poisson load gives the same first tokens and ends as the load-test replayer."""
    rng = np.random.default_rng(11)
    n = 400
    arrival = np.cumsum(rng.exponential(0.2, n))
    prompt = rng.integers(10, 3000, n).astype(float)
    output = rng.integers(1, 400, n).astype(float)
    params = LlmParams(
        prefill_tokens_per_s=8000,
        decode_tokens_per_s=40,
        batching_alpha=0.05,
        overhead_s=0.05,
        max_num_seqs=8,
        kv_cache_tokens=12_000,
    )
    case = make_case("STREAMING", workload={"rate": 1}, service=LLM, per_worker=100)
    cfg = EngineConfig.from_case(case)
    cfg = dataclasses.replace(cfg, llm=params, concurrency_limit=10**6)
    zero = np.zeros(n)
    rec = run_endpoint(
        cfg, arrival, zero + 1, zero, 1e6, np.random.default_rng(0), (prompt, output)
    )
    alone = _replay_at(params, prompt, output, arrival)
    assert (rec.status == 1).all()
    np.testing.assert_allclose(rec.end, alone.end, rtol=1e-9)
    np.testing.assert_allclose(rec.first_token, alone.first_token, rtol=1e-9)


def _replay_at(params: LlmParams, prompt, output, arrival):  # noqa: ANN001, ANN202
    from capplan.llm.loadtest import _replay

    return _replay(params, prompt, output, arrival, len(prompt), closed=False)


def test_tpot_summary_slo_and_request_table() -> None:
    from capplan.metrics import requests_frame

    case = make_case(
        "STREAMING",
        workload={
            "rate": 2,
            "horizon_s": 300,
            "context_tokens": {"distribution": "uniform", "low": 100, "high": 2000},
            "generated_tokens": {"distribution": "uniform", "low": 1, "high": 300},
        },
        service={**LLM, "prefill_tokens_per_s": 8000, "decode_tokens_per_s": 50},
        gpu_type="nvidia-ampere-a100e",
        per_worker=50,
    )
    summary, rec = run(case)
    ok = (rec.status == 1) & (rec.output_tokens >= 2)
    tpot = (rec.end - rec.first_token)[ok] / (rec.output_tokens[ok] - 1)
    assert summary["tpot_mean_s"] == pytest.approx(tpot.mean(), rel=1e-9)
    assert summary["tpot_p99_s"] == pytest.approx(np.percentile(tpot, 99), rel=1e-3)
    assert tpot.min() >= 1 / 50 * (1 - 1e-9)
    table = requests_frame(rec)
    assert (table["output_tokens"].to_numpy() == rec.output_tokens).all()
    assert (table["prompt_tokens"].to_numpy() == rec.prompt_tokens).all()


def test_tpot_target_needs_a_streaming_template() -> None:
    with pytest.raises(CapplanError, match=r"^slo\.tpot_p90_s: .*SYNC, not STREAMING"):
        from helpers import REPO, make_template, scenario_dict

        from capplan.scenario import build_scenario

        raw = scenario_dict({"rate": 1}, LLM)
        raw["slo"] = {"tpot_p90_s": 0.05}
        build_scenario(raw, base_dir=REPO, templates=(make_template("SYNC"),))


def test_planner_keeps_only_per_worker_whose_batch_fits_the_kv_cache() -> None:
    from capplan.planner.bound import GpuOption, kv_holds

    service = {**LLM, "kv_cache_tokens": 10_000}
    case = make_case(
        "STREAMING",
        workload={"rate": 1, "context_tokens": 900, "generated_tokens": 100},
        service=service,
        gpu_type="nvidia-ampere-a100e",
    )
    option = GpuOption("nvidia-ampere-a100e", 1, 3.0)
    assert kv_holds(case, option, 10)  # 10 × 1,000 tokens fit
    assert not kv_holds(case, option, 11)
    latency = make_case("SYNC", workload={"rate": 1})
    assert kv_holds(latency, option, 10**6)
