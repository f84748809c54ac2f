"""Arrival processes and request sizes, checked against their theory with 99.9 % intervals.

Seeds are fixed, so every test is deterministic; the tolerances are the
statistical ones, so a wrong rate, shape or phase law makes the test fail.
"""

from __future__ import annotations

import math
import os
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from capplan.distributions import Deterministic, Exponential, Lognormal, Uniform
from capplan.errors import CapplanError
from capplan.scenario import WorkloadSpec
from capplan.workload import (
    Requests,
    generate,
    horizon,
    load_trace,
    mean_tokens,
    minute_rates,
    peak_rate,
    poisson_times,
    rate_at,
    stream_rng,
)

TRACE = Path(__file__).resolve().parents[1] / "scenarios" / "data" / "azure_llm_conv_2023.csv"
Z = 3.2905  # two-sided 99.9 % normal quantile


def within_poisson(count: float, mean: float) -> bool:
    """Count inside the 99.9 % normal interval of a Poisson(mean) count."""
    return abs(count - mean) <= Z * math.sqrt(mean) + 1


def chi2_upper(df: int) -> float:
    """99.9 % quantile of chi-square(df), Wilson–Hilferty (accurate for df >= 10)."""
    c = 2 / (9 * df)
    return df * (1 - c + Z * math.sqrt(c)) ** 3


def counts_match_rates(arrival: np.ndarray, edges: np.ndarray, rates: np.ndarray) -> bool:
    """Chi-square test: counts per bin are independent Poisson with mean rate × width."""
    counts = np.histogram(arrival, bins=edges)[0]
    mean = rates * np.diff(edges)
    if np.any(counts[mean == 0] > 0):
        return False
    live = mean > 0
    stat = float((((counts[live] - mean[live]) ** 2) / mean[live]).sum())
    return stat <= chi2_upper(int(live.sum()))


def minute_edges(horizon: float, n: int) -> np.ndarray:
    return np.append(np.arange(n) * 60.0, horizon)


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def independent_trace() -> pd.DataFrame:
    """The trace parsed here, independently of the module under test."""
    table = pd.read_csv(TRACE)
    stamps = pd.to_datetime(table["TIMESTAMP"], format="ISO8601")
    table["t"] = (stamps - stamps.iloc[0]).dt.total_seconds()
    return table


# ---------------------------------------------------------------- streams & CRN
def test_stream_rng_is_seeded_by_a_stable_hash_of_the_name() -> None:
    expected = np.random.default_rng(np.random.SeedSequence([7, 2, zlib.crc32(b"arrivals")]))
    assert np.array_equal(stream_rng(7, 2, "arrivals").random(5), expected.random(5))


def test_streams_differ_by_name_seed_and_replication() -> None:
    base = stream_rng(1, 0, "arrivals").random(8)
    for other in (
        stream_rng(1, 0, "sizes"),
        stream_rng(2, 0, "arrivals"),
        stream_rng(1, 1, "arrivals"),
    ):
        assert not np.array_equal(base, other.random(8))


def test_streams_are_uncorrelated() -> None:
    a = stream_rng(3, 0, "service").random(100_000)
    b = stream_rng(3, 0, "retry").random(100_000)
    # Correlation of independent uniforms has sd 1/sqrt(n).
    assert abs(np.corrcoef(a, b)[0, 1]) < Z / math.sqrt(len(a))


def test_same_seed_and_replication_give_identical_requests() -> None:
    spec = WorkloadSpec(kind="poisson", rate=5.0, context_tokens=Exponential(mean=500))
    one, two = generate(spec, 11, 3), generate(spec, 11, 3)
    for name in ("arrival", "context_tokens", "generated_tokens"):
        assert np.array_equal(getattr(one, name), getattr(two, name))
    other = generate(spec, 11, 4)
    assert not np.array_equal(one.arrival[:50], other.arrival[:50])
    assert not np.array_equal(one.context_tokens[:50], other.context_tokens[:50])


