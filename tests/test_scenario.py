"""Scenario files: defaults, per-template overrides, paths, errors, --set overrides."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from capplan.distributions import Z99, Lognormal, parse_dist
from capplan.errors import CapplanError
from capplan.hardware import (
    GPU_CATALOG,
    GPU_TYPES,
    TENSOR_PARALLEL_EFFICIENCY,
    Prices,
    speed_factor,
    worker_cost_per_hour,
)
from capplan.scenario import (
    PlannerSpec,
    ServiceSpec,
    SimulationSpec,
    SloSpec,
    WorkloadSpec,
    apply_overrides,
    load_scenario,
    parse_override_value,
    parse_overrides,
)
from capplan.workload import horizon

ROOT = Path(__file__).resolve().parents[1]
TEMPLATES = ROOT / "scenarios" / "templates" / "example.json"


def write(tmp_path: Path, body: str, name: str = "s.toml") -> Path:
    (tmp_path / "templates.json").write_text(TEMPLATES.read_text())
    path = tmp_path / name
    # Top-level keys (lines before the first table) must come before [templates].
    head, sep, tables = body.partition("[")
    path.write_text(head + '[templates]\npath = "templates.json"\n' + sep + tables)
    return path


MINIMAL = "[workload]\nrate = 2\n[service]\nmean_s = 1\n"


def test_defaults_of_every_table(tmp_path: Path) -> None:
    scen = load_scenario(write(tmp_path, MINIMAL))
    assert scen.seed == 1 and scen.name == "s"
    assert len(scen.templates) == 5
    wl = scen.workloads["bge-embed"]
    assert (wl.kind, wl.rate, horizon(wl), wl.warmup_s, wl.period_s) == (
        "poisson",
        2,
        3600.0,
        0,
        86400,
    )
    svc = scen.services["bge-embed"]
    assert svc.kind == "latency" and svc.distribution == "exponential"
    assert svc.batching_alpha == 0 and svc.concurrency_limit == 200
    assert svc.cold_start.expected == 60 and svc.node_provisioning_s == 0
    # reference GPU and model memory default to the template as written
    assert svc.reference_gpu == "nvidia-tesla-t4" and svc.reference_gpus == 1
    assert svc.model_memory_gb == GPU_CATALOG["nvidia-tesla-t4"].memory_gb
    big = scen.services["llama-3-70b-instruct"]
    assert big.model_memory_gb == 4 * GPU_CATALOG["nvidia-ampere-a100e"].memory_gb
    slo = scen.slos["bge-embed"]
    assert slo.confidence == 0.95 and slo.max_error_rate == 0.01 and slo.targets() == {}
    assert scen.planner == PlannerSpec()
    assert scen.planner.replications == 3 and scen.planner.max_workers_cap == 250
    sim = scen.simulation
    assert (sim.replications, sim.autoscaler, sim.max_retries, sim.gateway_timeout_s) == (
        1,
        "launch",
        8,
        10.0,
    )
    assert scen.prices == Prices()


def test_per_template_overrides_merge_over_defaults(tmp_path: Path) -> None:
    body = (
        MINIMAL
        + '[workload."bge-embed"]\nrate = 40\nwarmup_s = 60\n[slo."bge-embed"]\nlatency_p99_s = 0.5\n'
    )
    scen = load_scenario(write(tmp_path, body))
    assert scen.workloads["bge-embed"].rate == 40 and scen.workloads["bge-embed"].warmup_s == 60
    assert scen.workloads["batch-scorer"].rate == 2
    assert scen.slos["bge-embed"].targets() == {"latency_p99_s": 0.5}
    assert scen.slos["batch-scorer"].targets() == {}


def test_template_names_select_and_order(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    (tmp_path / "templates.json").write_text(TEMPLATES.read_text())
    path.write_text(
        '[templates]\npath = "templates.json"\nnames = ["batch-scorer", "bge-embed"]\n' + MINIMAL
    )
    assert load_scenario(path).template_names == ("batch-scorer", "bge-embed")


def test_trace_path_is_relative_to_the_scenario(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "t.csv").write_text("TIMESTAMP,ContextTokens,GeneratedTokens\n")
    scen = load_scenario(
        write(tmp_path, '[workload]\nkind = "trace"\npath = "data/t.csv"\n[service]\nmean_s = 1\n')
    )
    assert scen.workloads["bge-embed"].path == tmp_path / "data" / "t.csv"


def test_bundled_scenarios_load() -> None:
    for path in sorted((ROOT / "scenarios").glob("*.toml")):
        scen = load_scenario(path)
        assert scen.templates, path


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ("[workload]\nrate = -1\n[service]\nmean_s = 1\n", "workload.rate"),
        (
            "[workload]\nkind = 'poisson'\n[service]\nmean_s = 1\n",
            "workload: kind 'poisson' needs rate",
        ),
        (
            "[workload]\nkind = 'mmpp'\nrates = [1, 2]\nmean_durations_s = [1]\n[service]\nmean_s = 1\n",
            "same length",
        ),
        (
            "[workload]\nkind = 'diurnal'\nbase_rate = 5\npeak_rate = 1\n[service]\nmean_s = 1\n",
            "peak_rate",
        ),
        ("[workload]\nkind = 'trace'\npath = 'nope.csv'\n[service]\nmean_s = 1\n", "workload.path"),
        (
            "[workload]\nrate = 1\nhorizon_s = 10\nwarmup_s = 20\n[service]\nmean_s = 1\n",
            "warmup_s",
        ),
        ("[workload]\nrate = 1\nbogus = 1\n[service]\nmean_s = 1\n", "workload.bogus: unknown key"),
        ("[workload]\nrate = 1\n[service]\nkind = 'tokens'\n", "prefill_tokens_per_s"),
        ("[workload]\nrate = 1\n[service]\ndistribution = 'lognormal'\nmedian_s = 2\n", "p99"),
        (
            "[workload]\nrate = 1\n[service]\nmean_s = 1\nbatching_alpha = 2\n",
            "service.batching_alpha",
        ),
        (
            "[workload]\nrate = 1\n[service]\nmean_s = 1\nreference_gpu = 'tpu'\n",
            "service.reference_gpu",
        ),
        (
            "[workload]\nrate = 1\n[service]\nmean_s = 1\n[slo]\nconfidence = 1.5\n",
            "slo.confidence",
        ),
        (
            "[workload]\nrate = 1\n[service]\nmean_s = 1\n[costs]\nnvidia-foo = 1\n",
            "costs.nvidia-foo",
        ),
        (
            "[workload]\nrate = 1\n[service]\nmean_s = 1\n[costs]\ncpu_per_hour = -1\n",
            "costs.cpu_per_hour",
        ),
        (
            "[workload]\nrate = 1\n[service]\nmean_s = 1\n[planner]\nper_worker = []\n",
            "planner.per_worker",
        ),
        (
            "[workload]\nrate = 1\n[service]\nmean_s = 1\n[planner]\nreplications = 1\n",
            "planner.replications",
        ),
        (
            "[workload]\nrate = 1\n[service]\nmean_s = 1\n[simulation]\nautoscaler = 'magic'\n",
            "simulation.autoscaler",
        ),
        ("[workload.nobody]\nrate = 1\n", "workload.nobody: no template"),
        ("seed = -3\n", "seed"),
        ("extra = 1\n", "extra: unknown top-level key"),
    ],
)
def test_errors_name_the_field(tmp_path: Path, body: str, field: str) -> None:
    with pytest.raises(CapplanError) as err:
        load_scenario(write(tmp_path, body))
    message = str(err.value)
    assert field in message and "\n" not in message and message.startswith(str(tmp_path))


def test_unreadable_and_invalid_files(tmp_path: Path) -> None:
    with pytest.raises(CapplanError, match="cannot read"):
        load_scenario(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[workload\nrate=")
    with pytest.raises(CapplanError, match="not valid TOML"):
        load_scenario(bad)
    nopath = tmp_path / "nopath.toml"
    nopath.write_text("[workload]\nrate = 1\n")
    with pytest.raises(CapplanError, match="templates.path: required"):
        load_scenario(nopath)


def test_overrides_reach_template_and_scenario(tmp_path: Path) -> None:
    scen = load_scenario(write(tmp_path, MINIMAL))
    changed = apply_overrides(
        scen,
        parse_overrides(
            [
                "endpoint_config.per_worker=7",
                "endpoint_config.gpu_type=nvidia-hopper-h100",
                "bundle_config.readiness_initial_delay_seconds=30",
                "workload.rate=9.5",
                "service.batching_alpha=0.25",
                "service.cold_start.value=12",
                "slo.latency_p99_s=3",
                "simulation.autoscaler=static",
                "costs.nvidia-hopper-h100=9",
                "seed=42",
            ]
        ),
        template="bge-embed",
    )
    t = changed.template("bge-embed")
    assert t.endpoint_config.per_worker == 7 and t.endpoint_config.gpu_type == "nvidia-hopper-h100"
    assert t.bundle_config.readiness_initial_delay_seconds == 30
    assert changed.workloads["bge-embed"].rate == 9.5
    assert changed.services["bge-embed"].batching_alpha == 0.25
    assert changed.services["bge-embed"].cold_start.expected == 12
    # the reference GPU stays the template's original: the profile was measured there
    assert changed.services["bge-embed"].reference_gpu == "nvidia-tesla-t4"
    assert changed.slos["bge-embed"].latency_p99_s == 3
    assert changed.simulation.autoscaler == "static" and changed.seed == 42
    assert changed.prices.gpu_per_hour["nvidia-hopper-h100"] == 9
    # other templates untouched by template overrides
    assert changed.template("batch-scorer") == scen.template("batch-scorer")


@pytest.mark.parametrize(
    ("pair", "needle"),
    [
        ("workload.rate=-2", "workload.rate"),
        ("endpoint_config.per_worker=0", "per_worker"),
        ("nothing.here=1", "--set nothing.here"),
        ("novalue", "expected KEY=VALUE"),
        ("costs.cpu_per_hour=-1", "costs.cpu_per_hour"),
        ("seed=-1", "seed"),
    ],
)
def test_bad_overrides(tmp_path: Path, pair: str, needle: str) -> None:
    scen = load_scenario(write(tmp_path, MINIMAL))
    with pytest.raises(CapplanError, match=needle.replace(".", r"\.")):
        apply_overrides(scen, parse_overrides([pair]))


def test_override_values_parse_as_toml() -> None:
    assert parse_override_value("4") == 4
    assert parse_override_value("0.5") == 0.5
    assert parse_override_value("true") is True
    assert parse_override_value("[1, 2]") == [1, 2]
    assert parse_override_value("nvidia-ampere-a10") == "nvidia-ampere-a10"


def test_specs_are_frozen() -> None:
    spec = WorkloadSpec(rate=1)
    with pytest.raises(Exception):  # noqa: B017 - pydantic raises its own frozen error
        spec.rate = 2  # type: ignore[misc]
    for model in (ServiceSpec(mean_s=1), SloSpec(), PlannerSpec(), SimulationSpec()):
        assert model.model_config.get("frozen")


# ---------------------------------------------------------------- distributions
def test_lognormal_from_median_and_p99_matches_quantiles() -> None:
    d = Lognormal(median=2.0, p99=9.0)
    x = d.sample(np.random.default_rng(3), 200_000)
    assert np.median(x) == pytest.approx(2.0, rel=0.02)
    assert np.percentile(x, 99) == pytest.approx(9.0, rel=0.04)
    mu, sigma = math.log(2.0), math.log(4.5) / Z99
    assert d.expected == pytest.approx(math.exp(mu + sigma**2 / 2))


def test_lognormal_from_mean_and_p99() -> None:
    d = Lognormal(mean=3.0, p99=12.0)
    x = d.sample(np.random.default_rng(4), 400_000)
    assert x.mean() == pytest.approx(3.0, rel=0.02)
    assert np.percentile(x, 99) == pytest.approx(12.0, rel=0.04)


@pytest.mark.parametrize(
    "data",
    [
        {"distribution": "exponential"},
        {"distribution": "lognormal", "median": 5, "p99": 2},
        {"distribution": "uniform", "low": 3, "high": 1},
        {"distribution": "deterministic", "value": -1},
        {"distribution": "gamma", "mean": 1},
        {"distribution": "exponential", "mean": 1, "sigma": 2},
    ],
)
def test_bad_distributions(data: dict) -> None:
    with pytest.raises(ValueError):
        parse_dist(data)


@settings(max_examples=50, deadline=None)
@given(st.floats(0.01, 100), st.floats(1.01, 50))
def test_dist_mean_and_scaling(median: float, ratio: float) -> None:
    d = Lognormal(median=median, p99=median * ratio)
    assert d.expected > median  # a lognormal's mean exceeds its median
    assert d.scaled(2.0).expected == pytest.approx(2 * d.expected)
    assert parse_dist(median).expected == median


# ---------------------------------------------------------------- hardware
def test_catalog_and_prices() -> None:
    assert GPU_TYPES == (
        "nvidia-tesla-t4",
        "nvidia-ampere-a10",
        "nvidia-ampere-a100",
        "nvidia-ampere-a100e",
        "nvidia-hopper-h100",
        "nvidia-hopper-h100-1g20gb",
        "nvidia-hopper-h100-3g40gb",
    )
    h100 = GPU_CATALOG["nvidia-hopper-h100"]
    slice1 = GPU_CATALOG["nvidia-hopper-h100-1g20gb"]
    assert slice1.fp16_tflops == pytest.approx(h100.fp16_tflops / 7)
    assert slice1.bandwidth_gbs == pytest.approx(h100.bandwidth_gbs * 2 / 8)
    prices = Prices()
    cost = worker_cost_per_hour("nvidia-ampere-a10", 2, 4, 16 * 1024**3, prices)
    assert cost == pytest.approx(2 * 1.00 + 4 * 0.04 + 16 * 0.005)
    assert worker_cost_per_hour(None, 0, 2, 0, prices) == pytest.approx(0.08)
    cheaper = prices.with_overrides({"nvidia-ampere-a10": 0.5}, cpu_per_hour=0.0)
    assert worker_cost_per_hour("nvidia-ampere-a10", 1, 4, 0, cheaper) == pytest.approx(0.5)
    with pytest.raises(CapplanError, match="gpu_type"):
        prices.with_overrides({"nvidia-x": 1})


def test_speed_factor_ratios_and_tensor_parallel() -> None:
    pre, dec = speed_factor("nvidia-ampere-a10", "nvidia-hopper-h100", 1, 1)
    assert pre == pytest.approx(989 / 125) and dec == pytest.approx(3350 / 600)
    pre2, dec2 = speed_factor("nvidia-ampere-a10", "nvidia-ampere-a10", 1, 4)
    assert pre2 == dec2 == pytest.approx(4 * TENSOR_PARALLEL_EFFICIENCY**2)
