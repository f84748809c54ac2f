"""The LLM serving-engine model: invariants (hypothesis) and the shapes engines show."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from capplan.llm.batch import LlmParams
from capplan.llm.loadtest import run_load

REL = 1e-9

sizes = st.lists(st.tuples(st.integers(0, 3000), st.integers(1, 600)), min_size=1, max_size=40)
profiles = st.fixed_dictionaries(
    {
        "prefill_tokens_per_s": st.floats(500, 50_000),
        "decode_tokens_per_s": st.floats(5, 200),
        "batching_alpha": st.floats(0, 0.2),
        "overhead_s": st.floats(0, 0.5),
        "max_num_seqs": st.integers(1, 64),
    }
)
modes = st.sampled_from(["burst", "closed", "poisson"])
rules = st.sampled_from(["reserve", "preempt"])


def _arrays(reqs: list[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
    prompt = np.array([p for p, _ in reqs], dtype=float)
    output = np.array([o for _, o in reqs], dtype=float)
    return prompt, output


def _run(prof: dict, kv: float, reqs, mode: str, rule: str = "reserve"):  # noqa: ANN001, ANN202
    prompt, output = _arrays(reqs)
    params = LlmParams(**prof, kv_cache_tokens=kv, kv_admission=rule)
    return run_load(params, prompt, output, mode, 4.0, np.random.default_rng(3))


@settings(max_examples=60, deadline=None)
@given(profiles, sizes, modes, st.floats(1.0, 4.0))
def test_more_kv_cache_never_makes_a_run_slower(prof, reqs, mode, more) -> None:  # noqa: ANN001
    """Under the default rule (reserve prompt + output). vLLM's preempt rule does not
    have this property: recompute after a preemption can cost more than the cache saved."""
    prompt, output = _arrays(reqs)
    smallest = float((prompt + output).max()) * 1.02 + 2
    small = _run(prof, smallest, reqs, mode)
    large = _run(prof, smallest * more, reqs, mode)
    assert np.isfinite(small.end).all() and np.isfinite(large.end).all()
    assert large.end.max() <= small.end.max() * (1 + 1e-6) + 1e-9


@settings(max_examples=60, deadline=None)
@given(profiles, sizes, modes, st.floats(1.02, 3.0), rules)
def test_prefill_work_is_conserved(prof, reqs, mode, kv_factor, rule) -> None:  # noqa: ANN001
    prompt, output = _arrays(reqs)
    r = _run(prof, float((prompt + output).max()) * kv_factor + 2, reqs, mode, rule)
    assert np.isfinite(r.end).all()
    # Recompute after a preemption only adds prefill work.
    assert r.prefill_busy_s >= prompt.sum() / prof["prefill_tokens_per_s"] * (1 - 1e-6) - 1e-9


@settings(max_examples=60, deadline=None)
@given(profiles, sizes, modes, st.floats(1.02, 3.0), rules)
def test_tpot_never_below_one_over_decode_speed(prof, reqs, mode, kv_factor, rule) -> None:  # noqa: ANN001
    prompt, output = _arrays(reqs)
    r = _run(prof, float((prompt + output).max()) * kv_factor + 2, reqs, mode, rule)
    assert (r.tpot >= (1 - 1e-9) / prof["decode_tokens_per_s"]).all()
    # first token = arrival + overhead in floats: an overhead below the arrival's ulp is lost
    assert (r.ttft >= prof["overhead_s"] * (1 - REL) - np.spacing(r.first_token)).all()
    assert (r.end >= r.first_token).all()


def test_one_request_alone_runs_at_the_profile_speeds() -> None:
    params = LlmParams(prefill_tokens_per_s=10_000, decode_tokens_per_s=50, overhead_s=0.1)
    r = run_load(params, np.array([2000.0]), np.array([101.0]), "burst", 1)
    assert r.ttft[0] == pytest.approx(0.1 + 2000 / 10_000)
    assert r.tpot[0] == pytest.approx(1 / 50)


def test_max_num_seqs_queues_requests_inside_the_worker() -> None:
    """With max_num_seqs 2, a burst of 4 runs as two waves of decode."""
    params = LlmParams(
        prefill_tokens_per_s=1e9, decode_tokens_per_s=100, max_num_seqs=2, max_num_batched_tokens=2
    )
    r = run_load(params, np.full(4, 1.0), np.full(4, 101.0), "burst", 4)
    ends = np.sort(r.end)
    # 100 decode steps of 10 ms per wave; a prompt prefilled beside a decode costs one step.
    assert ends[1] == pytest.approx(1.0, rel=0.02)
    assert ends[2] > 1.9
    assert ends[3] == pytest.approx(2.0, rel=0.02)


def test_small_kv_cache_gives_longer_makespan_and_a_throughput_plateau() -> None:
    """Bursts of 1,024 + 1,024 tokens: with room for ~45 such requests, throughput stops
    growing with the burst, while a large cache keeps gaining up to max_num_seqs."""
    base = dict(prefill_tokens_per_s=13_000, decode_tokens_per_s=85, batching_alpha=0.012)
    small, large = [], []
    for n in (50, 100, 200, 400):
        prompt, output = np.full(n, 1024.0), np.full(n, 1024.0)
        s = run_load(LlmParams(**base, kv_cache_tokens=93_872), prompt, output, "burst", n)
        big = run_load(LlmParams(**base, kv_cache_tokens=464_848), prompt, output, "burst", n)
        assert s.makespan > big.makespan
        small.append(s.output_throughput)
        large.append(big.output_throughput)
    assert small[-1] / small[-2] < 1.1  # the plateau: the cache, not the burst, sets the batch
    assert large[-1] > 1.5 * small[-1]
