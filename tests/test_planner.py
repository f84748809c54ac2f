"""The planner: its recommendations hold up, move the right way, and explain failures.

Small scenarios (Poisson traffic, latency-kind service, 20-minute horizons,
one GPU type, short per_worker grids, 2 replications) keep each plan to about
a second in-process. Expectations come from queueing theory, from the SGP docs'
rule of thumb, or from properties every correct planner has (a tighter SLO
cannot be met for less money; more traffic needs no fewer workers; nothing
costs less than the proven lower bound).
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from helpers import NAME, REPO, make_template, scenario_dict
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from scipy import stats

from capplan.errors import CapplanError
from capplan.io import dumps
from capplan.planner import (
    Config,
    meets_slo,
    recommend,
    rule_of_thumb,
    smallest_passing,
)
from capplan.planner.verdict import confident
from capplan.scenario import Scenario, SloSpec, build_scenario
from capplan.simulate import simulate

A10 = "nvidia-ampere-a10"
LN100 = math.log(100)  # p99 of an exponential with mean 1
CONFIG_KEYS = ("gpu_type", "gpus", "min_workers", "max_workers", "per_worker")


def scenario(
    *,
    rate: float = 2.0,
    mean: float = 1.0,
    alpha: float = 0.1,
    slo: dict[str, float] | None = None,
    endpoint_type: str = "SYNC",
    horizon: float = 1200,
    grid: tuple[int, ...] = (1, 2, 4, 8),
    gpu_types: tuple[str, ...] = (A10,),
    seed: int = 1,
    workload: dict[str, Any] | None = None,
    service: dict[str, Any] | None = None,
    planner: dict[str, Any] | None = None,
    **template_kw: Any,
) -> Scenario:
    """One template on a Poisson stream with exponential work (mean `mean` at k = 1)."""
    template_kw = {"min_workers": 1, "max_workers": 4, "per_worker": 2, **template_kw}
    raw = scenario_dict(
        # The warm-up drops the artificial start (min_workers ready at t = 0, the HPA's
        # first decision 15 s in), which no steady-state bound describes.
        workload or {"kind": "poisson", "rate": rate, "horizon_s": horizon, "warmup_s": 60},
        {"kind": "latency", "distribution": "exponential", "mean_s": mean, "batching_alpha": alpha}
        | (service or {}),
        seed=seed,
    )
    raw["slo"] = slo if slo is not None else {"latency_p99_s": 6 * LN100 * mean}
    raw["planner"] = {
        "gpu_types": list(gpu_types),
        "per_worker": list(grid),
        "replications": 2,
    } | (planner or {})
    tpl = make_template(endpoint_type, **template_kw)
    return build_scenario(raw, base_dir=REPO, templates=(tpl,))


def plan(scen: Scenario, workers: int = 1) -> dict[str, Any]:
    docs = recommend(scen, workers=workers)
    assert len(docs) == 1 and docs[0].template == NAME
    return docs[0].model_dump()  # plain data: these tests read the planner's numbers


def config_of(doc: dict[str, Any]) -> Config:
    """The knobs of a configuration object in the document (no GPU: gpu_type "")."""
    return Config(**{k: doc[k] for k in CONFIG_KEYS} | {"gpu_type": doc["gpu_type"] or ""})


def recommended(doc: dict[str, Any]) -> dict[str, Any]:
    """The recommendation, checked against what every recommendation must satisfy."""
    rec = doc["recommended"]
    assert doc["feasible"] and rec is not None, doc.get("why")
    assert rec["meets_slo"]
    # No configuration of any GPU passing the SLO test costs less than the proven bound.
    assert doc["lower_bound_cost_per_hour"] <= rec["cost_per_hour"] * (1 + 1e-9)
    assert 0 <= rec["min_workers"] <= rec["max_workers"]
    return rec


# ---------------------------------------------------------------- the SLO holds on fresh seeds
@settings(
    max_examples=5,
    deadline=None,
    derandomize=True,  # fixed examples: the same plans and fresh seeds every run
    phases=(Phase.explicit, Phase.generate),  # shrinking a plan takes minutes
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    endpoint_type=st.sampled_from(["SYNC", "ASYNC"]),
    rate=st.floats(0.5, 6.0),
    mean=st.floats(0.3, 3.0),
    alpha=st.floats(0.0, 0.3),
    slack=st.floats(3.0, 10.0),
)
def test_recommendation_meets_its_slo_on_fresh_seeds(
    endpoint_type: str, rate: float, mean: float, alpha: float, slack: float
) -> None:
    """Re-simulated with another scenario seed and more replications, the recommended
    configuration still passes the planner's own test (CI upper end on target, errors
    within budget). The target is `slack` × the work's own p99, so it is feasible."""
    slo = {"latency_p99_s": slack * LN100 * mean, "max_error_rate": 0.01}
    scen = scenario(
        endpoint_type=endpoint_type, rate=rate, mean=mean, alpha=alpha, slo=slo, grid=(1, 4)
    )
    rec = recommended(plan(scen))
    fresh = simulate(
        scen,
        seed=scen.seed + 1000,
        replications=4,
        overrides=config_of(rec).overrides(),
    )[0]
    assert meets_slo(fresh.runs, scen.case(NAME).slo), (rec, fresh.summary)