def test_size_distribution_does_not_move_arrivals() -> None:
    """Arrivals and sizes come from separate streams: changing one leaves the other."""
    plain = WorkloadSpec(kind="diurnal", base_rate=1.0, peak_rate=4.0, period_s=600)
    sized = plain.model_copy(update={"generated_tokens": Exponential(mean=80)})
    assert np.array_equal(generate(plain, 5).arrival, generate(sized, 5).arrival)


# ---------------------------------------------------------------- poisson
def test_poisson_count_and_gaps_match_theory() -> None:
    rate, horizon = 40.0, 3600.0
    req = generate(WorkloadSpec(kind="poisson", rate=rate, horizon_s=horizon), seed=1)
    n = len(req)
    assert within_poisson(n, rate * horizon)
    gaps = np.diff(req.arrival)
    # Mean gap: sd (1/rate)/sqrt(n). Sample CV of exponentials: sd ≈ 1/sqrt(n) (delta method).
    assert abs(gaps.mean() * rate - 1) <= Z / math.sqrt(n)
    assert abs(gaps.std() / gaps.mean() - 1) <= Z / math.sqrt(n)
    assert req.horizon == horizon and req.warmup == 0.0
    assert req.arrival[0] >= 0 and req.arrival[-1] < horizon


def test_poisson_counts_in_windows_are_poisson() -> None:
    req = generate(WorkloadSpec(kind="poisson", rate=3.0, horizon_s=6000), seed=4)
    counts = np.histogram(req.arrival, bins=np.arange(0, 6001, 6.0))[0]
    k = len(counts)
    # (k − 1)·IDC is ~chi-square(k − 1) for Poisson counts.
    assert (k - 1) * counts.var(ddof=1) / counts.mean() <= chi2_upper(k - 1)
    assert (k - 1) * counts.var(ddof=1) / counts.mean() >= 2 * (k - 1) - chi2_upper(k - 1)


def test_poisson_default_sizes_and_horizon() -> None:
    req = generate(WorkloadSpec(kind="poisson", rate=0.5), seed=2)
    assert req.horizon == 3600.0
    assert np.all(req.context_tokens == 1000) and np.all(req.generated_tokens == 100)
    assert req.context_tokens.dtype == np.int64 and req.arrival.dtype == np.float64


def test_token_dists_are_rounded_and_clipped() -> None:
    spec = WorkloadSpec(
        kind="poisson",
        rate=50.0,
        context_tokens=Lognormal(median=800, p99=6000),
        generated_tokens=Uniform(low=0, high=3),
    )
    req = generate(spec, seed=9)
    assert set(np.unique(req.generated_tokens)) <= {1, 2, 3}
    assert np.all(req.generated_tokens >= 1) and np.all(req.context_tokens >= 0)
    ctx = req.context_tokens
    expected = spec.context_tokens.expected  # type: ignore[union-attr]
    assert abs(ctx.mean() - expected) <= Z * ctx.std() / math.sqrt(len(ctx)) + 0.5


def test_tokens_round_to_nearest() -> None:
    spec = WorkloadSpec(
        kind="poisson",
        rate=1.0,
        horizon_s=20,
        context_tokens=Deterministic(value=2.6),
        generated_tokens=Deterministic(value=0.4),
    )
    req = generate(spec, seed=1)
    assert np.all(req.context_tokens == 3) and np.all(req.generated_tokens == 1)


def test_poisson_million_requests_is_fast() -> None:
    import time

    spec = WorkloadSpec(kind="poisson", rate=1_000_000 / 3600)
    start = time.perf_counter()
    req = generate(spec, seed=1)
    assert time.perf_counter() - start < 1.0
    assert within_poisson(len(req), 1_000_000)


def test_poisson_times_draws_past_the_first_chunk() -> None:
    # A horizon far larger than the first chunk covers forces the chunk loop to run.
    times = poisson_times(stream_rng(0, 0, "x"), 1.0, 20_000.0)
    assert np.all(np.diff(times) > 0) and times[-1] < 20_000.0
    assert within_poisson(len(times), 20_000)


# ---------------------------------------------------------------- diurnal
DIURNAL = WorkloadSpec(
    kind="diurnal", base_rate=0.5, peak_rate=6.0, period_s=14_400, peak_at_s=9000, horizon_s=14_400
)


