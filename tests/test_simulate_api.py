"""The `capplan.simulate` API: results, summary keys, overrides, example scenarios."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import REPO, SCENARIOS, same_values

import capplan
from capplan.errors import CapplanError
from capplan.scenario import apply_overrides, load_scenario
from capplan.workload import rate_at

DOCUMENTED_KEYS = {
    "template", "gpu_type", "gpus", "min_workers", "max_workers", "per_worker", "endpoint_type",
    "requests", "completed", "rejected", "expired", "in_flight_at_end", "error_rate",
    "wait_mean_s", "wait_p50_s", "wait_p95_s", "wait_p99_s",
    "latency_mean_s", "latency_p50_s", "latency_p95_s", "latency_p99_s",
    "ttft_p50_s", "ttft_p95_s", "ttft_p99_s",
    "p_wait", "worker_hours", "cost_usd", "mean_workers", "peak_workers", "cold_starts",
    "replications", "ci95",
}  # fmt: skip
COUNT_KEYS = ("requests", "completed", "rejected", "expired", "in_flight_at_end")
# chat.toml replays a one-hour trace with a 300 s warm-up: keep four minutes after 60 s.
SHORT = {"workload.warmup_s": 60, "workload.horizon_s": 300}


@pytest.fixture
def in_repo(monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(REPO)
    return REPO


def poisson_scenario(tmp_path: Path, names: list[str], rate: float = 2.0) -> Path:
    """A scenario file of our own: Poisson traffic on templates from the example file."""
    path = tmp_path / "poisson.toml"
    path.write_text(
        f"""
name = "poisson"
seed = 3
[templates]
path = "{(SCENARIOS / "templates" / "example.json").as_posix()}"
names = {names!r}
[workload]
kind = "poisson"
rate = {rate}
horizon_s = 600
warmup_s = 60
[service]
kind = "latency"
distribution = "exponential"
mean_s = 0.5
cold_start = 30
""".replace("'", '"')
    )
    return path


# ---------------------------------------------------------------- results and summary
def test_chat_results_tables_and_documented_summary(in_repo: Path) -> None:
    results = capplan.simulate("scenarios/chat.toml", overrides=SHORT, replications=2)
    scen = load_scenario("scenarios/chat.toml")
    assert [r.template for r in results] == list(scen.template_names)
    (res,) = results
    s = res.summary
    assert DOCUMENTED_KEYS <= set(s)
    assert s["template"] == "llama-3-8b-chat" and s["endpoint_type"] == "STREAMING"
    assert (s["gpu_type"], s["gpus"], s["per_worker"]) == ("nvidia-ampere-a10", 1, 10)
    assert s["replications"] == 2 and len(res.runs) == 2 and len(res.records) == 2

    # Counts are totals over replications, and add up.
    for key in COUNT_KEYS:
        assert s[key] == sum(run[key] for run in res.runs)
    assert s["requests"] == s["completed"] + s["rejected"] + s["expired"] + s["in_flight_at_end"]
    assert s["requests"] > 0

    # The tables: one row per request / timeline row, tagged with the replication.
    req, tl = res.requests, res.timeline
    assert isinstance(req, pd.DataFrame) and isinstance(tl, pd.DataFrame)
    assert {
        "replication",
        "arrival",
        "start",
        "first_token",
        "end",
        "worker",
        "status",
        "retries",
    } <= set(req)
    assert {"replication", "time", "desired", "ready", "in_flight", "queued"} <= set(tl)
    assert set(req["replication"]) == {0, 1} and set(tl["replication"]) == {0, 1}
    counted = req[req["arrival"] >= 60.0]
    assert len(counted) == s["requests"]
    assert (counted["status"] == "ok").sum() == s["completed"]

    # A CI per replicated metric, around the mean of the replications.
    assert s["ci95"], "two replications give confidence intervals"
    for key, (low, high) in s["ci95"].items():
        assert low <= s[key] <= high, key
        if key == "error_rate":  # pooled: errors over all finished requests
            finished = s["requests"] - s["in_flight_at_end"]
            assert s[key] == pytest.approx((s["rejected"] + s["expired"]) / finished)
            continue
        values = [run[key] for run in res.runs]
        assert s[key] == pytest.approx(float(np.mean(values)))
    assert {"latency_p99_s", "ttft_p99_s", "cost_usd"} <= set(s["ci95"])


def test_one_replication_has_no_ci_and_ttft_only_for_streaming(tmp_path: Path) -> None:
    path = poisson_scenario(tmp_path, ["bge-embed", "batch-scorer"])
    results = capplan.simulate(path, replications=1)
    assert [r.template for r in results] == ["bge-embed", "batch-scorer"]
    for res in results:
        assert DOCUMENTED_KEYS <= set(res.summary)
        assert res.summary["ci95"] == {}
        assert math.isnan(res.summary["ttft_p50_s"])  # only streaming endpoints have a first token
    (only,) = capplan.simulate(path, "batch-scorer", replications=1)
    assert same_values(
        only.summary, results[1].summary
    )  # a template's result does not depend on others


def test_same_seed_same_summary_other_seed_other_requests(tmp_path: Path) -> None:
    path = poisson_scenario(tmp_path, ["bge-embed"])
    a = capplan.simulate(path, replications=2)[0]
    b = capplan.simulate(path, replications=2)[0]
    assert same_values(a.summary, b.summary)
    pd.testing.assert_frame_equal(a.requests, b.requests)
    c = capplan.simulate(path, seed=4, replications=2)[0]
    assert not np.array_equal(a.requests["arrival"], c.requests["arrival"])


# ---------------------------------------------------------------- overrides
def test_per_worker_override_reaches_the_template(in_repo: Path) -> None:
    (res,) = capplan.simulate(
        "scenarios/chat.toml", overrides={**SHORT, "endpoint_config.per_worker": 4}, replications=1
    )
    assert res.summary["per_worker"] == 4


def test_faster_gpu_same_requests_shorter_latency(in_repo: Path) -> None:
    """Common random numbers: the H100 run sees the A10 run's requests, and serves them faster."""
    (a10,) = capplan.simulate("scenarios/chat.toml", overrides=SHORT, replications=1)
    (h100,) = capplan.simulate(
        "scenarios/chat.toml",
        overrides={**SHORT, "endpoint_config.gpu_type": "nvidia-hopper-h100"},
        replications=1,
    )
    assert h100.summary["gpu_type"] == "nvidia-hopper-h100"
    np.testing.assert_array_equal(a10.requests["arrival"], h100.requests["arrival"])
    for key in ("latency_mean_s", "latency_p50_s", "latency_p99_s", "ttft_p50_s"):
        assert h100.summary[key] < a10.summary[key], key
    assert h100.summary["cost_usd"] != a10.summary["cost_usd"]