def test_an_overloaded_pool_is_never_recommended() -> None:
    """ASYNC workers run per_worker = 4 tasks at once, so each completes at most
    4 / (s(4) × mean work) tasks/s. Below λ / that, the broker queue grows without bound:
    a 20-minute run can still look fine (tasks still queued at the end have no latency),
    but no longer run does. Found by the fresh-seed property test above."""
    rate, mean, alpha = 5.93, 2.46, 0.05
    scen = scenario(
        endpoint_type="ASYNC",
        rate=rate,
        mean=mean,
        alpha=alpha,
        slo={"latency_p99_s": 6 * LN100 * mean},
        grid=(4,),
    )
    rec = recommended(plan(scen))
    per_worker = 4 / ((1 + alpha * 3) * mean)
    assert rec["max_workers"] * per_worker > rate  # utilisation below 1
    assert rec["metrics"]["in_flight_at_end"] < 0.01 * rec["metrics"]["requests"]


# ---------------------------------------------------------------- monotone properties
LOADS = [  # (endpoint type, rate, mean work, alpha): a few workers at 1×
    ("SYNC", 4.0, 2.0, 0.2),
    ("SYNC", 6.0, 1.0, 0.3),
    ("ASYNC", 3.0, 2.0, 0.2),
]


@pytest.mark.parametrize(
    ("endpoint_type", "rate", "mean", "alpha"),
    LOADS,
)
def test_a_tighter_slo_never_costs_less(
    endpoint_type: str, rate: float, mean: float, alpha: float
) -> None:
    costs = []
    for slack in (12.0, 6.0, 3.0):  # loose → tight
        scen = scenario(
            endpoint_type=endpoint_type,
            rate=rate,
            mean=mean,
            alpha=alpha,
            slo={"latency_p99_s": slack * LN100 * mean},
        )
        costs.append(recommended(plan(scen))["cost_per_hour"])
    assert costs == sorted(costs), costs


@pytest.mark.parametrize(("endpoint_type", "rate", "mean", "alpha"), LOADS)
def test_more_traffic_never_gets_fewer_max_workers(
    endpoint_type: str, rate: float, mean: float, alpha: float
) -> None:
    kw = {"endpoint_type": endpoint_type, "mean": mean, "alpha": alpha}
    one = recommended(plan(scenario(rate=rate, **kw)))
    two = recommended(plan(scenario(rate=2 * rate, **kw)))
    assert two["max_workers"] >= one["max_workers"], (one, two)
    assert two["cost_per_hour"] >= one["cost_per_hour"]


# ---------------------------------------------------------------- infeasible, reported
def test_a_target_below_the_service_time_is_reported() -> None:
    """Every request takes 2 s alone on a worker: a 1 s p99 is out of reach."""
    scen = scenario(
        slo={"latency_p99_s": 1.0},
        service={"distribution": "deterministic", "mean_s": 2.0},
    )
    doc = plan(scen)
    assert doc["feasible"] is False and doc["recommended"] is None
    assert "service time" in doc["why"]
    best = doc["best_achievable"]
    # Nothing is faster than the work itself: at least twice the target.
    assert best is not None and best["violation"] >= 2.0 - 1e-9
    assert best["latency_p99_s"] >= 2.0 - 1e-9
    assert doc["fluid_estimate_cost_per_hour"] == math.inf
    assert doc["sensitivity"] == [] and doc["saving_per_month"] is None
    assert doc["search"]["screened_out"] == doc["search"]["candidates"] > 0


