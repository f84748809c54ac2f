"""The planner's search finds what an exhaustive search of the grid finds.

Small generated scenarios (Poisson and MMPP traffic, SYNC and ASYNC, 15-minute
horizons, one GPU type, two per_worker values, 2 replications): the planner's
recommendation costs at most 2 % more than the cheapest (min, max, per_worker)
of the whole grid that passes the same rule (the SLO test on replication 0,
then on replications 1 and 2: `capplan.planner.exhaustive`).
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from helpers import NAME, REPO, make_template, scenario_dict
from hypothesis import given, settings
from hypothesis import strategies as st

from capplan.cli import main
from capplan.planner import recommend
from capplan.planner.bound import gpu_options
from capplan.planner.config import Config, workers_floor
from capplan.planner.confirmation import neighbours
from capplan.planner.exhaustive import grid_configs, grid_optimum
from capplan.planner.search import smallest_passing_from
from capplan.scenario import Scenario, build_scenario
from capplan.sweep import InlineExecutor, Runner

A10 = "nvidia-ampere-a10"
LN100 = math.log(100)
GRID = (1, 4)


def scenario(
    endpoint_type: str,
    workload: dict[str, Any],
    mean: float,
    slack: float,
    *,
    floor: int | None = None,
    faults: dict[str, Any] | None = None,
    horizon: float = 900.0,
) -> Scenario:
    raw = scenario_dict(
        workload | {"horizon_s": horizon, "warmup_s": 60},
        {
            "kind": "latency",
            "distribution": "exponential",
            "mean_s": mean,
            "batching_alpha": 0.2,
            "cold_start": {"distribution": "deterministic", "value": 60.0},
        },
        faults=faults,
    )
    raw["slo"] = {"latency_p95_s": slack * LN100 * mean, "max_error_rate": 0.01}
    raw["planner"] = {"gpu_types": [A10], "per_worker": list(GRID), "replications": 2}
    if floor is not None:
        raw["planner"]["min_workers_floor"] = floor
    tpl = make_template(endpoint_type, min_workers=1, max_workers=4, per_worker=2)
    return build_scenario(raw, base_dir=REPO, templates=(tpl,))


CASES = {
    "sync-poisson": ("SYNC", {"kind": "poisson", "rate": 8.0}, 1.0, 3.0, None),
    "sync-mmpp": (
        "SYNC",
        {"kind": "mmpp", "rates": [1.0, 10.0], "mean_durations_s": [300.0, 120.0]},
        1.0,
        6.0,
        None,
    ),
    "sync-floor-0": (
        "SYNC",
        {"kind": "mmpp", "rates": [0.0, 4.0], "mean_durations_s": [400.0, 100.0]},
        1.0,
        30.0,
        0,
    ),
    "async-poisson": ("ASYNC", {"kind": "poisson", "rate": 2.0}, 2.0, 6.0, None),
    "async-idle": (
        "ASYNC",
        {"kind": "mmpp", "rates": [0.0, 4.0], "mean_durations_s": [400.0, 100.0]},
        2.0,
        40.0,
        None,
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_planner_cost_is_within_2_percent_of_the_grid_optimum(name: str) -> None:
    etype, workload, mean, slack, floor = CASES[name]
    scen = scenario(etype, workload, mean, slack, floor=floor)
    (doc,) = [d.model_dump() for d in recommend(scen, workers=1)]
    rec = doc["recommended"]
    assert rec is not None and rec["meets_slo"], doc.get("why")
    case = scen.case(NAME)
    floor_n = workers_floor(case, floor, scen.planner.max_workers_cap)
    assert rec["min_workers"] >= floor_n
    price = gpu_options(case, [A10], change_count=False)[0].cost_per_hour
    # The grid: every min from the floor, max up to twice the recommendation's (at least
    # 8); a point whose warm workers alone cost the recommendation's price or more cannot
    # be cheaper, so it is left out.
    max_hi = max(8, 2 * rec["max_workers"])
    cfgs = grid_configs(
        case,
        (A10, 1),
        GRID,
        range(floor_n, max_hi + 1),
        max_hi,
        price,
        rec["cost_per_hour"] * (1 + 1e-9),
    )
    grid = grid_optimum(case, cfgs, scen.planner.replications, Runner(InlineExecutor()))
    assert grid.best is not None  # the recommendation itself, at least, is in the grid
    assert rec["cost_per_hour"] <= grid.best["cost_per_hour"] * 1.02, (rec, grid.best)
    # The grid has no sensitivity stage: the comparison leaves it out.
    planner_sims = doc["search"]["simulations"] - doc["search"]["sensitivity_simulations"]
    assert planner_sims < grid.simulations + 2 * len(cfgs), doc["search"]


def test_an_idle_async_endpoint_scales_to_zero() -> None:
    """Bursts of 100 s, 400 s apart on average: warm workers would idle 80 % of the time.
    With a 40 × p99-work target a cold start (60 s) is affordable, so the cheapest
    configuration keeps no warm worker (issue 9's 0/4/16 against 4/4/16)."""
    etype, workload, mean, slack, floor = CASES["async-idle"]
    scen = scenario(etype, workload, mean, slack, floor=floor)
    (doc,) = [d.model_dump() for d in recommend(scen, workers=1)]
    rec = doc["recommended"]
    assert doc["search"]["min_workers_floor"] == 0
    assert rec["min_workers"] == 0 < rec["max_workers"]
    # Workers run only while there is work: well below the same pool kept warm.
    price = gpu_options(scen.case(NAME), [A10], change_count=False)[0].cost_per_hour
    assert rec["cost_per_hour"] < 0.9 * rec["max_workers"] * price


# ---------------------------------------------------------------- [faults]
def test_the_planner_evaluates_candidates_with_the_scenarios_faults() -> None:
    """Pods failing every 15 minutes on average: the recommendation's confirmed runs
    count failures (the planner simulated them), and it still meets the SLO."""
    scen = scenario(
        "ASYNC", {"kind": "poisson", "rate": 2.0}, 2.0, 6.0, faults={"worker_mtbf_h": 0.25}
    )
    (doc,) = [d.model_dump() for d in recommend(scen, workers=1)]
    rec = doc["recommended"]
    assert rec is not None and rec["meets_slo"]
    assert rec["metrics"]["worker_failures"] > 0
    calm_scen = scenario("ASYNC", {"kind": "poisson", "rate": 2.0}, 2.0, 6.0)
    (calm,) = [d.model_dump() for d in recommend(calm_scen, workers=1)]
    assert calm["recommended"]["metrics"]["worker_failures"] == 0


@pytest.mark.parametrize(
    ("table", "line", "key"),
    [
        ("[faults]", "worker_mtbf_h = -1", "worker_mtbf_h"),
        ("[faults]", 'worker_mtbf_h = "often"', "worker_mtbf_h"),
        ("[faults]", "mtbf = 3", "mtbf"),
        ("", "confirm_top = 0", "confirm_top"),
        ("", "max_bumps = -1", "max_bumps"),
    ],
)
def test_bad_faults_or_planner_values_through_recommend_exit_2_naming_the_key(
    tmp_path: Any, capsys: Any, table: str, line: str, key: str
) -> None:
    """[planner] is the scenario's last table: an empty `table` adds the line to it."""
    src = (REPO / "scenarios" / "batch_scorer.toml").read_text()
    assert src.rstrip().splitlines()[-2] == "[planner]"
    path = tmp_path / "s.toml"
    path.write_text(
        src.replace('path = "templates/', f'path = "{REPO}/scenarios/templates/')
        + f"\n{table}\n{line}\n"
    )
    code = main(["recommend", str(path), "--json", "-q", "--workers", "1"])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1 and key in err and "Traceback" not in err, err


# ---------------------------------------------------------------- building blocks
@settings(max_examples=200)
@given(
    lo=st.integers(0, 5),
    width=st.integers(0, 60),
    threshold=st.integers(0, 80),
    start=st.integers(-5, 90),
)
def test_smallest_passing_from_finds_the_threshold(
    lo: int, width: int, threshold: int, start: int
) -> None:
    hi = lo + width
    asked: list[int] = []

    def passes(n: int) -> bool:
        asked.append(n)
        return n >= threshold

    found = smallest_passing_from(passes, lo, hi, start)
    assert found == (max(lo, threshold) if threshold <= hi else None)
    assert all(lo <= n <= hi for n in asked)
    # Doubling steps out of the start, then bisection: logarithmic in the distance.
    s = min(max(start, lo), hi)
    dist = abs((found if found is not None else hi) - s) + 2
    assert len(asked) <= 2 * math.ceil(math.log2(dist)) + 3


def test_a_bump_raises_max_workers_as_well_as_min_workers() -> None:
    grid = {(A10, 1): [1, 4, 8]}
    static = Config(A10, 1, 2, 2, 4)
    assert neighbours(static, cap=10, grid=grid) == [
        Config(A10, 1, 2, 3, 4),
        Config(A10, 1, 2, 3, 1),
        Config(A10, 1, 2, 3, 8),
        Config(A10, 1, 3, 3, 4),
    ]
    scaled = Config(A10, 1, 0, 5, 4)
    assert neighbours(scaled, cap=10, grid=grid) == [
        Config(A10, 1, 0, 6, 4),
        Config(A10, 1, 1, 5, 4),
    ]
    assert neighbours(Config(A10, 1, 3, 10, 4), cap=10, grid=None) == [Config(A10, 1, 4, 10, 4)]


def test_confirmation_rounds_go_cheapest_first_and_stop_when_nothing_can_beat_the_best() -> None:
    from capplan.planner.confirmation import Queue, _batch

    a = [Config(A10, 1, 0, x, 4) for x in range(1, 6)]
    t4 = [Config("nvidia-tesla-t4", 1, 0, x, 4) for x in range(1, 3)]
    queues = {A10: Queue(), "nvidia-tesla-t4": Queue()}
    for n, c in enumerate(a):
        queues[A10].push(c, 1.0 + n)
    for n, c in enumerate(t4):
        queues["nvidia-tesla-t4"].push(c, 1.5 + n)
    # The GPU type with the cheapest pass confirms three; the other its best.
    assert _batch(queues, confirm_top=3, max_bumps=8) == [*a[:3], t4[0]]
    # The T4 confirmed at 1.6: only the A10's passes cheaper than that are worth a round.
    queues["nvidia-tesla-t4"].best = {"cost_per_hour": 1.6, **t4[0].knobs()}
    queues[A10].push(Config(A10, 1, 1, 2, 4), 1.55)  # a bump explored after a failure
    assert _batch(queues, confirm_top=3, max_bumps=8) == [Config(A10, 1, 1, 2, 4)]
    # Say that failed: nothing on the A10 is confirmed yet, so its next pass is tried
    # (the document's alternative on that GPU type), one per round.
    assert _batch(queues, confirm_top=3, max_bumps=8) == [a[3]]
    queues[A10].best = {"cost_per_hour": 4.0, **a[3].knobs()}
    assert _batch(queues, confirm_top=3, max_bumps=8) == []
    # After max_bumps rounds a GPU type stops, confirmed or not.
    late = Queue(rounds=3)
    late.push(a[0], 1.0)
    assert _batch({A10: late}, confirm_top=3, max_bumps=2) == []
