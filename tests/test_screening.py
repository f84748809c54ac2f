"""Multi-fidelity search: the busiest windows, spans runs, and screening's pick.

The planner explores on the busiest windows of a long horizon and confirms on
the whole of it (`capplan/planner/screening.py`). These tests check the
pieces — the windows are the busiest, a spans run serves exactly the full
run's requests, its percentiles bound the full run's from below — and the
promise: on generated scenarios (one or two hours of piecewise traffic with one
busy window), the pick with screening is the pick without it, or one that costs
no more and meets the SLO on the whole horizon; the rule that keeps it when
the cost estimate swaps two passes (near ties confirmed together); and the
fallback when the search stopped on an estimate below what it skipped.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from helpers import REPO, make_template, scenario_dict, write_piecewise
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from capplan.errors import CapplanError
from capplan.planner import document, recommend, search
from capplan.planner.bound import Candidate
from capplan.planner.config import Config, config_of, run_config
from capplan.planner.confirmation import confirm
from capplan.planner.screening import (
    busiest_windows,
    fallback_reason,
    near_ties,
    screening_for,
)
from capplan.planner.search import Search, autoscaled_search, kept
from capplan.quantiles import ALPHA
from capplan.scenario import Scenario, build_scenario
from capplan.simulate import run_replication
from capplan.sweep import Runner
from capplan.workload import minute_bins
from capplan.workload.spans import plan_spans

A10 = "nvidia-ampere-a10"
LN100 = math.log(100)


def piecewise_scenario(
    path: Path,
    *,
    base: float = 1.0,
    peak: float = 5.0,
    at: float = 3600.0,
    duration: float = 1200.0,
    horizon: float = 7200.0,
    mean: float = 1.0,
    alpha: float = 0.3,
    slack: float = 4.0,
    endpoint_type: str = "SYNC",
    seed: int = 1,
    workload: dict[str, Any] | None = None,
    planner: dict[str, Any] | None = None,
    **template_kw: Any,
) -> Scenario:
    """Base traffic with one busy window [at, at + duration), exponential work."""
    write_piecewise(path, [(0, base), (at, peak), (at + duration, base)])
    raw = scenario_dict(
        {"kind": "piecewise", "path": str(path), "horizon_s": horizon, "warmup_s": 60}
        | (workload or {}),
        {"kind": "latency", "distribution": "exponential", "mean_s": mean, "batching_alpha": alpha},
        seed=seed,
    )
    raw["slo"] = {"latency_p99_s": slack * LN100 * mean}
    raw["planner"] = {
        "gpu_types": [A10],
        "per_worker": [1, 2, 4],
        "replications": 2,
        "min_workers_floor": 1,
        "screen_window_s": duration,
        "screen_windows": 1,
        "screen_warmup_s": 600,
    } | (planner or {})
    template_kw = {"min_workers": 1, "max_workers": 4, "per_worker": 2, **template_kw}
    tpl = make_template(endpoint_type, **template_kw)
    return build_scenario(raw, base_dir=REPO, templates=(tpl,))


# ---------------------------------------------------------------- the windows
@settings(max_examples=25, deadline=None)
@given(
    base=st.floats(0.0, 10.0),
    swing=st.floats(0.0, 30.0),
    peak_at=st.floats(0.0, 86400.0),
    length_min=st.integers(1, 240),
    count=st.integers(1, 6),
)
def test_the_windows_are_the_busiest_and_disjoint(
    base: float, swing: float, peak_at: float, length_min: int, count: int
) -> None:
    workload = {
        "kind": "diurnal",
        "base_rate": base,
        "peak_rate": base + swing + 0.1,
        "peak_at_s": peak_at,
        "horizon_s": 2 * 86400,
        "warmup_s": 1800,
    }
    case = build_scenario(
        scenario_dict(workload), base_dir=REPO, templates=(make_template(),)
    ).cases()[0]
    windows = busiest_windows(case, length_min * 60.0, count)
    assert 1 <= len(windows) <= count
    edges, rates = minute_bins(case.workload)
    cum = np.concatenate(([0.0], np.cumsum(rates * np.diff(edges))))

    def expected(a: float, b: float) -> float:
        return float(np.interp(b, edges, cum) - np.interp(a, edges, cum))

    starts = edges[(edges >= 1800) & (edges + length_min * 60 <= edges[-1])]
    best = max(expected(s, s + length_min * 60) for s in starts)
    assert max(expected(a, b) for a, b in windows) >= best * (1 - 1e-9)
    for (a, b), nxt in zip(windows, windows[1:] + [(math.inf, math.inf)], strict=True):
        assert 1800 <= a < b <= edges[-1] and b <= nxt[0]
        assert b - a == pytest.approx(length_min * 60)


def test_screening_is_automatic_only_on_long_horizons(tmp_path: Path) -> None:
    path = tmp_path / "rate.csv"
    day = piecewise_scenario(path, horizon=86400).cases()[0]
    week = piecewise_scenario(path, horizon=7 * 86400).cases()[0]
    planner = piecewise_scenario(path).planner
    assert screening_for(day, planner) is None
    screen = screening_for(week, planner)
    assert screen is not None and screen.windows == ((3600.0, 4800.0),)
    off = planner.model_copy(update={"screening": "off"})
    assert screening_for(week, off) is None
    on = planner.model_copy(update={"screening": "on"})
    assert screening_for(day, on) is not None


# ---------------------------------------------------------------- spans runs
def test_a_spans_run_serves_the_full_runs_requests(tmp_path: Path) -> None:
    scen = piecewise_scenario(tmp_path / "rate.csv", min_workers=3, max_workers=3)
    case = scen.cases()[0]
    spans = [(1800.0, 2400.0), (3600.0, 4800.0)]
    spanned = case.__class__(
        **{
            **case.__dict__,
            "workload": case.workload.model_copy(
                update={"spans": tuple(spans), "span_warmup_s": 600.0}
            ),
        }
    )
    _, full = run_replication(case, 0)
    summary, part = run_replication(spanned, 0)
    plan = plan_spans(spanned.workload)
    back = np.concatenate(
        [
            part.arrival[(part.arrival >= o) & (part.arrival < o + b - s)] - o + s
            for s, b, o in zip(plan.starts, plan.ends, plan.offsets, strict=True)
        ]
    )
    inside = np.zeros(len(full.arrival), dtype=bool)
    for s, b in zip(plan.starts, plan.ends, strict=True):
        inside |= (full.arrival >= s) & (full.arrival < b)
    np.testing.assert_allclose(back, full.arrival[inside], rtol=0, atol=1e-9)
    counted = sum(np.count_nonzero((full.arrival >= a) & (full.arrival < b)) for a, b in spans)
    assert summary["requests"] == counted
    assert summary["tail_ratio"] == pytest.approx(np.count_nonzero(full.arrival >= 60) / counted)


@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    seed=st.integers(0, 1000),
    peak=st.floats(2.0, 3.5),
    at_min=st.integers(30, 80),
)
def test_spans_percentiles_bound_the_full_runs_from_below(
    tmp_path: Path, seed: int, peak: float, at_min: int
) -> None:
    """A static pool (no autoscaler state to carry): the spans' horizon-level
    percentiles are at most the full run's (module docstring of workload.spans)."""
    scen = piecewise_scenario(
        tmp_path / "rate.csv",
        peak=peak,
        at=at_min * 60.0,
        seed=seed,
        min_workers=3,
        max_workers=3,
        per_worker=1,
        alpha=1.0,
    )
    case = scen.cases()[0]
    window = busiest_windows(case, 1200, 1)
    spanned = case.__class__(
        **{
            **case.__dict__,
            "workload": case.workload.model_copy(
                update={"spans": tuple(window), "span_warmup_s": 600.0}
            ),
        }
    )
    full, _ = run_replication(case, 0, records=False)
    screened, _ = run_replication(spanned, 0, records=False)
    assert screened["tail_ratio"] > 1
    for key in ("latency_p90_s", "latency_p95_s", "latency_p99_s", "wait_p99_s"):
        assert screened[key] <= full[key] * (1 + 2 * ALPHA) + 1e-9, key
    assert screened["rejected"] + screened["expired"] <= full["rejected"] + full["expired"]