def diurnal_integral(spec: WorkloadSpec, a: float, b: float) -> float:
    """∫_a^b λ by the trapezoid rule on a fine grid: independent of the closed form."""
    t = np.linspace(a, b, 20_001)
    return float(np.trapezoid(rate_at(spec, t), t))


def test_diurnal_peak_and_trough_hours_match_integral() -> None:
    req = generate(DIURNAL, seed=3)
    peak = np.count_nonzero((req.arrival >= 8400) & (req.arrival < 9600))
    trough = np.count_nonzero((req.arrival >= 1200) & (req.arrival < 2400))
    assert within_poisson(peak, diurnal_integral(DIURNAL, 8400, 9600))
    assert within_poisson(trough, diurnal_integral(DIURNAL, 1200, 2400))
    assert peak > 5 * trough


def test_diurnal_rate_formula() -> None:
    t = np.array([9000.0, 1800.0, 9000.0 + 3600])
    assert np.allclose(rate_at(DIURNAL, t), [6.0, 0.5, 0.5 + 5.5 / 2])


def test_diurnal_arrivals_are_a_thinning_of_the_peak_process() -> None:
    req = generate(DIURNAL, seed=6)
    candidates = poisson_times(stream_rng(6, 0, "arrivals"), 6.0, horizon(DIURNAL))
    assert np.all(np.isin(req.arrival, candidates))
    assert len(req) < len(candidates)


def test_diurnal_with_flat_rate_is_the_poisson_process() -> None:
    flat = WorkloadSpec(kind="diurnal", base_rate=2.0, peak_rate=2.0, horizon_s=500)
    poisson = WorkloadSpec(kind="poisson", rate=2.0, horizon_s=500)
    assert np.array_equal(generate(flat, 1).arrival, generate(poisson, 1).arrival)


def test_diurnal_period_and_peak_at_are_honoured() -> None:
    spec = WorkloadSpec(
        kind="diurnal", base_rate=0.2, peak_rate=5.0, period_s=1200, peak_at_s=300, horizon_s=12_000
    )
    req = generate(spec, seed=8)
    angle = np.angle(np.exp(2j * np.pi * req.arrival / spec.period_s).mean())
    # Circular mean of the phases sits at the peak; with ~30k points its error is ~0.01 rad.
    assert abs(angle - 2 * np.pi * 300 / 1200) < 0.05
    rates = minute_rates(spec)
    assert int(np.argmax(rates)) % 20 in (4, 5)  # the minute ending or starting at t = 300 mod 1200


# ---------------------------------------------------------------- mmpp
def test_mmpp_long_run_rate_matches_theory() -> None:
    rates, durations, horizon = (2.0, 20.0), (6.0, 2.0), 100_000.0
    spec = WorkloadSpec(kind="mmpp", rates=rates, mean_durations_s=durations, horizon_s=horizon)
    req = generate(spec, seed=1)
    mean = (2 * 6 + 20 * 2) / 8
    # Asymptotic variance of a 2-phase MMPP count: t·(λ̄ + 2 p1 p2 Δλ² / (q1 + q2)).
    q1, q2 = 1 / 6, 1 / 2
    p1, p2 = q2 / (q1 + q2), q1 / (q1 + q2)
    var = horizon * (mean + 2 * p1 * p2 * (20 - 2) ** 2 / (q1 + q2))
    assert abs(len(req) - mean * horizon) <= Z * math.sqrt(var)
    assert rate_at(spec, np.array([0.0]))[0] == pytest.approx(mean)


def test_mmpp_three_phases_long_run_rate_batch_means() -> None:
    spec = WorkloadSpec(
        kind="mmpp", rates=(1.0, 10.0, 0.0), mean_durations_s=(5.0, 2.0, 3.0), horizon_s=50_000
    )
    req = generate(spec, seed=2)
    batches = np.histogram(req.arrival, bins=np.linspace(0, 50_000, 51))[0] / 1000.0
    half = 3.5 * batches.std(ddof=1) / math.sqrt(len(batches))  # t(49) 99.9 % ≈ 3.5
    assert abs(batches.mean() - (5 + 20 + 0) / 10) <= half