def test_workload_rate_override(tmp_path: Path) -> None:
    path = poisson_scenario(tmp_path, ["bge-embed"])
    span = 600 - 60
    counts = []
    for rate in (1.0, 4.0):
        (res,) = capplan.simulate(path, overrides={"workload.rate": rate}, replications=1)
        n = res.summary["requests"]
        # Poisson count: within 4 standard deviations of λ T.
        assert abs(n - rate * span) <= 4 * math.sqrt(rate * span)
        counts.append(n)
    assert counts[1] > counts[0]


def test_service_alpha_override(tmp_path: Path) -> None:
    path = poisson_scenario(tmp_path, ["bge-embed"], rate=20.0)
    scen = apply_overrides(load_scenario(path), {"service.batching_alpha": 0.7})
    assert scen.services["bge-embed"].batching_alpha == 0.7
    base = {"simulation.autoscaler": "static", "endpoint_config.min_workers": 2}
    lat = {}
    for alpha in (0.0, 1.0):
        (res,) = capplan.simulate(
            path, overrides={**base, "service.batching_alpha": alpha}, replications=1
        )
        lat[alpha] = res.summary["latency_mean_s"]
    # 20 req/s × 0.5 s on 2 workers: ~5 in service each; α = 1 shares a worker's speed.
    assert lat[1.0] > 1.5 * lat[0.0]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"overrides": {"nonsense.key": 1}}, "nonsense.key"),
        ({"overrides": {"workload.rate": -1}}, "workload.rate"),
        ({"overrides": {"endpoint_config.per_worker": 0}}, "per_worker"),
        ({"template": "no-such-template"}, "no-such-template"),
        ({"replications": 0}, "replications"),
    ],
)
def test_api_errors_name_the_field(tmp_path: Path, kwargs: dict, field: str) -> None:
    path = poisson_scenario(tmp_path, ["bge-embed"])
    with pytest.raises(CapplanError, match=field.replace(".", r"\.")):
        capplan.simulate(path, **kwargs)


# ---------------------------------------------------------------- every example scenario
def short_overrides(path: Path) -> dict[str, float]:
    """Cap the expected request count (~20 000) so each example runs in well under a second."""
    scen = load_scenario(path)
    spec = scen.workloads[scen.template_names[0]]
    if spec.kind == "closed":
        return {}  # bounded by its `requests`; a closed loop has no rate to read
    horizon = spec.horizon_s or 3600.0
    mean_rate = float(np.mean(rate_at(spec, np.linspace(0.0, horizon, 2001))))
    short = min(horizon, 20_000.0 / max(mean_rate, 1e-9))
    # Warm-up first: the horizon may only shrink below the file's warm-up after it.
    return {"workload.warmup_s": min(spec.warmup_s, short / 4), "workload.horizon_s": short}


EXAMPLES = sorted(SCENARIOS.glob("*.toml"))


def test_examples_exist() -> None:
    assert len(EXAMPLES) >= 4


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_every_example_scenario_simulates(path: Path) -> None:
    results = capplan.simulate(path, overrides=short_overrides(path), replications=1)
    assert len(results) == len(load_scenario(path).templates)
    for res in results:
        s = res.summary
        assert DOCUMENTED_KEYS <= set(s)
        assert s["requests"] > 0
        assert (
            s["requests"] == s["completed"] + s["rejected"] + s["expired"] + s["in_flight_at_end"]
        )
        assert s["completed"] > 0
        assert 0.0 <= s["error_rate"] <= 1.0 and 0.0 <= s["p_wait"] <= 1.0
        assert s["worker_hours"] > 0 and s["cost_usd"] > 0
        assert s["min_workers"] <= s["mean_workers"] + 1e-9
        assert s["wait_p50_s"] <= s["wait_p95_s"] <= s["wait_p99_s"]
        assert s["latency_p50_s"] <= s["latency_p95_s"] <= s["latency_p99_s"]


def test_override_order_does_not_matter() -> None:
    path = SCENARIOS / "embedding_diurnal.toml"  # warmup_s = 1800
    forward = {"workload.horizon_s": 900, "workload.warmup_s": 60}
    (a,) = capplan.simulate(path, overrides=forward, replications=1)
    (b,) = capplan.simulate(path, overrides=dict(reversed(forward.items())), replications=1)
    assert same_values(a.summary, b.summary)