def test_bad_spans_name_the_field(tmp_path: Path) -> None:
    path = tmp_path / "rate.csv"
    for spans, words in [
        ([[3000, 2000]], "must be < end"),
        ([[1000, 3000], [2000, 4000]], "sorted, disjoint"),
        ([[1000, 9000]], "after the horizon"),
        ([], "at least one"),
    ]:
        with pytest.raises(CapplanError, match=rf"workload\.spans.*{words}"):
            piecewise_scenario(path, workload={"spans": spans})
    with pytest.raises(CapplanError, match=r"planner\.screen_windows"):
        piecewise_scenario(path, planner={"screen_windows": 0})
    with pytest.raises(CapplanError, match=r"planner\.screening"):
        piecewise_scenario(path, planner={"screening": "sometimes"})


# ---------------------------------------------------------------- screening's pick
def _generated(
    n: int, seed: int = 20261130, latest: int = 35, types: tuple[str, ...] = ("SYNC", "ASYNC")
) -> list[dict[str, Any]]:
    """Small scenarios: base traffic with one busy window starting by minute `latest`."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        out.append(
            {
                "seed": i,
                "base": float(rng.uniform(0.5, 2.0)),
                "peak": float(rng.uniform(3.0, 8.0)),
                "at": float(rng.integers(10, latest)) * 60,
                "duration": float(rng.integers(8, 20)) * 60,
                "mean": float(rng.uniform(0.3, 1.2)),
                "alpha": float(rng.uniform(0.2, 0.8)),
                "slack": float(rng.uniform(2.0, 6.0)),
                "endpoint_type": types[i % len(types)],
            }
        )
    return out


def _two_hours(n: int) -> list[dict[str, Any]]:
    """Two hours of SYNC traffic with one busy window, three per_worker values."""
    extra = {"horizon": 7200.0, "per_worker": [1, 2, 4]}
    return [p | extra for p in _generated(n, seed=7, latest=60, types=("SYNC",))]


# One hour, per_worker 1 or 4; and the two of the first 14 two-hour scenarios where,
# before near ties were confirmed together, the screened pick was dearer: entry 13
# (7 % dearer) and entry 9 (nothing confirmed). The other 12 agreed;
# they stay out to keep the file fast.
CASES = [p | {"horizon": 3600.0, "per_worker": [1, 4]} for p in _generated(4)] + [
    _two_hours(14)[i] for i in (9, 13)
]
# Two hours of ASYNC traffic, the default per_worker grid: the screened search stopped
# short on passes the whole horizon failed (12 % and 36 % dearer before the fallback).
CASES += [_generated(8)[i] | {"horizon": 7200.0, "per_worker": None} for i in (1, 5)]


@pytest.mark.parametrize("params", CASES, ids=lambda p: f"{p['horizon']:g}s-seed{p['seed']}")
def test_screening_never_discards_the_full_simulations_pick(
    tmp_path: Path, params: dict[str, Any]
) -> None:
    params = dict(params)
    grid = params.pop("per_worker")
    docs = {}
    for mode in ("off", "on"):
        planner = {"screening": mode, "screen_warmup_s": 300}
        if grid is not None:
            planner["per_worker"] = grid
        # No stress test: the pick does not depend on it.
        planner["sensitivity"] = []
        scen = piecewise_scenario(tmp_path / f"{mode}.csv", planner=planner, **params)
        docs[mode] = recommend(scen, workers=1)[0]
    assert docs["off"].screening is None and docs["on"].screening is not None
    full, screened = docs["off"].recommended, docs["on"].recommended
    assert full is not None, docs["off"].why
    assert screened is not None, docs["on"].why
    keys = ("gpu_type", "gpus", "min_workers", "max_workers", "per_worker")
    picks = {m: [getattr(d.recommended, k) for k in keys] for m, d in docs.items()}
    if docs["on"].screening.fell_back:  # the whole-horizon search again: exactly its pick
        assert picks["on"] == picks["off"]
        assert docs["on"].screening.full_simulations_saved < 0
    if picks["off"] != picks["on"]:
        # Another pick is allowed only if it is no dearer and met the SLO when it was
        # confirmed on the whole horizon with fresh replications.
        assert screened.cost_per_hour <= full.cost_per_hour * (1 + 1e-9), picks
        assert screened.meets_slo, picks


# ---------------------------------------------------------------- near ties
def test_near_ties_are_confirmed_when_the_estimate_swapped_them(tmp_path: Path) -> None:
    """Two passes whose estimated costs are in the wrong order: the rounds confirm
    the one estimated cheaper and stop (the other's estimate is above its confirmed
    cost), but the other's lower bound is below it, so it is confirmed too and,
    really cheaper, picked. Static pools: their confirmed cost is exactly n × price."""
    scen = piecewise_scenario(tmp_path / "rate.csv", base=0.3, peak=0.6, slack=20.0)
    case = scen.cases()[0]
    screen = screening_for(case, scen.planner.model_copy(update={"screening": "on"}))
    assert screen is not None
    dear, cheap = Config(A10, 1, 3, 3, 1), Config(A10, 1, 2, 2, 1)
    price = run_config(case, dear, 1)["cost_per_hour"] / 3
    # The estimate swapped them; the lower bound did not.
    estimates = {dear: (1.0 * price, 1.0 * price), cheap: (3.5 * price, 1.9 * price)}
    search = Search(
        explored=[
            (c, {"cost_per_hour": est, "cost_lower_per_hour": low})
            for c, (est, low) in estimates.items()
        ]
    )
    finals = [(c, est) for c, (est, _) in estimates.items()]
    for explore_case, pick in [(case, dear), (screen.case, cheap)]:
        best, confirmed, _ = confirm(
            case, finals, 2, 8, Runner.inline(), search, explore_case=explore_case, confirm_top=1
        )
        assert best is not None and config_of(best) == pick
        # Unscreened, the estimate is replication 0's cost and the rounds stop as before.
        assert len(confirmed) == (1 if explore_case is case else 2)
    assert best["cost_per_hour"] == pytest.approx(2 * price)


@given(
    lows=st.lists(st.floats(0.0, 10.0), min_size=0, max_size=8),
    best=st.floats(0.0, 10.0) | st.just(math.inf),
)
def test_near_ties_take_exactly_the_passes_below_the_best(lows: list[float], best: float) -> None:
    cfgs = [Config(A10, 1, i, i + 1, 1) for i in range(len(lows))]
    lower = dict(zip(cfgs, lows, strict=True))
    todo = {A10: [(c, 2.0) for c in cfgs[::2]], "t4": [(c, 2.0) for c in cfgs[1::2]]}
    taken = near_ties(todo, lower, best)
    left = [c for items in todo.values() for c, _ in items]
    assert sorted(taken + left) == sorted(cfgs)
    assert all(lower[c] < best for c in taken) and all(lower[c] >= best for c in left)


# ---------------------------------------------------------------- stops on an estimate
def _low_estimates(monkeypatch: pytest.MonkeyPatch, factor: float) -> None:
    """Screening runs (spans) estimate their whole-horizon cost at `factor` × the truth."""
    real = search.run_config

    def low(case: Any, cfg: Config, replication: int) -> dict:
        summary = real(case, cfg, replication)
        if case.workload.spans:
            summary = summary | {"cost_per_hour": summary["cost_per_hour"] * factor}
        return summary

    monkeypatch.setattr(search, "run_config", low)


def test_a_search_stopped_on_a_low_estimate_falls_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Estimates at half the truth stop the screened staircases early: on this
    generated two-hour scenario, without the check on what the stops skipped, the
    screened pick is dearer than full simulation's; with it, the planner sees a skipped
    bound below the pick's cost, searches again, and picks exactly full simulation's."""
    params = dict(_two_hours(8)[7])
    grid = params.pop("per_worker")
    keys = ("gpu_type", "gpus", "min_workers", "max_workers", "per_worker")

    def pick(mode: str) -> tuple[list[Any], Any]:
        planner = {"screening": mode, "screen_warmup_s": 300, "sensitivity": [], "per_worker": grid}
        scen = piecewise_scenario(tmp_path / f"{mode}.csv", planner=planner, **params)
        doc = recommend(scen, workers=1)[0]
        assert doc.recommended is not None, doc.why
        return [getattr(doc.recommended, k) for k in keys], doc

    full, _ = pick("off")
    _low_estimates(monkeypatch, 0.5)
    checked, doc = pick("on")
    assert doc.screening.fell_back and "stopped on an estimated cost" in doc.screening.note
    assert checked == full
    # The witness: the same screened search, its stops unchecked, picks dearer.
    unchecked = document.fallback_reason
    monkeypatch.setattr(document, "fallback_reason", lambda r, skipped, b: unchecked(r, [], b))
    blind, blind_doc = pick("on")
    assert not blind_doc.screening.fell_back
    assert blind != full and blind_doc.recommended.cost_per_hour > doc.recommended.cost_per_hour


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    floor=st.integers(0, 2),
    best_workers=st.floats(0.0, 6.0),
)
def test_a_stopped_staircase_bounds_every_pool_it_skipped(
    tmp_path_factory: pytest.TempPathFactory, floor: int, best_workers: float
) -> None:
    """Whatever the cheapest pass so far (`best`), the staircase explores no pool with
    min_workers at or above where it stopped, and every such pool bills at least the
    bound it recorded (sampled: the smallest and the largest max_workers)."""
    path = tmp_path_factory.mktemp("stair") / "rate.csv"
    scen = piecewise_scenario(path, horizon=1800.0, at=600.0, duration=600.0, peak=4.0)
    case = scen.cases()[0]
    base, cap, static_m = Config(A10, 1, 0, 0, 2), 6, 5
    price = run_config(case, base.with_workers(1, 1), 1)["cost_per_hour"]
    explored = autoscaled_search(
        case, base, (static_m, static_m * price), cap, floor, price, best_workers * price
    )
    mins = {c.min_workers for c, _ in explored.evaluations}
    if explored.stopped_at is None:
        assert not mins or max(mins) < static_m
        return
    stop = round(explored.stopped_at / price)
    assert explored.stopped_at == pytest.approx(stop * price)
    assert floor <= stop < static_m and all(m < stop for m in mins)
    for x in sorted({stop + 1, cap}):
        cost = run_config(case, base.with_workers(stop, x), 1)["cost_per_hour"]
        assert cost >= explored.stopped_at * (1 - 1e-9)