SCALE_FROM_ZERO = {
    # Launch KEDA: 0 → 1 on the first request, but no activator holds it; the gateway
    # retries for 10 s. A 600 s start-up after every idle gap (mean 500 s between
    # requests, longer than the 360 s it takes to scale to zero) loses most requests.
    # 8 hours: about 60 requests a replication, enough for the error budget's one-sided
    # Clopper-Pearson limit (0 errors in 60: 4.9 % at 95 %) to show a 10 % budget.
    "rate": 0.002,
    "horizon": 28800,
    "min_workers": 0,
    "max_workers": 2,
    "per_worker": 1,
    "grid": (1,),
    "cold_start": {"distribution": "deterministic", "value": 600.0},
}


def scale_from_zero(**kw: Any) -> Scenario:
    s = SCALE_FROM_ZERO
    return scenario(
        rate=s["rate"],
        horizon=s["horizon"],
        min_workers=s["min_workers"],
        max_workers=s["max_workers"],
        per_worker=s["per_worker"],
        grid=s["grid"],
        service={"cold_start": s["cold_start"], **kw.pop("service", {})},
        **kw,
    )


def test_scale_from_zero_with_long_cold_starts_keeps_a_warm_worker() -> None:
    doc = plan(scale_from_zero(slo={"latency_p99_s": 30.0, "max_error_rate": 0.1}))
    current = doc["current"]
    assert current["min_workers"] == 0 and not current["meets_slo"]
    assert current["metrics"]["rejected_503"] > 0
    assert current["metrics"]["error_rate"] > 0.1
    rec = recommended(doc)
    assert rec["min_workers"] >= 1 and rec["metrics"]["error_rate"] <= 0.1


def test_scale_from_zero_failure_blames_the_cold_start() -> None:
    """Nothing can meet the target (shorter than the work), and the closest configuration
    tried — the template's own, min_workers 0 — also loses requests to cold starts."""
    scen = scale_from_zero(
        slo={"latency_p99_s": 1.0},
        service={"distribution": "deterministic", "mean_s": 2.0},
    )
    doc = plan(scen)
    assert doc["feasible"] is False
    best = doc["best_achievable"]
    assert best["min_workers"] == 0 and best["error_rate"] > 0
    assert "service time" in doc["why"]
    assert "cold start" in doc["why"] and "retry budget" in doc["why"]


def test_errors_at_the_worker_cap_are_explained() -> None:
    """Pods that answer 429 above one request, 3 requests/s of 1 s work and at most 2
    workers: even the largest static pool turns requests away. The template scales from
    zero, but the closest configuration is the warm pool, so the cap is the reason."""
    scen = scale_from_zero(
        workload={"kind": "poisson", "rate": 3.0, "horizon_s": 1200},
        service={"concurrency_limit": 1},
        slo={"latency_p99_s": 30.0, "max_error_rate": 0.01},
        planner={"max_workers_cap": 2},
    )
    doc = plan(scen)
    assert doc["feasible"] is False
    assert "max_workers_cap" in doc["why"] and "cold start" not in doc["why"]
    best = doc["best_achievable"]
    assert (best["min_workers"], best["max_workers"]) == (2, 2)
    assert best["error_rate"] > 0.01 and best["violation"] > 1
    assert doc["current"]["metrics"]["rejected_503"] > 0


# ---------------------------------------------------------------- the rule of thumb
@pytest.mark.parametrize(
    ("rate", "mean", "max_workers"),
    [(2.0, 1.0, 4), (5.0, 3.0, 4), (0.1, 1.0, 8), (9.0, 2.5, 3)],
)
def test_rule_of_thumb_follows_the_sgp_docs(rate: float, mean: float, max_workers: int) -> None:
    """per_worker = ceil(peak concurrent requests / max_workers); by Little's law the peak
    concurrency of a constant rate with fixed work is rate × work. min/max as templated."""
    scen = scenario(
        rate=rate,
        service={"distribution": "deterministic", "mean_s": mean},
        min_workers=1,
        max_workers=max_workers,
        per_worker=7,
    )
    cfg = rule_of_thumb(scen.case(NAME))
    expected = max(1, math.ceil(rate * mean / max_workers))
    assert cfg == Config(A10, 1, 1, max_workers, expected)


def test_the_document_reports_the_rule_of_thumb_as_simulated() -> None:
    doc = plan(scenario(rate=5.0, service={"distribution": "deterministic", "mean_s": 3.0}))
    thumb = doc["rule_of_thumb"]
    assert config_of(thumb) == Config(A10, 1, 1, 4, math.ceil(5.0 * 3.0 / 4))
    assert thumb["metrics"]["replications"] == 2