def test_mmpp_is_bursty_only_when_rates_differ() -> None:
    def dispersion(rates: tuple[float, float]) -> float:
        spec = WorkloadSpec(
            kind="mmpp", rates=rates, mean_durations_s=(30.0, 10.0), horizon_s=60_000
        )
        counts = np.histogram(generate(spec, seed=5).arrival, bins=np.arange(0, 60_001, 60.0))[0]
        return counts.var(ddof=1) / counts.mean()

    k = 1000
    assert dispersion((1.0, 9.0)) > chi2_upper(k - 1) / (k - 1)
    assert dispersion((4.0, 4.0)) <= chi2_upper(k - 1) / (k - 1)


def test_mmpp_single_phase_is_poisson() -> None:
    req = generate(
        WorkloadSpec(kind="mmpp", rates=(4.0,), mean_durations_s=(1.0,), horizon_s=5000), seed=1
    )
    assert within_poisson(len(req), 20_000)


def test_mmpp_starts_in_phase_zero() -> None:
    # Phase 0 is silent and long: no arrivals in the first second in nearly every replication.
    spec = WorkloadSpec(
        kind="mmpp", rates=(0.0, 100.0), mean_durations_s=(1000.0, 1.0), horizon_s=1.0
    )
    assert sum(len(generate(spec, 0, r)) > 0 for r in range(20)) <= 1


def test_mmpp_next_phase_is_uniform_among_the_others() -> None:
    from capplan.workload.mmpp import phase_segments

    phases, _ = phase_segments(stream_rng(1, 0, "phases"), np.array([1.0, 1.0, 1.0, 1.0]), 40_000.0)
    assert phases[0] == 0 and np.all(phases[1:] != phases[:-1])
    after_zero = phases[1:][phases[:-1] == 0]
    counts = np.bincount(after_zero, minlength=4)[1:]
    expected = len(after_zero) / 3
    assert float(((counts - expected) ** 2 / expected).sum()) <= 13.8  # chi-square(2) 99.9 %


def test_mmpp_minute_rates_follow_the_realised_phases() -> None:
    spec = WorkloadSpec(
        kind="mmpp", rates=(0.5, 8.0), mean_durations_s=(120.0, 60.0), horizon_s=7200
    )
    rates = minute_rates(spec, seed=4)
    req = generate(spec, 4)
    assert counts_match_rates(req.arrival, minute_edges(7200, 120), rates)
    assert not counts_match_rates(
        generate(spec, 4, replication=1).arrival, minute_edges(7200, 120), rates
    )


# ---------------------------------------------------------------- piecewise
def test_piecewise_counts_per_step(tmp_path: Path) -> None:
    csv = write(tmp_path / "rate.csv", "time_s,rate\n0,2\n600,10\n1200,0\n1800,5\n")
    spec = WorkloadSpec(kind="piecewise", path=csv, horizon_s=2400)
    req = generate(spec, seed=1)
    counts = np.histogram(req.arrival, bins=[0, 600, 1200, 1800, 2400])[0]
    assert counts[2] == 0
    for count, rate in zip(counts[[0, 1, 3]], (2, 10, 5), strict=True):
        assert within_poisson(count, rate * 600)
    assert np.array_equal(
        rate_at(spec, np.array([0.0, 599.9, 600.0, 1500.0, 3000.0])), [2, 2, 10, 0, 5]
    )


def test_piecewise_zero_before_first_row(tmp_path: Path) -> None:
    csv = write(tmp_path / "late.csv", "time_s,rate\n100,3\n")
    spec = WorkloadSpec(kind="piecewise", path=csv, horizon_s=400)
    req = generate(spec, seed=2)
    assert req.arrival.min() >= 100
    assert within_poisson(len(req), 900)


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("time,rate\n0,1\n", "row 1"),
        ("time_s,rate\n0,1\n60,fast\n", "row 3, column rate"),
        ("time_s,rate\n0,1\n60,-2\n", "row 3, column rate"),
        ("time_s,rate\n0,1\n0,2\n", "row 3, column time_s"),
        ("time_s,rate\n,1\n", "row 2, column time_s"),
        ("time_s,rate\n", "no rows"),
    ],
)
def test_piecewise_bad_csv_names_file_and_row(tmp_path: Path, text: str, where: str) -> None:
    csv = write(tmp_path / "bad.csv", text)
    with pytest.raises(CapplanError, match="bad.csv") as info:
        generate(WorkloadSpec(kind="piecewise", path=csv), seed=0)
    assert where in str(info.value)