@given(
    bounds=st.lists(st.floats(0.0, 10.0) | st.none(), min_size=0, max_size=8),
    best=st.floats(0.0, 10.0) | st.just(math.inf),
)
def test_a_pruned_candidate_leaves_its_bound(
    tmp_path_factory: pytest.TempPathFactory, bounds: list[float | None], best: float
) -> None:
    """`kept` drops exactly the candidates whose proven bound reaches the best (never
    the template's own GPU type), and records each dropped bound."""
    path = tmp_path_factory.mktemp("kept") / "rate.csv"
    case = piecewise_scenario(path).cases()[0]
    gpus = [A10, "nvidia-tesla-t4"]
    cands = [
        Candidate(Config(gpus[i % 2], 1, 0, 0, 1 + i), None, 1.0, b)  # type: ignore[arg-type]
        for i, b in enumerate(bounds)
    ]
    found = Search()
    left = kept(case, [(i, c) for i, c in enumerate(cands)], best, found)
    dropped = [c for i, c in enumerate(cands) if i not in {k for k, _ in left}]
    assert all(c.base.gpu_type != A10 and c.bound >= best for c in dropped)  # type: ignore[operator]
    assert all(c.base.gpu_type == A10 or c.bound is None or c.bound < best for _, c in left)
    assert sorted(found.skipped) == sorted(c.bound for c in dropped)  # type: ignore[type-var]


@given(
    refuted=st.integers(0, 3),
    skipped=st.lists(st.floats(0.0, 10.0), max_size=6),
    best=st.floats(0.0, 10.0) | st.just(math.inf),
)
def test_the_fallback_is_taken_exactly_when_the_argument_needs_it(
    refuted: int, skipped: list[float], best: float
) -> None:
    why = fallback_reason(refuted, skipped, best)
    assert (why is not None) == (refuted > 0 or any(b < best for b in skipped))