# ---------------------------------------------------------------- determinism
def test_process_pool_gives_the_same_document() -> None:
    scen = scenario(rate=3.0, mean=1.0, alpha=0.2)
    inline, pooled = plan(scen, workers=1), plan(scen, workers=2)
    for doc in (inline, pooled):
        doc["search"].pop("seconds")
    assert dumps(inline) == dumps(pooled)


def test_unknown_template_is_a_clear_error() -> None:
    with pytest.raises(CapplanError, match="no template named 'nope'"):
        recommend(scenario(), "nope", workers=1)


# ---------------------------------------------------------------- building blocks
@settings(max_examples=200)
@given(
    lo=st.integers(0, 5),
    width=st.integers(0, 60),
    threshold=st.integers(0, 80),
    guess=st.integers(-5, 90),
)
def test_smallest_passing_finds_the_threshold(
    lo: int, width: int, threshold: int, guess: int
) -> None:
    hi = lo + width
    asked: list[int] = []

    def passes(n: int) -> bool:
        asked.append(n)
        return n >= threshold

    found = smallest_passing(passes, lo, hi, guess)
    assert found == (max(lo, threshold) if threshold <= hi else None)
    assert all(lo <= n <= hi for n in asked)
    # Growth by 1.5× from the guess, then bisection: logarithmic, not a scan.
    steps = math.log(width + 2)
    assert len(asked) <= math.ceil(steps / math.log(1.5)) + math.ceil(steps / math.log(2)) + 3


def runs_with(p99s: list[float], rejected: int = 0) -> list[dict[str, float]]:
    base = {"rejected": 0, "expired": 0, "requests": 1000, "in_flight_at_end": 0}
    out = [{**base, "latency_p99_s": v} for v in p99s]
    out[0]["rejected"] = rejected
    return out


def test_meets_slo_uses_a_one_sided_upper_limit() -> None:
    """Two replications at 8 and 9 s: the one-sided 95 % Student-t limit (1 degree of
    freedom) is 8.5 + t(0.95, 1) s / sqrt 2; the test passes just above it, not below."""
    vals = [8.0, 9.0]
    upper = 8.5 + stats.t.ppf(0.95, 1) * stats.tstd(vals) / math.sqrt(2)
    assert not meets_slo(runs_with(vals), SloSpec(latency_p99_s=upper - 1e-6))
    assert meets_slo(runs_with(vals), SloSpec(latency_p99_s=upper + 1e-6))
    # One-sided, so narrower than the two-sided interval's upper end.
    assert upper < 8.5 + stats.t.ppf(0.975, 1) * stats.tstd(vals) / math.sqrt(2)


def test_identical_replications_are_not_called_confident() -> None:
    """An exact replay gives identical replications: no interval, so the value is tested
    as it is and the verdict says it is not confident."""
    runs = runs_with([5.0, 5.0, 5.0])
    slo = SloSpec(latency_p99_s=6.0)
    assert meets_slo(runs, slo)
    assert not confident(runs, slo)
    assert confident(runs_with([5.0, 5.5]), slo)


def test_meets_slo_bounds_the_pooled_error_rate() -> None:
    """20 errors in 2000 pooled requests is 1 %, but the one-sided 95 % Clopper-Pearson
    limit is above 1 %: it passes only once the limit is within budget."""
    slo = SloSpec(latency_p99_s=100.0, max_error_rate=0.01)
    limit = stats.beta.ppf(0.95, 21, 1980)
    assert limit > 0.01
    assert not meets_slo(runs_with([1.0, 1.0], rejected=20), slo)
    assert meets_slo(
        runs_with([1.0, 1.0], rejected=20),
        SloSpec(latency_p99_s=100.0, max_error_rate=limit + 1e-9),
    )
    # A budget of 0 allows no error at all.
    assert meets_slo(runs_with([1.0, 1.0]), SloSpec(latency_p99_s=100.0, max_error_rate=0.0))
    assert not meets_slo(
        runs_with([1.0, 1.0], rejected=1), SloSpec(latency_p99_s=100.0, max_error_rate=0.0)
    )


# ---------------------------------------------------------------- availability
@pytest.mark.parametrize(
    ("endpoint_type", "floor", "expected"),
    [("SYNC", None, 2), ("STREAMING", None, 2), ("ASYNC", None, 0), ("SYNC", 1, 1)],
)
def test_min_workers_floor(endpoint_type: str, floor: int | None, expected: int) -> None:
    """Light traffic one worker could carry: a SYNC or STREAMING recommendation keeps two
    warm workers (one pod restart leaves one serving) unless the floor says otherwise."""
    planner = {} if floor is None else {"min_workers_floor": floor}
    doc = plan(scenario(endpoint_type=endpoint_type, rate=0.3, grid=(2,), planner=planner))
    rec = recommended(doc)
    assert doc["search"]["min_workers_floor"] == expected
    assert rec["min_workers"] >= expected
    if endpoint_type == "SYNC":
        assert rec["min_workers"] == expected  # the floor binds: one worker carries 0.3/s


