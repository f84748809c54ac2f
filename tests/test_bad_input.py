"""Bad input outside the workload: one line naming the key, exit code 2, no traceback.

Each class of careless or hostile input found in review gets a test here:
non-finite numbers in every scenario table, a non-UTF-8 file, two templates
with one name, messages that name the option (`--set`, `--vs`), warnings as one
line, and the `[autoscaler]` table.
"""

from __future__ import annotations

import json
import typing
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from capplan.cli import main
from capplan.engine import EngineConfig
from capplan.policies import AutoscalerParams
from capplan.scenario import (
    AutoscalerSpec,
    ServiceSpec,
    SimulationSpec,
    SloSpec,
    WorkloadSpec,
    load_scenario,
)

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "scenarios" / "templates" / "example.json"

BASE = """
[templates]
path = "{templates}"
names = ["bge-embed"]

[workload]
kind = "poisson"
rate = 2.0
horizon_s = 120

[service]
kind = "latency"
distribution = "exponential"
mean_s = 0.2
"""


def scenario(tmp_path: Path, extra: str = "", templates: Path = EXAMPLE) -> Path:
    path = tmp_path / "s.toml"
    path.write_text(BASE.format(templates=templates.as_posix()) + extra, encoding="utf-8")
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def one_error_line(code: int, err: str, *needles: str) -> str:
    """The run failed as a user error: exit 2, one `capplan: error:` line naming `needles`."""
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("capplan: error: "), err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


def float_keys(model: type[BaseModel]) -> list[str]:
    """The fields of `model` that hold a float (or an optional one)."""
    return [
        name
        for name, f in model.model_fields.items()
        if f.annotation is float or float in typing.get_args(f.annotation)
    ]


# Each table with its float keys; workload keys need the kind that reads them set first.
TABLE_KEYS = [
    *(("workload", k) for k in float_keys(WorkloadSpec)),
    *(("service", k) for k in float_keys(ServiceSpec)),
    *(("slo", k) for k in float_keys(SloSpec)),
    *(("simulation", k) for k in float_keys(SimulationSpec)),
    *(("autoscaler", k) for k in float_keys(AutoscalerSpec)),
    ("planner", "replications"),
    ("costs", "cpu_per_hour"),
    ("costs", "memory_gib_per_hour"),
    ("costs", "nvidia-ampere-a10"),
]


def with_value(table: str, key: str, value: str) -> str:
    """The scenario's extra TOML that sets table.key = value (keeping the base tables)."""
    if table in ("workload", "service"):
        return f'\n[{table}."bge-embed"]\n{key} = {value}\n'
    return f"\n[{table}]\n{key} = {value}\n"


@pytest.mark.parametrize(("table", "key"), TABLE_KEYS, ids=lambda v: str(v))
@pytest.mark.parametrize("value", ["inf", "-inf", "nan"])
def test_non_finite_numbers_are_one_error_naming_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], table: str, key: str, value: str
) -> None:
    path = scenario(tmp_path, with_value(table, key, value))
    code, _, err = run(capsys, "scenario", "validate", path)
    one_error_line(code, err, f"{key}", str(path))


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    key=st.sampled_from(
        [
            "workload.rate",
            "workload.horizon_s",
            "service.mean_s",
            "service.batching_alpha",
            "slo.latency_p99_s",
            "simulation.gateway_timeout_s",
            "autoscaler.hpa_tolerance",
            "autoscaler.celery_period_s",
            "costs.cpu_per_hour",
        ]
    ),
    value=st.sampled_from([float("inf"), float("-inf"), float("nan"), -1.0, -1e300, 1e400]),
)
def test_set_with_a_bad_number_names_set_the_file_and_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], key: str, value: float
) -> None:
    path = scenario(tmp_path)
    text = {float("inf"): "inf", float("-inf"): "-inf"}.get(value, repr(value))
    if value != value:  # nan
        text = "nan"
    code, _, err = run(capsys, "simulate", path, "--set", f"{key}={text}", "-q")
    one_error_line(code, err, "--set", str(path), key.split(".")[1])


def test_service_cold_start_refuses_infinity(tmp_path: Path) -> None:
    extra = (
        '\n[service."bge-embed"]\ncold_start = { distribution = "deterministic", value = inf }\n'
    )
    with pytest.raises(Exception, match="cold_start"):
        load_scenario(scenario(tmp_path, extra))


def test_template_cpus_infinity_is_one_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], make_template: typing.Any
) -> None:
    template = make_template(name="x")
    template["vendor_configuration"]["endpoint_config"]["cpus"] = float("inf")
    page = tmp_path / "t.json"
    page.write_text(json.dumps([template]))  # JSON's Infinity, which json.loads accepts
    assert "Infinity" in page.read_text()
    code, _, err = run(capsys, "templates", "validate", page)
    one_error_line(code, err, "cpus", str(page))


def test_non_utf8_scenario_is_one_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = scenario(tmp_path)
    path.write_bytes(path.read_bytes() + b"\n# caf\xe9 in Latin-1\n")
    code, _, err = run(capsys, "simulate", path, "-q")
    one_error_line(code, err, str(path), "UTF-8")