def test_piecewise_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CapplanError, match="nope.csv"):
        generate(WorkloadSpec(kind="piecewise", path=tmp_path / "nope.csv"), seed=0)


# ---------------------------------------------------------------- trace
def test_trace_replay_is_exact() -> None:
    table = independent_trace()
    req = generate(WorkloadSpec(kind="trace", path=TRACE), seed=1)
    assert len(req) == len(table) == 19_366
    assert req.arrival[0] == 0.0 and np.all(np.diff(req.arrival) >= 0)
    assert np.allclose(req.arrival, table["t"], atol=1e-6)
    assert np.array_equal(req.context_tokens, table["ContextTokens"])
    assert np.array_equal(req.generated_tokens, table["GeneratedTokens"])
    assert req.horizon > req.arrival[-1]
    assert req.horizon == pytest.approx(table["t"].iloc[-1])


def test_trace_window_is_exact() -> None:
    table = independent_trace()
    spec = WorkloadSpec(kind="trace", path=TRACE, start_s=600, duration_s=300)
    req = generate(spec, seed=1)
    rows = table[(table["t"] >= 600) & (table["t"] < 900)]
    assert len(req) == len(rows)
    assert np.allclose(req.arrival, rows["t"] - 600, atol=1e-6)
    assert np.array_equal(req.context_tokens, rows["ContextTokens"])
    assert req.horizon == 300 and req.arrival[-1] < 300


def test_trace_horizon_override_drops_late_rows() -> None:
    req = generate(WorkloadSpec(kind="trace", path=TRACE, horizon_s=100, warmup_s=10), seed=1)
    t, _, _ = load_trace(TRACE)
    assert len(req) == np.count_nonzero(t < 100) and req.horizon == 100 and req.warmup == 10


def test_trace_multiplier_half_thins() -> None:
    n = 19_366
    req = generate(WorkloadSpec(kind="trace", path=TRACE, rate_multiplier=0.5), seed=2)
    assert abs(len(req) - n / 2) <= Z * math.sqrt(n / 4)
    t, _, _ = load_trace(TRACE)
    assert np.all(np.isin(req.arrival, t))  # thinning keeps rows in place


def test_trace_multiplier_two_doubles_with_the_same_tokens() -> None:
    n = 19_366
    req = generate(WorkloadSpec(kind="trace", path=TRACE, rate_multiplier=2.0), seed=2)
    assert len(req) == 2 * n
    _, context, _ = load_trace(TRACE)
    assert np.array_equal(np.sort(req.context_tokens), np.sort(np.concatenate([context, context])))
    assert np.all(np.diff(req.arrival) >= 0)


def test_trace_extra_copy_is_a_rotation_of_the_window() -> None:
    req = generate(WorkloadSpec(kind="trace", path=TRACE, rate_multiplier=2.0), seed=4)
    t, _, _ = load_trace(TRACE)
    extra = req.arrival[~np.isin(req.arrival, t)]
    assert len(extra) == len(t)  # the copy shares no timestamp with the original

    def cyclic_gaps(x: np.ndarray) -> np.ndarray:
        return np.sort(np.diff(np.append(x, x[0] + req.horizon)))

    # A rotation on the circle of length `window` keeps every gap, wrap-around included.
    assert np.allclose(cyclic_gaps(extra), cyclic_gaps(t), atol=1e-6)


def test_trace_multiplier_fractional_superposes() -> None:
    n = 19_366
    req = generate(WorkloadSpec(kind="trace", path=TRACE, rate_multiplier=2.5), seed=3)
    assert abs(len(req) - 2.5 * n) <= Z * math.sqrt(n / 4)
    again = generate(WorkloadSpec(kind="trace", path=TRACE, rate_multiplier=2.5), seed=3)
    assert np.array_equal(req.arrival, again.arrival)


