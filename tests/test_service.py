"""Work per request, GPU speed ratios, the concurrency slowdown and memory fit."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from capplan.distributions import Z99
from capplan.hardware import TENSOR_PARALLEL_EFFICIENCY
from capplan.scenario import ServiceSpec, WorkloadSpec
from capplan.service import (
    Work,
    fits,
    gpus_to_fit,
    mean_work,
    reference_gpu,
    request_work,
    slowdown,
    speed_ratios,
    throughput,
)
from capplan.workload import Requests, generate, stream_rng

TRACE = Path(__file__).resolve().parents[1] / "scenarios" / "data" / "azure_llm_conv_2023.csv"
Z = 3.2905  # two-sided 99.9 % normal quantile
A10, H100, A100E, T4 = (
    "nvidia-ampere-a10",
    "nvidia-hopper-h100",
    "nvidia-ampere-a100e",
    "nvidia-tesla-t4",
)


def requests_of(context: list[int] | np.ndarray, generated: list[int] | np.ndarray) -> Requests:
    n = len(context)
    return Requests(
        np.linspace(0, 1, n, endpoint=False),
        np.asarray(context, dtype=np.int64),
        np.asarray(generated, dtype=np.int64),
        horizon=1.0,
        warmup=0.0,
    )


def many(n: int) -> Requests:
    return requests_of(np.full(n, 100), np.full(n, 10))


def work(
    service: ServiceSpec, req: Requests, gpu: str | None, ref: str | None, seed: int = 1, **kw: int
) -> Work:
    return request_work(
        service,
        req,
        gpu_type=gpu,
        gpus=kw.get("gpus", 1),
        ref_gpu_type=ref,
        ref_gpus=kw.get("ref_gpus", 1),
        rng=stream_rng(seed, 0, "service"),
    )


def order_statistic_interval(sample: np.ndarray, p: float) -> tuple[float, float]:
    """Distribution-free 99.9 % interval for the p-quantile from order statistics."""
    x = np.sort(sample)
    n = len(x)
    half = Z * math.sqrt(n * p * (1 - p))
    return float(x[max(int(n * p - half), 0)]), float(x[min(int(n * p + half) + 1, n - 1)])


# ---------------------------------------------------------------- latency kind
def test_latency_exponential_mean() -> None:
    service = ServiceSpec(kind="latency", distribution="exponential", mean_s=2.0)
    w = work(service, many(200_000), A10, A10)
    assert abs(w.total.mean() - 2.0) <= Z * 2.0 / math.sqrt(len(w))
    assert np.all(w.total > 0) and np.all(w.first_token == 0)


def test_latency_lognormal_median_and_p99() -> None:
    service = ServiceSpec(kind="latency", distribution="lognormal", median_s=2.0, p99_s=9.0)
    total = work(service, many(200_000), None, None).total
    for p, target in ((0.5, 2.0), (0.99, 9.0)):
        lo, hi = order_statistic_interval(total, p)
        assert lo <= target <= hi


def test_latency_draws_one_value_per_request_from_the_service_stream() -> None:
    service = ServiceSpec(kind="latency", distribution="lognormal", median_s=1.0, p99_s=4.0)
    w = work(service, many(1000), None, None, seed=5)
    rng = stream_rng(5, 0, "service")
    assert np.array_equal(w.total, service.latency_dist().sample(rng, 1000))
    # Common random numbers: the first k requests get the same work whatever n is.
    assert np.array_equal(work(service, many(1500), None, None, seed=5).total[:1000], w.total)


@pytest.mark.parametrize(
    ("scales_with", "ratio"),
    [("bandwidth", 3350 / 600), ("compute", 989 / 125)],
)
def test_latency_speed_ratio_h100_vs_a10_reference(scales_with: str, ratio: float) -> None:
    service = ServiceSpec(
        kind="latency", distribution="exponential", mean_s=1.0, scales_with=scales_with
    )
    on_ref = work(service, many(500), A10, A10).total
    on_h100 = work(service, many(500), H100, A10).total
    assert np.allclose(on_ref / on_h100, ratio, rtol=1e-12)


def test_more_gpus_scale_with_tensor_parallel_efficiency() -> None:
    service = ServiceSpec(kind="latency", distribution="deterministic", mean_s=1.0)
    w = work(service, many(3), A100E, A100E, gpus=4, ref_gpus=2)
    assert np.allclose(w.total, 1.0 / (2 * TENSOR_PARALLEL_EFFICIENCY))


def test_cpu_only_has_ratio_one() -> None:
    assert speed_ratios(None, 0, A10, 1) == (1.0, 1.0)
    assert speed_ratios(H100, 1, None, 0) == (1.0, 1.0)
    service = ServiceSpec(kind="latency", distribution="deterministic", mean_s=0.3)
    assert np.allclose(work(service, many(4), None, A10).total, 0.3)


# ---------------------------------------------------------------- tokens kind
TOKENS = ServiceSpec(
    kind="tokens", prefill_tokens_per_s=1000.0, decode_tokens_per_s=50.0, overhead_s=0.1
)


def test_tokens_exact_formula() -> None:
    req = requests_of([0, 100, 1000], [1, 10, 50])
    w = work(TOKENS, req, A10, A10)
    assert np.allclose(
        w.total, [0.1 + 0 + 1 / 50, 0.1 + 0.1 + 10 / 50, 0.1 + 1.0 + 1.0], rtol=1e-12
    )
    assert np.allclose(
        w.first_token, [0.1 + 0 + 1 / 50, 0.1 + 0.1 + 1 / 50, 0.1 + 1.0 + 1 / 50], rtol=1e-12
    )


def test_tokens_on_faster_gpu_scale_prefill_and_decode_separately() -> None:
    req = requests_of([2000], [300])
    w = work(TOKENS, req, H100, A10)
    prefill = 2000 / (1000 * 989 / 125)
    decode_token = 1 / (50 * 3350 / 600)
    assert w.total[0] == pytest.approx(0.1 + prefill + 300 * decode_token, rel=1e-12)
    assert w.first_token[0] == pytest.approx(0.1 + prefill + decode_token, rel=1e-12)


def test_tokens_ignore_the_rng() -> None:
    req = requests_of([10, 20], [3, 4])
    assert np.array_equal(
        work(TOKENS, req, A10, A10, seed=1).total, work(TOKENS, req, A10, A10, seed=2).total
    )


@settings(max_examples=60, deadline=None)
@given(
    context=st.lists(st.integers(0, 50_000), min_size=1, max_size=50),
    generated=st.integers(1, 4000),
    prefill=st.floats(1.0, 1e5),
    decode=st.floats(1.0, 1e4),
    overhead=st.floats(0.0, 5.0),
    gpu=st.sampled_from([None, A10, H100, T4, "nvidia-hopper-h100-1g20gb"]),
)
def test_first_token_never_exceeds_total(
    context: list[int],
    generated: int,
    prefill: float,
    decode: float,
    overhead: float,
    gpu: str | None,
) -> None:
    service = ServiceSpec(
        kind="tokens", prefill_tokens_per_s=prefill, decode_tokens_per_s=decode, overhead_s=overhead
    )
    w = work(service, requests_of(context, [generated] * len(context)), gpu, A10)
    assert np.all(w.total > 0)
    assert np.all(w.first_token >= 0) and np.all(w.first_token <= w.total)
    assert w.total.dtype == w.first_token.dtype == np.float64


# ---------------------------------------------------------------- slowdown & throughput
def test_slowdown_formula() -> None:
    assert slowdown(1, 0.7) == 1.0
    assert slowdown(5, 0.25) == pytest.approx(2.0)
    assert np.allclose(slowdown(np.array([1, 2, 3]), 0.5), [1.0, 1.5, 2.0])


def test_throughput_limits() -> None:
    k = np.arange(1, 65)
    assert np.allclose(throughput(k, 0.0, 2.0), k / 2.0)  # independent slots
    assert np.allclose(throughput(k, 1.0, 2.0), 0.5)  # one shared server
    mid = throughput(k, 0.1, 2.0)
    assert np.all(np.diff(mid) > 0) and mid[-1] < 1 / (0.1 * 2.0)  # rises toward 1/(α·work)


# ---------------------------------------------------------------- reference GPU & mean work
def test_reference_gpu_defaults_to_the_template() -> None:
    plain = ServiceSpec(kind="latency", mean_s=1.0)
    assert reference_gpu(plain, A100E, 4) == (A100E, 4)
    assert reference_gpu(plain, T4, 0) == (None, 0)  # gpus = 0: CPU-only
    measured = ServiceSpec(kind="latency", mean_s=1.0, reference_gpu=H100, reference_gpus=2)
    assert reference_gpu(measured, A10, 1) == (H100, 2)
    assert reference_gpu(ServiceSpec(kind="latency", mean_s=1.0, reference_gpu=H100), A10, 4) == (
        H100,
        4,
    )


def test_mean_work_latency_kind() -> None:
    service = ServiceSpec(kind="latency", distribution="lognormal", median_s=1.0, p99_s=5.0)
    workload = WorkloadSpec(kind="poisson", rate=1.0)
    total, first = mean_work(service, workload, gpu_type=H100, gpus=1, ref_gpu_type=A10, ref_gpus=1)
    sigma = math.log(5.0) / Z99
    assert total == pytest.approx(math.exp(sigma**2 / 2) / (3350 / 600))
    assert first == 0.0


def test_mean_work_tokens_kind_defaults_and_trace() -> None:
    workload = WorkloadSpec(kind="poisson", rate=1.0)
    total, first = mean_work(TOKENS, workload, gpu_type=A10, gpus=1, ref_gpu_type=A10, ref_gpus=1)
    assert total == pytest.approx(0.1 + 1000 / 1000 + 100 / 50)
    assert first == pytest.approx(0.1 + 1.0 + 1 / 50)
    trace = WorkloadSpec(kind="trace", path=TRACE)
    w = work(TOKENS, generate(trace, 1), H100, A10)
    total, first = mean_work(TOKENS, trace, gpu_type=H100, gpus=1, ref_gpu_type=A10, ref_gpus=1)
    # Work is linear in tokens, so the analytic mean is the replay's exact mean.
    assert total == pytest.approx(w.total.mean(), rel=1e-9)
    assert first == pytest.approx(w.first_token.mean(), rel=1e-9)


# ---------------------------------------------------------------- memory fit
def test_fits_and_gpus_to_fit_for_a_70b_class_model() -> None:
    assert gpus_to_fit(140.0, H100) == 2
    assert not fits(140.0, H100, 1) and fits(140.0, H100, 2)
    assert fits(140.0, A100E, 4) and gpus_to_fit(140.0, A100E) == 2
    assert gpus_to_fit(140.0, T4) is None  # 8 × 16 GB = 128 GB
    assert gpus_to_fit(140.0, T4, max_gpus=16) == 16
    assert gpus_to_fit(140.0, H100, max_gpus=1) is None
    assert gpus_to_fit(10.0, A10) == 1
    assert fits(160.0, A100E, 2)  # exactly full still fits


def test_a_model_is_never_split_across_mig_slices() -> None:
    """MIG slices have no peer access: a model that needs two of them does not fit."""
    assert gpus_to_fit(18.0, "nvidia-hopper-h100-1g20gb") == 1
    assert gpus_to_fit(24.0, "nvidia-hopper-h100-1g20gb") is None
    assert gpus_to_fit(24.0, "nvidia-hopper-h100-3g40gb") == 1
    assert gpus_to_fit(60.0, "nvidia-hopper-h100-3g40gb") is None
