"""A run that keeps no per-request record (records=False) summarises exactly like one that does.

The streamed engine hands requests over in chunks and renumbers the ones still
in the system; with tiny chunks every renumbering path is exercised (requests
queued, in service, waiting for a retry, on a draining worker) and the run must
be event for event the same: identical counts, percentiles and worker tables,
means equal to rounding.
"""

from __future__ import annotations

import importlib
import math

import numpy as np
import pytest
from helpers import make_case

from capplan.errors import CapplanError
from capplan.scenario import Case
from capplan.simulate import run_replication, simulate_cases


def _cases() -> dict[str, Case]:
    lognormal = {"kind": "latency", "distribution": "lognormal", "median_s": 1.0, "p99_s": 6.0}
    return {
        # HPA scale-up and down under a day-shaped load, cold starts, draining.
        "sync_hpa": make_case(
            "SYNC",
            workload={"kind": "diurnal", "base_rate": 0.5, "peak_rate": 6, "period_s": 1200,
                      "horizon_s": 2400, "warmup_s": 100},
            service={**lognormal, "batching_alpha": 0.1, "cold_start": 30},
            min_workers=1, max_workers=6, per_worker=2,
        ),
        # Overloaded sync pool with a low pod limit: 429s, retries, gateway give-ups.
        "sync_429": make_case(
            "SYNC",
            workload={"kind": "poisson", "rate": 12, "horizon_s": 600},
            service={"kind": "latency", "distribution": "exponential", "mean_s": 1.0,
                     "concurrency_limit": 2},
            min_workers=2, max_workers=2, per_worker=2,
        ),
        # Async backlog: queued tasks cross many chunks; scale from zero.
        "async": make_case(
            "ASYNC",
            workload={"kind": "mmpp", "rates": [0.2, 8.0], "mean_durations_s": [300, 120],
                      "horizon_s": 3000},
            service={**lognormal, "cold_start": 60},
            min_workers=0, max_workers=3, per_worker=2,
        ),
        # [faults]: lost sync requests retried through the calendar, async tasks requeued.
        "sync_faults": make_case(
            "SYNC",
            workload={"kind": "poisson", "rate": 2, "horizon_s": 1800},
            service={"kind": "latency", "distribution": "exponential", "mean_s": 4.0,
                     "cold_start": 20},
            min_workers=2, max_workers=4, per_worker=2, faults={"worker_mtbf_h": 0.05},
        ),
        "async_faults": make_case(
            "ASYNC",
            workload={"kind": "poisson", "rate": 1, "horizon_s": 1800},
            service={"kind": "latency", "distribution": "exponential", "mean_s": 4.0,
                     "cold_start": 20},
            min_workers=1, max_workers=3, per_worker=2, faults={"worker_mtbf_h": 0.05},
        ),
        # Streaming: first tokens recorded while requests are still in flight.
        "streaming": make_case(
            "STREAMING",
            workload={"kind": "poisson", "rate": 3, "horizon_s": 900,
                      "context_tokens": {"distribution": "lognormal", "median": 500, "p99": 4000},
                      "generated_tokens": {"distribution": "exponential", "mean": 200}},
            service={"kind": "tokens", "prefill_tokens_per_s": 4000, "decode_tokens_per_s": 60,
                     "batching_alpha": 0.05, "cold_start": 20},
            min_workers=1, max_workers=4, per_worker=4,
        ),
        # Three days: drawn a day at a time (workload windows), several chunks each.
        "days": make_case(
            "SYNC",
            workload={"kind": "diurnal", "base_rate": 0.01, "peak_rate": 0.1, "horizon_s": 3 * 86400,
                      "warmup_s": 3600},
            service={"kind": "latency", "distribution": "exponential", "mean_s": 30.0},
            min_workers=1, max_workers=3, per_worker=1,
        ),
        **_llm_cases(),
    }  # fmt: skip


def _llm_cases() -> dict[str, Case]:
    """The llm service: its batches hold request indices of their own (queue, prefill,
    decode heap), renumbered at every chunk like the job heaps."""
    tokens = {
        "context_tokens": {"distribution": "lognormal", "median": 800, "p99": 6000},
        "generated_tokens": {"distribution": "exponential", "mean": 150},
    }
    llm = {
        "kind": "llm",
        "prefill_tokens_per_s": 6000,
        "decode_tokens_per_s": 40,
        "batching_alpha": 0.02,
        "overhead_s": 0.05,
        "max_num_seqs": 4,
        "cold_start": 20,
    }
    return {
        # Overloaded: 429s and retries, a worker queue beyond max_num_seqs, HPA scaling.
        "llm_streaming": make_case(
            "STREAMING",
            workload={"kind": "poisson", "rate": 1.5, "horizon_s": 1200, **tokens},
            service={**llm, "concurrency_limit": 8},
            min_workers=1, max_workers=3, per_worker=4,
        ),
        # vLLM's preempt rule with a small cache: preempted sequences wait across chunks.
        "llm_preempt": make_case(
            "SYNC",
            workload={"kind": "poisson", "rate": 4.0, "horizon_s": 450, **tokens},
            service={**llm, "kv_admission": "preempt", "kv_cache_tokens": 20_000,
                     "max_num_seqs": 32},
            min_workers=2, max_workers=2, per_worker=8,
        ),
        # Async backlog and pod failures: tasks requeued off a dead worker's batch.
        "llm_async_faults": make_case(
            "ASYNC",
            workload={"kind": "poisson", "rate": 1.0, "horizon_s": 1800, **tokens},
            service=llm,
            min_workers=1, max_workers=2, per_worker=4, faults={"worker_mtbf_h": 0.1},
        ),
    }  # fmt: skip


