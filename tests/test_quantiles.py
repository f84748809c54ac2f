"""The fixed-size latency record: the stated percentile bound, exact mean, order independence."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from capplan.engine.records import EXPIRED, OK, PENDING, REJECTED_429, REJECTED_503
from capplan.quantiles import ALPHA, BUCKETS, LOW, LogHistogram, within_sketch_bound
from capplan.tally import RequestTally

PS = (0, 1, 50, 90, 95, 99, 99.9, 100)

values = hnp.arrays(
    np.float64,
    st.integers(1, 400),
    elements=st.one_of(
        st.just(0.0),
        st.just(2.0),  # repeated exact values (deterministic service)
        st.floats(0, 1e-6),
        st.floats(1e-6, 1e6),
    ),
)


@settings(max_examples=150, deadline=None)
@given(x=values, cuts=st.lists(st.integers(0, 400), max_size=5))
def test_percentiles_within_the_stated_bound_in_any_chunking(
    x: np.ndarray, cuts: list[int]
) -> None:
    whole = LogHistogram()
    whole.add(x)
    exact = np.percentile(x, PS)
    estimate = whole.percentiles(PS)
    assert all(within_sketch_bound(e, q) for e, q in zip(estimate, exact, strict=True))
    assert whole.mean() == pytest.approx(float(np.mean(x)), rel=1e-12, abs=1e-300)
    # Chunks, shuffled, merged: the same histogram, bit for bit.
    parts = np.split(np.random.default_rng(len(cuts)).permutation(x), sorted(set(cuts)))
    merged = LogHistogram()
    for part in parts:
        h = LogHistogram()
        h.add(part)
        merged.merge(h)
    assert np.array_equal(merged.percentiles(PS), estimate)
    assert merged.mean() == pytest.approx(whole.mean(), rel=1e-12) and merged.n == x.size


def test_bound_is_tight_enough_to_matter_and_exact_values_stay_exact() -> None:
    rng = np.random.default_rng(5)
    x = rng.lognormal(0.0, 1.5, 200_000)
    h = LogHistogram()
    h.add(x)
    err = np.abs(h.percentiles(PS) - np.percentile(x, PS)) / np.percentile(x, PS)
    assert err.max() <= ALPHA and err.max() > 0  # the bound holds; this is an estimate
    same = LogHistogram()
    same.add(np.full(1000, 0.123456789))
    assert same.percentiles(PS).tolist() == [0.123456789] * len(PS)


def test_memory_is_fixed() -> None:
    h = LogHistogram()
    size = h.counts.nbytes + h.lo.nbytes + h.hi.nbytes
    h.add(np.random.default_rng(1).exponential(1.0, 1_000_000))
    assert h.counts.nbytes + h.lo.nbytes + h.hi.nbytes == size == 24 * BUCKETS
    assert size < 6_000_000


@pytest.mark.parametrize("bad", [[-1.0], [np.nan], [np.inf], [2e9]])
def test_refuses_values_outside_its_range(bad: list[float]) -> None:
    with pytest.raises(ValueError, match="finite"):
        LogHistogram().add(np.array(bad))


def test_empty_percentiles_are_nan() -> None:
    assert np.isnan(LogHistogram().percentiles([50])).all()
    assert np.isnan(LogHistogram().mean())


# ---------------------------------------------------------------- request tally
def _requests(rng: np.random.Generator, n: int, horizon: float) -> dict[str, np.ndarray]:
    arrival = np.sort(rng.uniform(0, horizon, n))
    status = rng.choice([OK, OK, OK, PENDING, REJECTED_429, REJECTED_503, EXPIRED], n)
    status = status.astype(np.int8)
    start = np.where(
        rng.random(n) < 0.9, arrival + rng.exponential(0.5, n) * (rng.random(n) < 0.3), np.nan
    )
    start = np.minimum(start, horizon)
    first_token = np.where(np.isnan(start), np.nan, start + rng.exponential(0.2, n))
    end = first_token + rng.exponential(1.0, n)
    end = np.where(status == OK, np.minimum(end, horizon), np.nan)
    first_token = np.where(first_token < horizon, first_token, np.nan)
    return {
        "arrival": arrival,
        "start": start,
        "first_token": first_token,
        "end": end,
        "status": status,
        "output_tokens": rng.integers(1, 50, n),
    }


def test_tally_in_chunks_equals_tally_at_once_and_numpy() -> None:
    rng = np.random.default_rng(11)
    horizon, warmup = 1000.0, 100.0
    req = _requests(rng, 20_000, horizon)
    whole = RequestTally(warmup, horizon, ttft=True)
    whole.add(**req)
    chunked = RequestTally(warmup, horizon, ttft=True)
    for lo in range(0, 20_000, 3_000):
        chunked.add(**{k: v[lo : lo + 3_000] for k, v in req.items()})
    a, b = whole.summary(), chunked.summary()
    assert a.keys() == b.keys()
    for key in a:  # identical but for the means, equal to rounding
        assert a[key] == (pytest.approx(b[key], rel=1e-12) if key.endswith("mean_s") else b[key])
    keep = req["arrival"] >= warmup
    arrival, status = req["arrival"][keep], req["status"][keep]
    assert a["requests"] == keep.sum() and a["in_flight_at_end"] == np.sum(status == PENDING)
    done = (status == OK) & ~np.isnan(req["end"][keep])
    open_ = status == PENDING
    latency = np.concatenate([(req["end"][keep] - arrival)[done], horizon - arrival[open_]])
    for p in (50, 90, 95, 99):
        assert within_sketch_bound(a[f"latency_p{p}_s"], np.percentile(latency, p))
    assert a["latency_mean_s"] == pytest.approx(latency.mean(), rel=1e-12)
    started = ~np.isnan(req["start"][keep])
    wait = np.concatenate(
        [(req["start"][keep] - arrival)[started], horizon - arrival[(status == PENDING) & ~started]]
    )
    assert a["p_wait"] == np.mean(wait > 1e-9)
    assert within_sketch_bound(a["wait_p99_s"], np.percentile(wait, 99))
    assert LOW < ALPHA  # the absolute slack is below any reported precision
