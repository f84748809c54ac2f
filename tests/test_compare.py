"""What-if comparisons: common random numbers, paired differences, the CLI."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from capplan.cli import main
from capplan.cli.compare_cmd import split_vs
from capplan.compare import Comparison, _labels, compare, paired_difference, variant_label
from capplan.errors import CapplanError
from capplan.metrics import confidence_interval
from capplan.simulate import simulate

REPO = Path(__file__).resolve().parents[1]
EXAMPLE_TEMPLATES = REPO / "scenarios" / "templates" / "example.json"

SCENARIO = """
name = "small"
seed = 5

[templates]
path = "{templates}"
{names}

[workload]
kind = "poisson"
rate = 12.0
horizon_s = 600
warmup_s = 60

[service]
kind = "latency"
distribution = "lognormal"
median_s = 0.2
p99_s = 0.8
batching_alpha = 0.2
cold_start = {{ distribution = "uniform", low = 20, high = 60 }}

[slo]
latency_p99_s = 2.0
"""

PW = "endpoint_config.per_worker"


def _write(tmp_path: Path, names: str = 'names = ["bge-embed"]') -> Path:
    path = tmp_path / "small.toml"
    path.write_text(SCENARIO.format(templates=EXAMPLE_TEMPLATES.as_posix(), names=names))
    return path


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _write(tmp_path_factory.mktemp("compare"))


@pytest.fixture(scope="module")
def three(small: Path) -> Comparison:
    return compare(
        small,
        base={"endpoint_config.min_workers": 0},
        variants=[{PW: 2}, {PW: 8, "endpoint_config.max_workers": 2}],
        replications=3,
    )


# ---------------------------------------------------------------- the API
def test_configurations_labels_and_tables(three: Comparison) -> None:
    assert three.labels == ["baseline", "per_worker=2", "per_worker=8, max_workers=2"]
    assert three.template == "bge-embed" and three.replications == 3 and three.seed == 5
    assert three.baseline.overrides == {"endpoint_config.min_workers": 0}
    assert three.variants[1].overrides == {
        "endpoint_config.min_workers": 0,
        PW: 8,
        "endpoint_config.max_workers": 2,
    }
    assert [c.summary["per_worker"] for c in three.configurations] == [32, 2, 8]
    assert all(c.summary["min_workers"] == 0 for c in three.configurations)
    table = three.table
    assert list(table.columns) == three.labels
    assert "latency_p99_s" in table.index and "cost_per_hour" in table.index
    assert "ttft_p99_s" not in table.index  # a SYNC endpoint has no first-token time
    diffs = three.differences
    assert len(diffs) == 2 * len(table)
    assert set(diffs["configuration"]) == set(three.labels[1:])


def test_baseline_is_exactly_what_simulate_gives(small: Path, three: Comparison) -> None:
    ref = simulate(small, overrides={"endpoint_config.min_workers": 0}, replications=3)[0]
    assert three.baseline.runs == ref.runs


def test_differences_are_paired_by_replication(three: Comparison) -> None:
    base, var = three.baseline.runs, three.variants[0].runs
    for key in ("latency_p99_s", "cost_per_hour", "mean_workers"):
        d = [v[key] - b[key] for b, v in zip(base, var, strict=True)]
        got = three.difference(three.variants[0], key)
        assert got["difference"] == pytest.approx(np.mean(d))
        lo, hi = confidence_interval(d, 0.95)
        assert (got["ci_low"], got["ci_high"]) == pytest.approx((lo, hi))
        assert got["pairs"] == 3
        assert got["baseline"] == pytest.approx(np.mean([b[key] for b in base]))


def test_common_random_numbers_make_a_no_op_variant_exactly_zero(small: Path) -> None:
    cmp = compare(small, variants=[{PW: 32}], replications=2)  # the template's own value
    assert cmp.baseline.runs == cmp.variants[0].runs
    for key in cmp.metrics:
        d = cmp.difference(cmp.variants[0], key)
        assert d["difference"] == 0 and not d["significant"]


def test_pairing_narrows_the_interval(three: Comparison) -> None:
    """The same requests in both: paired CI narrower than the unpaired one."""
    key = "latency_p99_s"
    base = [r[key] for r in three.baseline.runs]
    var = [r[key] for r in three.variants[0].runs]
    lo, hi = confidence_interval(base)
    lo2, hi2 = confidence_interval(var)
    d = three.difference(three.variants[0], key)
    assert d["ci_high"] - d["ci_low"] < (hi - lo) + (hi2 - lo2)


def test_one_replication_has_no_interval_and_says_so(small: Path) -> None:
    cmp = compare(small, variants=[{PW: 2}], replications=1)
    d = cmp.difference(cmp.variants[0], "latency_p99_s")
    assert not math.isnan(d["difference"])
    assert math.isnan(d["ci_low"]) and math.isnan(d["ci_high"]) and not d["significant"]
    assert "without confidence intervals" in cmp.note()


def test_identical_differences_are_never_significant() -> None:
    """Exact replays: every pair differs by the same 2 s, so the interval has zero width.
    It measures no noise, so it is no evidence: not significant."""
    d = paired_difference([{"m": 1.0}] * 3, [{"m": 3.0}] * 3, "m")
    assert d["difference"] == 2.0 and d["ci_low"] == d["ci_high"] == 2.0
    assert not d["significant"]
    spread = paired_difference([{"m": 1.0}] * 3, [{"m": 3.0}, {"m": 3.1}, {"m": 2.9}], "m")
    assert spread["significant"]


def test_paired_difference_skips_nan_pairs() -> None:
    base = [{"m": 1.0}, {"m": math.nan}, {"m": 3.0}, {"m": 2.0}]
    var = [{"m": 2.0}, {"m": 5.0}, {"m": 5.0}, {"m": math.nan}]
    d = paired_difference(base, var, "m")
    assert d["pairs"] == 2 and d["difference"] == pytest.approx(1.5)
    assert d["baseline"] == pytest.approx(2.0) and d["value"] == pytest.approx(4.0)
    empty = paired_difference([{"m": math.nan}], [{"m": 1.0}], "m")
    assert empty["pairs"] == 0 and math.isnan(empty["difference"])


def test_labels() -> None:
    assert variant_label({PW: 8, "workload.rate": 2.5}) == "per_worker=8, rate=2.5"
    assert variant_label({"planner.per_worker": [1, 2]}, full=True) == "planner.per_worker=[1,2]"


def test_repeated_labels_get_a_number(small: Path) -> None:
    cmp = compare(
        small,
        variants=[{PW: 4}, {PW: 4}, {"planner.per_worker": [4]}, {"service.cold_start": 5}],
        replications=1,
    )
    assert cmp.labels == [
        "baseline",
        "per_worker=4",
        "per_worker=4 (#2)",
        "per_worker=[4]",
        "cold_start=5",
    ]
    # Two different settings that would read the same get their full keys.
    assert _labels([{PW: 4}, {"planner.per_worker": 4}], None) == [
        "baseline",
        "endpoint_config.per_worker=4",
        "planner.per_worker=4",
    ]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"variants": []}, "at least one variant"),
        ({"variants": [{"seed": 2}]}, "cannot set seed"),
        ({"variants": [{"simulation.replications": 4}]}, "replications"),
        ({"variants": [{PW: 0}]}, "per_worker"),
        ({"variants": [{PW: 2}], "template": "nope"}, "no template named 'nope'"),
        ({"variants": [{PW: 2}], "replications": 0}, "replications"),
    ],
)
def test_errors_name_what_to_fix(small: Path, kwargs: dict, message: str) -> None:
    with pytest.raises(CapplanError, match=message):
        compare(small, **kwargs)


def test_several_templates_need_one_named(tmp_path: Path) -> None:
    path = _write(tmp_path, names='names = ["bge-embed", "llama-3-8b-chat"]')
    with pytest.raises(CapplanError, match="--template"):
        compare(path, variants=[{PW: 2}])
    cmp = compare(path, "llama-3-8b-chat", variants=[{PW: 2}], replications=1)
    assert cmp.template == "llama-3-8b-chat"


def test_figures(three: Comparison) -> None:
    fig = three.latency_cdf_figure()
    assert len(fig.axes[0].lines) == 3
    fig = three.workers_figure()
    assert len(fig.axes[0].lines) == 4  # three configurations and the warm-up marker


# ---------------------------------------------------------------- --vs parsing
def test_split_vs() -> None:
    assert split_vs(f"{PW}=8") == {PW: 8}
    assert split_vs(f"{PW}=8, endpoint_config.max_workers=6") == {
        PW: 8,
        "endpoint_config.max_workers": 6,
    }
    # Commas inside a TOML list stay in the value.
    assert split_vs("planner.per_worker=[4,8],seed=3") == {"planner.per_worker": [4, 8], "seed": 3}
    assert split_vs("endpoint_config.gpu_type=nvidia-tesla-t4") == {
        "endpoint_config.gpu_type": "nvidia-tesla-t4"
    }
    for bad in ("per_worker", "", "=3"):
        with pytest.raises(CapplanError, match="--vs"):
            split_vs(bad)


# ---------------------------------------------------------------- the CLI
def test_cli_json_is_pure_json(small: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        ["compare", str(small), "--replications", "2", "--json"]
        + ["--set", "endpoint_config.min_workers=0", "--vs", f"{PW}=2", "--vs", f"{PW}=4"]
    )
    out, err = capsys.readouterr()
    # min_workers = 0 on this SYNC template: the scale-from-zero warning, and nothing else
    assert code == 0 and err.startswith("capplan: warning: ") and err.count("\n") == 1
    doc = json.loads(out)
    assert [c["label"] for c in doc["configurations"]] == [
        "baseline",
        "per_worker=2",
        "per_worker=4",
    ]
    assert doc["configurations"][1]["settings"] == {PW: 2}
    assert doc["replications"] == 2 and doc["confidence"] == 0.95
    lat = doc["differences"][0]["metrics"]["latency_p99_s"]
    assert lat["ci_low"] <= lat["difference"] <= lat["ci_high"]
    assert "ttft_p99_s" not in doc["differences"][0]["metrics"]


def test_cli_table_and_one_replication_note(small: Path, capsys) -> None:
    assert main(["compare", str(small), "--replications", "1", "--vs", f"{PW}=2,{PW}=4"]) == 0
    out = capsys.readouterr().out
    assert "per_worker=4" in out and "latency p99" in out and "cost ($/h)" in out
    assert "1 replication: differences are shown without confidence intervals" in out


def test_cli_out_writes_figures(small: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "cmp"
    code = main(
        ["compare", str(small), "--replications", "2", "--vs", f"{PW}=2", "--out", str(out), "-q"]
    )
    assert code == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == ["comparison.csv", "comparison.json", "latency_cdf.png", "workers.png"]
    assert (out / "latency_cdf.png").read_bytes()[:4] == b"\x89PNG"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".cmp")]  # no temp left


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ([], "at least one --vs"),
        (["--vs", "nonsense"], "--vs 'nonsense'"),
        (["--vs", f"{PW}=2", "--template", "nope"], "no template named"),
    ],
)
def test_cli_errors_exit_2(small: Path, capsys, extra: list[str], message: str) -> None:
    assert main(["compare", str(small), *extra]) == 2
    err = capsys.readouterr().err
    assert err.startswith("capplan: error:") and message in err


def test_cli_several_templates_exit_2(tmp_path: Path, capsys) -> None:
    path = _write(tmp_path, names="")
    assert main(["compare", str(path), "--vs", f"{PW}=2"]) == 2
    assert "choose one with --template" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["compare", "simulate"])
def test_help_has_an_example(command: str, capsys) -> None:
    assert main([command, "--help"]) == 0
    out = capsys.readouterr().out
    assert "Example" in out and "--workers" in out and "--dask" in out and "--quiet" in out


def test_compare_and_summary_count_the_same_latency_sample(small: Path) -> None:
    """One definition of a latency sample: in-flight requests count at their time so far.

    A slow static pool leaves requests in flight at the horizon; the CDF compare
    draws must give the summary's percentiles exactly.
    """
    from capplan.compare import latency_values

    overrides = {PW: 1, "endpoint_config.min_workers": 1, "endpoint_config.max_workers": 1}
    (result,) = simulate(small, overrides=overrides, replications=1)
    assert result.summary["in_flight_at_end"] > 0  # the case the definitions disagreed on
    values = latency_values(result, warmup_s=60.0)
    for p in (50, 99):
        assert np.percentile(values, p) == pytest.approx(result.summary[f"latency_p{p}_s"])


def test_cli_a_zero_width_interval_says_no_spread(small: Path, capsys) -> None:
    """Two static pools: the cost difference is the same in every replication, so the
    table shows no interval for it and says why, rather than '± 0'."""
    static = ["--set", "endpoint_config.min_workers=2", "--set", "endpoint_config.max_workers=2"]
    vs = ["--vs", "endpoint_config.min_workers=3,endpoint_config.max_workers=3"]
    assert main(["compare", str(small), "--replications", "3", *static, *vs]) == 0
    out = " ".join(capsys.readouterr().out.split())  # rich wraps long lines
    assert "(no spread)" in out and "± $0.00" not in out
    assert "there is no interval and no confidence" in out
