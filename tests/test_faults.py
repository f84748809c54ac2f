"""`[faults]`: pods fail, their work is lost or requeued, and they are replaced cold."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from helpers import SCENARIOS, make_case, run, same_values

from capplan.cli import main
from capplan.engine.records import OK, PENDING, REJECTED_503

CHAT = SCENARIOS / "chat.toml"


def sync_case(faults: dict[str, Any] | None, **kw: Any) -> Any:
    """Two static pods serving long requests: losses show as errors."""
    return make_case(
        "SYNC",
        workload={"kind": "poisson", "rate": 0.3, "horizon_s": 1800},
        service={
            "kind": "latency",
            "distribution": "deterministic",
            "mean_s": 20.0,
            "cold_start": 30,
        },
        simulation={"autoscaler": "static"},
        min_workers=2,
        max_workers=2,
        per_worker=4,
        readiness_delay_s=0,
        faults=faults,
        **kw,
    )


def test_without_faults_nothing_fails() -> None:
    summary, rec = run(sync_case(None))
    same, _ = run(sync_case({}))  # an empty table is no faults either
    assert summary["worker_failures"] == 0 and summary["cold_starts"] == 0
    assert summary["rejected_503"] == 0
    assert same_values(summary, same)
    assert np.all(np.isinf(rec.workers["failed_at"]))


def test_faults_lose_sync_requests_and_cost_cold_starts() -> None:
    summary, rec = run(sync_case({"worker_mtbf_h": 0.1}))
    failures = summary["worker_failures"]
    assert failures > 0
    # Every failed pod is replaced by a new one: one cold start per failure.
    assert summary["cold_starts"] == failures
    w = rec.workers
    failed = np.isfinite(w["failed_at"])
    np.testing.assert_array_equal(w["stop_at"][failed], w["failed_at"][failed])
    # A 20 s request is past the gateway's 10 s budget when its pod dies: a 503.
    assert summary["rejected_503"] > 0
    lost = rec.status == REJECTED_503
    assert np.all(np.isin(rec.end[lost], w["failed_at"][failed]) | np.isnan(rec.start[lost]))
    assert summary["requests"] == (
        summary["completed"] + summary["rejected"] + summary["in_flight_at_end"]
    )


def test_same_seed_same_failures() -> None:
    case = sync_case({"worker_mtbf_h": 0.1})
    (s1, r1), (s2, r2) = run(case), run(case)
    assert same_values(s1, s2)
    np.testing.assert_array_equal(r1.workers["failed_at"], r2.workers["failed_at"])
    _, other = run(case, replication=1)
    assert not np.array_equal(other.workers["failed_at"], r1.workers["failed_at"])


def test_async_tasks_go_back_to_the_queue() -> None:
    case = make_case(
        "ASYNC",
        workload={"kind": "poisson", "rate": 0.5, "horizon_s": 3600},
        service={
            "kind": "latency",
            "distribution": "deterministic",
            "mean_s": 30.0,
            "cold_start": 20,
        },
        simulation={"autoscaler": "static"},
        min_workers=2,
        max_workers=2,
        per_worker=10,
        readiness_delay_s=0,
        faults={"worker_mtbf_h": 0.1},
    )
    summary, rec = run(case)
    assert summary["worker_failures"] > 0
    assert summary["rejected"] == 0 and summary["expired"] == 0  # nothing is lost
    done = rec.status == OK
    # A requeued task ran to the end on another pod: 30 s of service after its last start.
    np.testing.assert_allclose(rec.end[done] - rec.start[done], 30.0, atol=1e-6)
    assert np.all((rec.status == OK) | (rec.status == PENDING))


def test_a_stream_that_has_sent_tokens_is_not_retried() -> None:
    case = make_case(
        "STREAMING",
        workload={
            "kind": "poisson",
            "rate": 0.5,
            "horizon_s": 1800,
            "generated_tokens": {"distribution": "deterministic", "value": 400},
        },
        service={
            "kind": "tokens",
            "prefill_tokens_per_s": 5000.0,
            "decode_tokens_per_s": 20.0,
            "cold_start": 20,
        },
        simulation={"autoscaler": "static"},
        min_workers=2,
        max_workers=2,
        per_worker=8,
        readiness_delay_s=0,
        faults={"worker_mtbf_h": 0.1},
    )
    summary, rec = run(case)
    assert summary["worker_failures"] > 0
    cut = (rec.status == REJECTED_503) & ~np.isnan(rec.first_token)
    assert cut.any()
    assert np.all(np.isin(rec.end[cut], rec.workers["failed_at"]))


def test_failure_count_matches_the_exponential_rate() -> None:
    """Each of c pod slots fails after Exp(MTBF) of running, then is down for its
    replacement's start-up d: a renewal process with about H / (MTBF + d) failures per
    slot. Over R replications the total is close to Poisson; 99.9 % band."""
    mtbf_h, horizon, slots, reps = 0.1, 3600.0, 4, 8
    case = make_case(
        "SYNC",
        workload={"kind": "poisson", "rate": 0.05, "horizon_s": horizon},
        service={
            "kind": "latency",
            "distribution": "deterministic",
            "mean_s": 0.1,
            "cold_start": 1,
        },
        simulation={"autoscaler": "static"},
        min_workers=slots,
        max_workers=slots,
        readiness_delay_s=0,
        faults={"worker_mtbf_h": mtbf_h},
    )
    total = sum(run(case, r)[0]["worker_failures"] for r in range(reps))
    down = 1.0  # the replacement's cold start; no node provisioning, readiness at once
    expected = reps * slots * horizon / (mtbf_h * 3600.0 + down)
    assert abs(total - expected) <= 3.3 * math.sqrt(expected), (total, expected)


@pytest.mark.parametrize(
    "value", ["0", "-1", "inf", "nan", '"often"'], ids=["zero", "negative", "inf", "nan", "text"]
)
def test_bad_mtbf_is_one_line_naming_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], value: str
) -> None:
    scenario = tmp_path / "faulty.toml"
    scenario.write_text(CHAT.read_text() + f"\n[faults]\nworker_mtbf_h = {value}\n")
    (tmp_path / "templates").symlink_to(SCENARIOS / "templates")
    (tmp_path / "data").symlink_to(SCENARIOS / "data")
    code = main(["simulate", str(scenario), "--json", "-q"])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "faults.worker_mtbf_h" in err, err


def test_unknown_faults_key_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["simulate", str(CHAT), "--set", "faults.mtbf=3", "--json", "-q"])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "faults.mtbf" in err, err
