"""Sensitivity: the recommendation under more traffic is judged by the verdict's own test,
and what it "needs" is always strictly more capacity than the recommendation."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_planner import A10, LN100, NAME, plan, recommended, scenario

from capplan.planner import Config, run_config
from capplan.planner.config import confirm_replications
from capplan.planner.sensitivity import capacity_ladder, workers_needed
from capplan.planner.verdict import passes_slo


def more_capacity(big: Config, small: Config) -> bool:
    """big has at least small's warm and maximum workers, and more of one of them."""
    return (
        big.min_workers >= small.min_workers
        and big.max_workers >= small.max_workers
        and (big.min_workers, big.max_workers) != (small.min_workers, small.max_workers)
    )


@settings(max_examples=200)
@given(lo=st.integers(0, 30), extra=st.integers(0, 30), cap_extra=st.integers(0, 40))
def test_every_rung_of_the_ladder_is_strictly_more_capacity(
    lo: int, extra: int, cap_extra: int
) -> None:
    cfg = Config(A10, 1, lo, lo + extra, 4)
    cap = cfg.max_workers + cap_extra
    sections = capacity_ladder(cfg, cap)
    rungs = [c for s in sections for c in s]
    assert all(more_capacity(c, cfg) and c.max_workers <= cap for c in rungs)
    assert all(c.min_workers <= c.max_workers for c in rungs)
    assert len(set(rungs)) == len(rungs)
    # within a section each rung is strictly more than the one before: a monotone search
    for s in sections:
        assert all(more_capacity(b, a) for a, b in zip(s, s[1:], strict=False))
    # only a static pool already at the cap has nowhere to grow
    assert rungs or cfg.min_workers == cfg.max_workers == cap


def test_workers_needed_passes_the_verdicts_test_and_is_more() -> None:
    """At 2× traffic, a static pool of 2 falls short; what it needs passes the verdict's
    test on replications 1..R (recomputed here) and is a larger static pool."""
    scen = scenario(rate=4.0, mean=2.0, alpha=0.2, slo={"latency_p99_s": 4 * LN100 * 2.0})
    case = scen.case(NAME)
    start = Config(A10, 1, 2, 2, 4)
    needed = workers_needed(case, start, 2.0, cap=50, reps=2)
    assert needed.config is not None and more_capacity(needed.config, start)
    assert needed.config.min_workers == needed.config.max_workers
    runs = [run_config(case, needed.config, r, 2.0) for r in confirm_replications(2)]
    assert passes_slo(case, needed.config, runs, 2.0)
    assert list(needed.runs) == runs
    assert needed.simulations >= len(runs)


def test_nothing_up_to_the_cap_is_reported_as_none() -> None:
    scen = scenario(rate=4.0, mean=2.0, alpha=0.2, slo={"latency_p99_s": 4 * LN100 * 2.0})
    needed = workers_needed(scen.case(NAME), Config(A10, 1, 1, 1, 4), 4.0, cap=2, reps=2)
    assert needed.config is None and needed.runs == ()


@pytest.fixture(scope="module")
def stressed() -> tuple:
    scen = scenario(rate=4.0, mean=2.0, alpha=0.2)
    return scen, plan(scen)


def test_sensitivity_needs_exceed_the_recommendation(stressed: tuple) -> None:
    scen, doc = stressed
    case = scen.case(NAME)
    rec = recommended(doc)
    rec_cfg = Config(A10, rec["gpus"], rec["min_workers"], rec["max_workers"], rec["per_worker"])
    assert [e["traffic"] for e in doc["sensitivity"]] == [1.5, 2.0]
    missed = [e for e in doc["sensitivity"] if not e["meets_slo"]]
    assert missed, "the scenario is sized so more traffic breaks the recommendation"
    for entry in doc["sensitivity"]:
        # exactly the verdict's test: same replications, same confidence
        runs = [run_config(case, rec_cfg, r, entry["traffic"]) for r in confirm_replications(2)]
        assert entry["meets_slo"] == passes_slo(case, rec_cfg, runs, entry["traffic"])
    for entry in missed:
        need = entry["needs"]
        assert need is not None and need["meets_slo"]
        need_cfg = rec_cfg.with_workers(need["min_workers"], need["max_workers"])
        assert need_cfg != rec_cfg and more_capacity(need_cfg, rec_cfg)
        assert need["per_worker"] == rec["per_worker"] and need["gpu_type"] == rec["gpu_type"]
        assert need["cost_per_hour"] > 0
        assert f"min_workers {need['min_workers']}" in entry["note"]


def test_sensitivity_factors_come_from_the_planner_table() -> None:
    doc = plan(scenario(rate=1.0, planner={"sensitivity": [3.0, 1.2]}))
    assert [e["traffic"] for e in doc["sensitivity"]] == [1.2, 3.0]
    assert plan(scenario(rate=1.0, planner={"sensitivity": []}))["sensitivity"] == []