def test_two_templates_with_one_name_are_one_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], make_template: typing.Any
) -> None:
    page = tmp_path / "twins.json"
    twins = [make_template(id="mt_a", name="twin"), make_template(id="mt_b", name="twin")]
    page.write_text(json.dumps(twins))
    path = scenario(tmp_path, templates=page).with_suffix(".toml")
    path.write_text(path.read_text().replace('names = ["bge-embed"]', ""))
    code, _, err = run(capsys, "scenario", "validate", path)
    one_error_line(code, err, "'twin'", "mt_a", "mt_b")


def test_warmup_at_or_past_the_horizon_names_workload_warmup_s(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "simulate", scenario(tmp_path), "--set", "workload.warmup_s=120")
    one_error_line(code, err, "workload.warmup_s", "--set")


def test_vs_errors_say_vs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = scenario(tmp_path)
    code, _, err = run(capsys, "compare", path, "--vs", "workload.rate=-1", "-q")
    line = one_error_line(code, err, "--vs", "workload.rate")
    assert "--set" not in line
    code, _, err = run(capsys, "compare", path, "--vs", "nothing.here=1", "-q")
    line = one_error_line(code, err, "--vs nothing.here")
    assert "--set" not in line


def test_no_arguments_prints_help_and_no_empty_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys)
    assert code == 2 and "Usage" in out and "simulate" in out
    assert "error" not in err


def test_scale_from_zero_warning_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = scenario(tmp_path, '\n[simulation]\nautoscaler = "static"\n')
    sets = ["--set", "endpoint_config.min_workers=0", "--set", "endpoint_config.endpoint_type=SYNC"]
    code, _, err = run(capsys, "simulate", path, *sets, "--json", "-q")
    assert code == 0, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("capplan: warning: "), err
    assert "scale-from-zero" in lines[0] and "Warning" not in lines[0]


# ---------------------------------------------------------------- [autoscaler]
def test_autoscaler_table_covers_every_parameter() -> None:
    """Every constant the engine's autoscalers read is reachable from a scenario."""
    assert set(AutoscalerSpec.model_fields) == set(AutoscalerParams.__dataclass_fields__)
    assert AutoscalerSpec().params() == AutoscalerParams()  # defaults live in one place


def test_autoscaler_table_reaches_the_engine(tmp_path: Path) -> None:
    extra = (
        "\n[autoscaler]\nhpa_tolerance = 0.25\nhpa_behavior_policies = true\n"
        "keda_metric_activation = false\ncelery_period_s = 30\ncelery_cooldown_s = 60\n"
    )
    case = load_scenario(scenario(tmp_path, extra)).case("bge-embed")
    params = EngineConfig.from_case(case).autoscaler_params
    assert params.hpa_tolerance == 0.25 and params.hpa_behavior_policies is True
    assert params.keda_metric_activation is False
    assert params.celery_period_s == 30 and params.celery_cooldown_s == 60
    assert params.hpa_sync_period_s == AutoscalerParams().hpa_sync_period_s


def test_hpa_sync_period_changes_the_simulation(tmp_path: Path) -> None:
    """bge-embed is SYNC with min_workers 1: the HPA records one tick per sync period."""
    from capplan.simulate import simulate

    path = scenario(tmp_path)
    fast, slow = (
        simulate(path, overrides={"autoscaler.hpa_sync_period_s": p})[0] for p in (15.0, 30.0)
    )
    ticks = [len(r.timeline) for r in (fast, slow)]
    assert ticks == [120 // 15, 120 // 30]  # a 120 s horizon, ticks from t = 0


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        ("\n[autoscaler]\nhpa_tolerence = 0.2\n", "autoscaler.hpa_tolerence: unknown key"),
        ("\n[autoscaler]\nhpa_tolerance = 1.5\n", "autoscaler.hpa_tolerance"),
        ("\n[autoscaler]\ncelery_period_s = 0\n", "autoscaler.celery_period_s"),
        ('\n[autoscaler]\nkeda_metric_activation = "yes please"\n', "keda_metric_activation"),
    ],
)
def test_bad_autoscaler_keys(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: str, needle: str
) -> None:
    code, _, err = run(capsys, "scenario", "validate", scenario(tmp_path, extra))
    one_error_line(code, err, needle)


@pytest.mark.parametrize(
    "argv",
    [
        ["simulate", "{path}", "--replications", "1000000", "-q"],
        ["compare", "{path}", "--replications", "1000000", "--vs", "workload.rate=3", "-q"],
        ["recommend", "{path}", "-q"],  # [planner] replications = 1000000 in the file
    ],
    ids=["simulate", "compare", "recommend"],
)
def test_huge_replications_meet_the_volume_limit_on_every_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    path = scenario(tmp_path, "\n[planner]\nreplications = 1000000\n")
    code, _, err = run(capsys, *(a.format(path=path) for a in argv))
    one_error_line(code, err, "max_requests", "1000000 replications")
