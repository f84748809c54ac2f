"""The engine against queueing theory, within confidence intervals.

Each test simulates independent replications (fixed seeds, explicit warm-up)
and checks that the theoretical value lies in the 99 % Student-t interval of
the replication means, and that the interval is narrow enough for the check to
mean something (a wrong model would fall outside it).
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers import (
    NAME,
    erlang_c,
    make_case,
    make_scenario,
    mmc_mean_wait,
    run,
    step_integral,
    t_interval,
)

from capplan.simulate import simulate

LEVEL = 0.99


def replicate(case, replications: int) -> dict[str, np.ndarray]:
    runs = [run(case, r)[0] for r in range(replications)]
    return {
        k: np.array([s[k] for s in runs], dtype=float)
        for k in ("p_wait", "wait_mean_s", "latency_mean_s")
    }


def assert_in_ci(values: np.ndarray, expected: float, max_rel_half_width: float) -> None:
    lo, hi = t_interval(values, LEVEL)
    assert lo <= expected <= hi, f"theory {expected:.4f} outside the 99% CI [{lo:.4f}, {hi:.4f}]"
    assert (hi - lo) / 2 <= max_rel_half_width * expected, (
        f"CI [{lo:.4f}, {hi:.4f}] too wide to test"
    )


def static_async(
    c: int, per_worker: int, lam: float, horizon: float, warmup: float, seed: int, **service
):
    return make_case(
        "ASYNC",
        workload={"kind": "poisson", "rate": lam, "horizon_s": horizon, "warmup_s": warmup},
        service={"kind": "latency", "distribution": "exponential", "mean_s": 1.0, **service},
        simulation={"autoscaler": "static"},
        seed=seed,
        min_workers=c,
        max_workers=c,
        per_worker=per_worker,
    )


@pytest.mark.parametrize(("c", "lam", "seed"), [(4, 3.2, 101), (2, 1.2, 102)])
def test_static_async_pool_is_erlang_c(c: int, lam: float, seed: int) -> None:
    """c workers, one task each, FIFO broker queue: M/M/c, P(wait) = Erlang C."""
    stats = replicate(static_async(c, 1, lam, 4200.0, 200.0, seed), 20)
    assert_in_ci(stats["p_wait"], erlang_c(c, lam), 0.04)
    assert_in_ci(stats["wait_mean_s"], mmc_mean_wait(c, lam, 1.0), 0.12)
    assert_in_ci(stats["latency_mean_s"], mmc_mean_wait(c, lam, 1.0) + 1.0, 0.05)


def test_alpha_zero_slots_on_one_worker_are_mmk() -> None:
    """α = 0: k requests on one worker run as k independent slots, so one worker is M/M/k."""
    k, lam = 3, 2.4
    stats = replicate(static_async(1, k, lam, 5200.0, 200.0, 103, batching_alpha=0.0), 20)
    assert_in_ci(stats["p_wait"], erlang_c(k, lam), 0.04)
    assert_in_ci(stats["wait_mean_s"], mmc_mean_wait(k, lam, 1.0), 0.12)
    # Sojourn = wait + one service time (mean 1/μ), because slots never slow each other.
    assert_in_ci(stats["latency_mean_s"], mmc_mean_wait(k, lam, 1.0) + 1.0, 0.08)


@pytest.mark.parametrize("distribution", ["exponential", "deterministic"])
def test_alpha_one_is_processor_sharing(distribution: str) -> None:
    """α = 1 on one worker is M/G/1-PS: mean sojourn 1/(μ − λ) whatever the service law.

    With deterministic service, FCFS would give 1/μ + ρ/(2(μ − λ)) = 1.5 s instead of 2 s,
    so the interval also tells processor sharing from FIFO.
    """
    lam, mu = 0.5, 1.0
    case = make_case(
        "SYNC",
        workload={"kind": "poisson", "rate": lam, "horizon_s": 6000.0, "warmup_s": 200.0},
        service={
            "kind": "latency",
            "distribution": distribution,
            "mean_s": 1.0 / mu,
            "batching_alpha": 1.0,
            "concurrency_limit": 1000,
        },
        simulation={"autoscaler": "static"},
        seed=104,
        min_workers=1,
        max_workers=1,
        per_worker=50,
    )
    stats = replicate(case, 20)
    assert_in_ci(stats["latency_mean_s"], 1.0 / (mu - lam), 0.06)
    # Nobody waits: processor sharing admits everyone at once.
    assert np.all(stats["p_wait"] == 0.0)


def birth_death(lam: float, mu: float, alpha: float, slots: int, n_max: int = 2000) -> np.ndarray:
    """Stationary law of the number in system on one worker with exponential work.

    With m = min(n, slots) requests in service each runs at speed 1/(1 + α(m − 1)),
    so requests leave at rate m μ / (1 + α(m − 1)): a birth–death chain.
    """
    n = np.arange(1, n_max + 1)
    m = np.minimum(n, slots)
    death = m * mu / (1.0 + alpha * (m - 1))
    log_p = np.concatenate([[0.0], np.cumsum(np.log(lam / death))])
    p = np.exp(log_p - log_p.max())
    return p / p.sum()


@pytest.mark.parametrize(
    ("etype", "slots", "alpha", "lam", "seed"),
    [("ASYNC", 4, 0.3, 1.5, 106), ("SYNC", 1000, 0.5, 1.2, 107)],
)
def test_partial_batching_matches_the_birth_death_chain(
    etype: str, slots: int, alpha: float, lam: float, seed: int
) -> None:
    """0 < α < 1 on one worker: mean sojourn L/λ and P(wait) = P(N >= slots) (PASTA)."""
    case = make_case(
        etype,
        workload={"kind": "poisson", "rate": lam, "horizon_s": 5200.0, "warmup_s": 200.0},
        service={
            "kind": "latency",
            "distribution": "exponential",
            "mean_s": 1.0,
            "batching_alpha": alpha,
            "concurrency_limit": slots,
        },
        simulation={"autoscaler": "static"},
        seed=seed,
        min_workers=1,
        max_workers=1,
        per_worker=slots if etype == "ASYNC" else 1,
    )
    p = birth_death(lam, 1.0, alpha, slots)
    n = np.arange(len(p))
    stats = replicate(case, 16)
    assert_in_ci(stats["latency_mean_s"], float(n @ p) / lam, 0.08)
    if etype == "ASYNC":
        assert_in_ci(stats["p_wait"], float(p[slots:].sum()), 0.08)
    else:
        assert np.all(stats["p_wait"] == 0.0)


def test_littles_law_on_the_timeline() -> None:
    """Time-average of (in_flight + queued) from the timeline = λ_eff × mean sojourn.

    The timeline is a step function between rows; the Celery control loop
    (launch autoscaler on an ASYNC endpoint, min = max) records a row every 3 s.
    """
    c, lam, warmup, horizon = 3, 2.1, 300.0, 6000.0
    scen = make_scenario(
        "ASYNC",
        workload={"kind": "poisson", "rate": lam, "horizon_s": horizon, "warmup_s": warmup},
        service={"kind": "latency", "distribution": "exponential", "mean_s": 1.0},
        seed=105,
        min_workers=c,
        max_workers=c,
        per_worker=1,
    )
    (result,) = simulate(scen, NAME, replications=10)
    requests, timeline = result.requests, result.timeline
    span = horizon - warmup
    diffs, area_means = [], []
    for r in range(10):
        tl = timeline[timeline["replication"] == r]
        # The control loop's rows: every 3 s.
        assert np.allclose(np.diff(np.unique(tl["time"].to_numpy())), 3.0)
        area = step_integral(
            tl["time"].to_numpy(), (tl["in_flight"] + tl["queued"]).to_numpy(), warmup, horizon
        )
        rq = requests[(requests["replication"] == r) & (requests["arrival"] >= warmup)]
        end = rq["end"].fillna(horizon).clip(upper=horizon)
        lam_eff = len(rq) / span
        sojourn = float((end - rq["arrival"]).mean())
        diffs.append(area / span - lam_eff * sojourn)
        area_means.append(area / span)
    lo, hi = t_interval(diffs, LEVEL)
    assert lo <= 0.0 <= hi, f"L − λW CI [{lo:.4f}, {hi:.4f}] excludes 0"
    theory_l = lam + lam * mmc_mean_wait(c, lam, 1.0)  # L = λ/μ + λ Wq
    assert hi - lo < 0.03 * theory_l
    assert_in_ci(np.array(area_means), theory_l, 0.10)