def test_trace_rotated_copies_keep_burstiness() -> None:
    def dispersion(m: float) -> float:
        req = generate(WorkloadSpec(kind="trace", path=TRACE, rate_multiplier=m), seed=1)
        counts = np.histogram(req.arrival, bins=np.arange(0, 3480, 10.0))[0]
        return counts.var(ddof=1) / counts.mean()

    # Superposing independent rotations keeps the index of dispersion; a Poisson
    # process of the same rate would give about 1.
    assert dispersion(3.0) > 0.7 * dispersion(1.0) > 1.2


def test_trace_rows_without_output_tokens_still_cost_one(tmp_path: Path) -> None:
    rows = [
        "TIMESTAMP,ContextTokens,GeneratedTokens",
        "2023-11-16 18:00:00,0,0",
        "2023-11-16 18:00:02,7,3",
    ]
    text = "\n".join(rows) + "\n"
    req = generate(WorkloadSpec(kind="trace", path=write(tmp_path / "z.csv", text)), seed=0)
    assert list(req.generated_tokens) == [1, 3] and list(req.context_tokens) == [0, 7]


def test_load_trace_is_cached_and_reloaded_on_change(tmp_path: Path) -> None:
    header = "TIMESTAMP,ContextTokens,GeneratedTokens\n"
    path = write(
        tmp_path / "t.csv", header + "2023-11-16 18:00:01.5,10,2\n2023-11-16 18:00:03.0,20,4\n"
    )
    first = load_trace(path)
    assert load_trace(path) is first
    assert np.allclose(first[0], [0.0, 1.5]) and list(first[1]) == [10, 20]
    write(path, header + "2023-11-16 18:00:00,5,1\n")
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
    assert list(load_trace(path)[1]) == [5]


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("TIME,ContextTokens,GeneratedTokens\n2023-11-16 18:00:00,1,1\n", "row 1"),
        (
            "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:00:00,1,1\nlater,2,2\n",
            "row 3, column TIMESTAMP",
        ),
        (
            "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:00:00,x,1\n",
            "row 2, column ContextTokens",
        ),
        (
            "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:00:00,1,-1\n",
            "row 2, column GeneratedTokens",
        ),
    ],
)
def test_trace_bad_files_name_file_and_row(tmp_path: Path, text: str, where: str) -> None:
    path = write(tmp_path / "broken.csv", text)
    with pytest.raises(CapplanError, match="broken.csv") as info:
        generate(WorkloadSpec(kind="trace", path=path), seed=0)
    assert where in str(info.value)


def test_trace_missing_file_and_start_beyond_end(tmp_path: Path) -> None:
    with pytest.raises(CapplanError, match="absent.csv"):
        generate(WorkloadSpec(kind="trace", path=tmp_path / "absent.csv"), seed=0)
    with pytest.raises(CapplanError, match="start_s.*azure_llm_conv_2023.csv"):
        generate(WorkloadSpec(kind="trace", path=TRACE, start_s=4000), seed=0)


# ---------------------------------------------------------------- minute_rates / peak_rate
def test_minute_rates_poisson_and_peak() -> None:
    spec = WorkloadSpec(kind="poisson", rate=3.0, horizon_s=610)
    rates = minute_rates(spec)
    assert len(rates) == 11 and np.allclose(rates, 3.0)
    assert peak_rate(spec) == 3.0


def test_minute_rates_diurnal_match_counts_and_integral() -> None:
    rates = minute_rates(DIURNAL)
    assert len(rates) == 240
    assert float((rates * 60).sum()) == pytest.approx(
        diurnal_integral(DIURNAL, 0, 14_400), rel=1e-6
    )
    assert counts_match_rates(generate(DIURNAL, 12).arrival, minute_edges(14_400, 240), rates)
    assert 0.99 * 6.0 < peak_rate(DIURNAL) <= 6.0


def test_minute_rates_piecewise(tmp_path: Path) -> None:
    csv = write(tmp_path / "r.csv", "time_s,rate\n0,1\n90,4\n")
    spec = WorkloadSpec(kind="piecewise", path=csv, horizon_s=240)
    assert np.allclose(minute_rates(spec), [1.0, 2.5, 4.0, 4.0])
    assert counts_match_rates(generate(spec, 1).arrival, minute_edges(240, 4), minute_rates(spec))