CASES = _cases()
# The module, not the `simulate` function that capplan re-exports under the same name.
simulate_module = importlib.import_module("capplan.simulate")


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("chunk", [7, 64])
def test_streamed_run_has_the_same_summary(
    name: str, chunk: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    case = CASES[name]
    full, record = run_replication(case, 0, records=True)
    monkeypatch.setattr(simulate_module, "CHUNK", chunk)
    lean, lean_record = run_replication(case, 0, records=False)
    assert full["requests"] > 20 * chunk  # many chunks
    assert full.keys() == lean.keys()
    for key, value in full.items():
        if key.endswith("mean_s") and not math.isnan(value):
            assert lean[key] == pytest.approx(value, rel=1e-12), key
        else:
            assert lean[key] == value or (math.isnan(value) and math.isnan(lean[key])), key
    for column, values in record.workers.items():
        assert np.array_equal(values, lean_record.workers[column])
    assert len(lean_record.arrival) == 0 and len(lean_record.timeline) == 0


def test_case_mix_reaches_the_paths_that_renumber() -> None:
    """The cases above really have retries, backlogs, kills or first tokens in flight."""
    _, sync = run_replication(CASES["sync_429"], 0)
    assert sync.retries.max() > 0 and np.isin(sync.status, [2]).any()
    _, backlog = run_replication(CASES["async"], 0)
    assert np.nanmax(backlog.start - backlog.arrival) > 60  # tasks waited across chunks
    _, stream = run_replication(CASES["streaming"], 0)
    assert np.any(~np.isnan(stream.first_token) & np.isnan(stream.end))


def test_llm_cases_reach_the_paths_that_renumber(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retries, preempted sequences back in the queue, failed pods and first tokens in flight."""
    from capplan.llm.batch import LlmWorker

    preempted = [0]
    original = LlmWorker._preempt_if_full

    def counting(self: LlmWorker) -> None:
        before = len(self.running)
        original(self)
        preempted[0] += before - len(self.running)

    monkeypatch.setattr(LlmWorker, "_preempt_if_full", counting)
    _, stream = run_replication(CASES["llm_streaming"], 0)
    assert stream.retries.max() > 0 and np.isin(stream.status, [2]).any()
    assert np.any(~np.isnan(stream.first_token) & np.isnan(stream.end))
    run_replication(CASES["llm_preempt"], 0)
    assert preempted[0] > 10
    _, failing = run_replication(CASES["llm_async_faults"], 0)
    assert np.isfinite(failing.workers["failed_at"]).sum() > 2


def test_records_not_kept_say_so() -> None:
    result = simulate_cases([CASES["sync_429"]], 1, records=False)[0]
    assert result.summary["requests"] > 0
    with pytest.raises(CapplanError, match="records were not kept"):
        _ = result.requests
    with pytest.raises(CapplanError, match="records were not kept"):
        _ = result.timeline


def test_long_horizons_are_drawn_a_day_at_a_time() -> None:
    """Windows tile [0, horizon); joined they are `generate`; a one-day horizon is unchanged."""
    from capplan.workload import generate, generate_windows
    from capplan.workload.draws import stream_rng, thin

    spec = CASES["days"].workload
    windows = list(generate_windows(spec, 3, 1))
    assert len(windows) == 3
    for day, w in enumerate(windows):
        assert np.all((w.arrival >= day * 86400) & (w.arrival < (day + 1) * 86400))
    joined = generate(spec, 3, 1)
    assert np.array_equal(joined.arrival, np.concatenate([w.arrival for w in windows]))
    # Mean of 2.5 days' diurnal rate (0.055/s): the count is Poisson, 4 sigma either side.
    expected = 0.055 * 3 * 86400
    assert abs(len(joined) - expected) < 4 * np.sqrt(expected)
    one_day = spec.model_copy(update={"horizon_s": 86400.0})
    rng = stream_rng(3, 1, "arrivals")
    kind_rate = np.vectorize(lambda t: 0.01 + 0.09 * (1 + np.cos(2 * np.pi * t / 86400)) / 2)
    assert np.array_equal(generate(one_day, 3, 1).arrival, thin(rng, 0.1, 86400.0, kind_rate))