# ---------------------------------------------------------------- the current configuration
def test_the_current_configuration_is_the_pick_when_it_is_the_cheapest_confirmed() -> None:
    """One ASYNC worker running 8 tasks at once (batching: about 4.7 tasks/s) carries
    2 tasks/s; the grid searched only per_worker 1, where it takes at least three
    workers. The current configuration met the SLO on the same confirming runs, so it is
    the recommendation, and nothing is said against it."""
    scen = scenario(
        endpoint_type="ASYNC", rate=2.0, grid=(1,), min_workers=1, max_workers=1, per_worker=8
    )
    doc = plan(scen)
    rec = recommended(doc)
    assert doc["current"]["meets_slo"]
    assert config_of(rec) == config_of(doc["current"])
    assert rec["cost_per_hour"] == doc["current"]["cost_per_hour"]
    assert doc["saving_per_month"] == 0 and doc["current_not_recommended"] is None
    # What the search found alone costs more: every explored pass has per_worker 1.
    passes = [p for p in doc["explored"] if p["per_worker"] == 1]
    assert passes and all(p["max_workers"] >= 2 for p in passes)


def test_a_cheaper_current_configuration_below_the_floor_is_explained() -> None:
    """One warm SYNC worker carries 0.3 requests/s within the SLO, but the planner keeps
    two (the default floor for SYNC): the recommendation costs more than the current
    configuration, and the document and the verdict say why."""
    from capplan.report.verdict import verdict

    scen = scenario(rate=0.3, grid=(2,), min_workers=1, max_workers=1, per_worker=2)
    docs = recommend(scen, workers=1)
    doc = docs[0].model_dump()
    rec = recommended(doc)
    assert doc["current"]["meets_slo"]
    assert rec["min_workers"] >= 2 > doc["current"]["min_workers"]
    assert rec["cost_per_hour"] > doc["current"]["cost_per_hour"]
    assert "min_workers_floor" in doc["current_not_recommended"]
    assert "min_workers_floor" in verdict(docs[0])


@given(
    docs=st.lists(
        st.tuples(
            st.sampled_from([A10, "nvidia-tesla-t4"]),
            st.integers(0, 3),
            st.integers(0, 3),
            st.floats(0.5, 5.0),
            st.booleans(),
        ),
        min_size=3,
        max_size=3,
    ),
    searched=st.booleans(),
)
def test_the_pick_is_the_cheapest_confirmed_within_the_limits(
    docs: list[tuple[str, int, int, float, bool]], searched: bool
) -> None:
    """Among the search's pick (when there is one), the current configuration and the
    rule of thumb: the cheapest that met the SLO inside the limits (A10 only, min_workers
    >= 1, max_workers <= 4); a note exactly when the current one met the SLO for less
    (or alone) outside them."""
    from capplan.planner.config import preference
    from capplan.planner.evidence import cheapest_confirmed

    found, current, thumb = (
        {"gpu_type": g, "gpus": 1, "min_workers": m, "max_workers": m + extra,
         "per_worker": 1, "cost_per_hour": cost, "meets_slo": ok}
        for g, m, extra, cost, ok in docs
    )  # fmt: skip
    found["meets_slo"] = True  # the search's pick met the SLO when it was confirmed
    allowed = ({(A10, 1)}, 1, 4)

    def inside(d: dict[str, Any]) -> bool:
        return d["gpu_type"] == A10 and d["min_workers"] >= 1 and d["max_workers"] <= 4

    def key(d: dict[str, Any]) -> tuple:  # cheapest first; at a tie, more warm workers
        return preference(d["cost_per_hour"], config_of(d))

    pick, note = cheapest_confirmed(found if searched else None, current, thumb, allowed)
    pool = [d for d in (current, thumb) if d["meets_slo"] and inside(d)]
    pool += [found] if searched else []
    if not pool:
        assert pick is None
    else:
        assert pick is not None and key(pick) == min(key(d) for d in pool)

    below = pick is None or key(current) < key(pick)
    assert (note is not None) == (current["meets_slo"] and not inside(current) and below)