def test_minute_rates_trace_are_the_replay_counts() -> None:
    spec = WorkloadSpec(kind="trace", path=TRACE)
    req = generate(spec, seed=1)
    rates = minute_rates(spec)
    edges = np.append(np.arange(len(rates)) * 60.0, req.horizon)
    assert np.allclose(rates * np.diff(edges), np.histogram(req.arrival, bins=edges)[0])
    doubled = minute_rates(spec.model_copy(update={"rate_multiplier": 2.0}))
    assert np.allclose(doubled, 2 * rates)
    assert peak_rate(spec) == pytest.approx(rates.max())
    assert np.allclose(rate_at(spec, np.array([30.0, 90.0])), rates[:2])


def test_mean_tokens() -> None:
    table = independent_trace()
    ctx, gen = mean_tokens(WorkloadSpec(kind="trace", path=TRACE))
    assert ctx == pytest.approx(table["ContextTokens"].mean())
    assert gen == pytest.approx(table["GeneratedTokens"].mean())
    assert mean_tokens(WorkloadSpec(kind="poisson", rate=1.0)) == (1000.0, 100.0)


def test_warmup_beyond_trace_horizon_is_an_error() -> None:
    with pytest.raises(CapplanError, match="warmup_s"):
        generate(WorkloadSpec(kind="trace", path=TRACE, duration_s=60, warmup_s=100), seed=0)


def test_requests_rejects_mismatched_arrays() -> None:
    with pytest.raises(ValueError, match="same length"):
        Requests(np.zeros(2), np.zeros(1, np.int64), np.ones(2, np.int64), 10.0, 0.0)


# ---------------------------------------------------------------- properties
token_dists = st.sampled_from(
    [
        None,
        Exponential(mean=300),
        Lognormal(median=50, p99=900),
        Uniform(low=0, high=2),
        Deterministic(value=0),
    ]
)
horizons = st.floats(1.0, 200.0)
rates = st.floats(0.01, 50.0)


@st.composite
def synthetic_specs(draw: st.DrawFn) -> WorkloadSpec:
    kind = draw(st.sampled_from(["poisson", "diurnal", "mmpp"]))
    common = {
        "horizon_s": draw(horizons),
        "context_tokens": draw(token_dists),
        "generated_tokens": draw(token_dists),
    }
    if kind == "poisson":
        return WorkloadSpec(kind=kind, rate=draw(rates), **common)
    if kind == "diurnal":
        base, peak = sorted((draw(rates), draw(rates)))
        period = draw(st.floats(1.0, 1000.0))
        return WorkloadSpec(
            kind=kind,
            base_rate=base,
            peak_rate=peak,
            period_s=period,
            peak_at_s=draw(st.floats(-500, 500)),
            **common,
        )
    m = draw(st.integers(1, 4))
    phase_rates = draw(
        st.lists(st.floats(0.0, 50.0), min_size=m, max_size=m).filter(lambda r: max(r) > 0)
    )
    durations = draw(st.lists(st.floats(0.05, 100.0), min_size=m, max_size=m))
    return WorkloadSpec(
        kind=kind, rates=tuple(phase_rates), mean_durations_s=tuple(durations), **common
    )


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=synthetic_specs(), seed=st.integers(0, 2**32), replication=st.integers(0, 5))
def test_synthetic_requests_are_well_formed(
    spec: WorkloadSpec, seed: int, replication: int
) -> None:
    req = generate(spec, seed, replication)
    assert np.all(np.diff(req.arrival) >= 0)
    assert np.all(req.arrival >= 0) and np.all(req.arrival < horizon(spec))
    assert len(req.context_tokens) == len(req.generated_tokens) == len(req)
    assert np.all(req.context_tokens >= 0) and np.all(req.generated_tokens >= 1)
    assert req.context_tokens.dtype == req.generated_tokens.dtype == np.int64
    n = len(minute_rates(spec, seed))
    assert (n - 1) * 60 < horizon(spec) < n * 60 + 1


# ---------------------------------------------------------------- trace block bootstrap
def _blocks(spec_kw: dict) -> WorkloadSpec:
    return WorkloadSpec(kind="trace", path=TRACE, resample="blocks", **spec_kw)


def test_trace_replays_resample_by_default_and_replication_zero_is_exact() -> None:
    assert WorkloadSpec(kind="trace", path=TRACE).resample == "blocks"
    exact = generate(WorkloadSpec(kind="trace", path=TRACE, resample="none"), 7, 0)
    for spec in (WorkloadSpec(kind="trace", path=TRACE), _blocks({"block_s": 60.0})):
        replay = generate(spec, 7, 0)
        assert np.array_equal(exact.arrival, replay.arrival)
        assert np.array_equal(exact.context_tokens, replay.context_tokens)


def test_without_resampling_every_replication_is_the_exact_replay() -> None:
    spec = WorkloadSpec(kind="trace", path=TRACE, resample="none")
    first = generate(spec, 7, 0)
    for r in (1, 2):
        assert np.array_equal(first.arrival, generate(spec, 7, r).arrival)


def test_bootstrap_replicates_keep_the_horizon_and_the_count_in_expectation() -> None:
    """Slots tile the window exactly and arcs start uniformly on the circle: every
    replicate lasts the window and its expected count is the trace's."""
    exact = generate(WorkloadSpec(kind="trace", path=TRACE), 7, 0)
    # 3600 s / 420 s: 9 slots of 400 s (no short last block to lose).
    reps = [generate(_blocks({"block_s": 420.0}), 7, r) for r in range(1, 41)]
    assert all(r.horizon == exact.horizon for r in reps)
    assert all(r.arrival.size and r.arrival.max() < exact.horizon for r in reps)
    counts = np.array([len(r) for r in reps])
    half = 3.55 * counts.std(ddof=1) / math.sqrt(len(counts))  # ~99.9 % t-interval, 39 df
    assert abs(counts.mean() - len(exact)) <= half
    assert counts.std() > 0  # replications differ
    assert not np.array_equal(reps[0].arrival, reps[1].arrival)


def test_bootstrap_loses_no_traffic_at_the_end_of_the_window() -> None:
    """All requests in the window's last 40 s, blocks that do not divide the window:
    a bootstrap that cut the last block short would lose most of them."""
    from capplan.workload.trace import resample_blocks

    t = np.sort(np.random.default_rng(0).uniform(960.0, 1000.0, 50))
    rng = np.random.default_rng(1)
    counts = np.array([len(resample_blocks(rng, t, 1000.0, 300.0)[0]) for _ in range(4000)])
    half = Z * counts.std(ddof=1) / math.sqrt(len(counts))
    assert abs(counts.mean() - len(t)) <= half


@settings(max_examples=60, deadline=None)
@given(
    gaps=st.lists(st.floats(0.01, 50.0), min_size=1, max_size=60),
    tail=st.floats(0.0, 50.0),
    block_s=st.floats(1.0, 400.0),
    seed=st.integers(0, 2**32 - 1),
)
def test_each_bootstrap_slot_is_an_arc_of_the_circular_window(
    gaps: list[float], tail: float, block_s: float, seed: int
) -> None:
    """Within each slot, the rows are consecutive around the circle and keep their spacing."""
    from capplan.workload.trace import resample_blocks

    t = np.cumsum(gaps) - gaps[0]
    window = float(t[-1] + tail + 1e-3)
    times, rows = resample_blocks(np.random.default_rng(seed), t, window, block_s)
    assert np.all(np.diff(times) >= 0) and np.all((times >= 0) & (times < window))
    n = math.ceil(window / block_s)
    slot = np.minimum((times // (window / n)).astype(int), n - 1)
    for j in np.unique(slot):
        r, x = rows[slot == j], times[slot == j]
        assert x.max() - x.min() < window / n + 1e-9
        # consecutive rows mod len(t), times apart by the trace's gaps around the circle
        assert np.all((np.diff(r) % len(t)) == 1)
        assert np.allclose(np.diff(x), (t[r[1:]] - t[r[:-1]]) % window, atol=1e-6)
