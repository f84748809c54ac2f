"""Workload input that must not break capplan (issue 10): non-finite numbers,
absurd volume, hostile trace and piecewise files. Each is one line on stderr
naming the key or file, exit code 2, no traceback and no half-written output."""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

import numpy as np
import pytest
from helpers import NAME, SCENARIOS, make_scenario, write_piecewise
from hypothesis import given, settings
from hypothesis import strategies as st

from capplan.cli import main
from capplan.errors import CapplanError
from capplan.workload import (
    DEFAULT_MAX_REQUESTS,
    check_volume,
    expected_requests,
    generate,
    horizon,
    load_trace,
    minute_rates,
)

CHAT = SCENARIOS / "chat.toml"
BATCH = SCENARIOS / "batch_scorer.toml"
EMBED = SCENARIOS / "embedding_diurnal.toml"
HEADER = "TIMESTAMP,ContextTokens,GeneratedTokens\n"


def poisson(*more: str) -> list[str]:
    return ["--set", "workload.kind=poisson", *more]


def _files(tmp: Path) -> dict[str, Path]:
    rows = {
        "one_row": HEADER + "2023-11-16 18:15:46,10,1\n",
        "same_time": HEADER + "2023-11-16 18:15:46,10,1\n2023-11-16 18:15:46,20,2\n",
        "zone_mix": HEADER + "2023-11-16 18:15:46Z,10,1\n2023-11-16 18:15:50,10,1\n",
        "zone_mix2": HEADER + "2023-11-16 18:15:46,10,1\n2023-11-16T18:15:50+01:00,10,1\n",
        "huge_tokens": HEADER + "2023-11-16 18:15:46,10,1\n2023-11-16 18:25:46,1e19,1\n",
        "pw_nan": "time_s,rate\n0,1\n60,NaN\n",
        "pw_negative": "time_s,rate\n0,1\n60,-2\n",
        "pw_inf": "time_s,rate\n0,inf\n",
    }
    out = {}
    for name, text in rows.items():
        out[name] = tmp / f"{name}.csv"
        out[name].write_text(text)
    return out


ERRORS = [
    # (argv after the scenario, words the one line must contain)
    ([CHAT, *poisson("--set", "workload.rate=inf")], ["workload.rate", "finite"]),
    ([CHAT, "--set", "workload.horizon_s=inf"], ["workload.horizon_s", "finite"]),
    ([CHAT, "--set", "workload.rate_multiplier=inf"], ["workload.rate_multiplier"]),
    ([CHAT, "--set", "workload.warmup_s=-inf"], ["workload.warmup_s"]),
    ([BATCH, "--set", "workload.rates=[inf, 1.0]"], ["workload.rates", "finite"]),
    ([BATCH, "--set", "workload.mean_durations_s=[1.0, nan]"], ["workload.mean_durations_s"]),
    ([EMBED, "--set", "workload.peak_at_s=inf"], ["workload.peak_at_s", "finite"]),
    ([EMBED, "--set", "workload.peak_rate=inf"], ["workload.peak_rate", "finite"]),
    (
        [EMBED, "--set", "workload.context_tokens={{distribution='exponential', mean=inf}}"],
        ["workload.context_tokens", "mean"],
    ),
    # absurd volume: the estimate and the limit are in the message
    ([CHAT, *poisson("--set", "workload.rate=1e12")], ["3.6e+15 requests", "max_requests"]),
    (
        [CHAT, *poisson("--set", "workload.rate=1", "--set", "workload.horizon_s=1e9")],
        ["1e+09 requests", "--max-requests"],
    ),
    ([CHAT, "--replications", "1000000"], ["× 1000000 replications", "max_requests"]),
    ([CHAT, "--set", "workload.rate_multiplier=1e6"], ["requests", "max_requests"]),
    ([CHAT, "--max-requests", "100"], ["max_requests = 100"]),
    (
        [CHAT, "--set", "workload.block_s=1e-300", "--replications", "2"],
        ["workload.block_s", "blocks"],
    ),  # fmt: skip
    # trace files
    ([CHAT, "--set", "workload.path={one_row}"], ["workload.path", "0 s", "duration_s"]),
    ([CHAT, "--set", "workload.path={same_time}"], ["workload.path", "same TIMESTAMP"]),
    ([CHAT, "--set", "workload.path={zone_mix}"], ["zone_mix.csv", "row 3", "TIMESTAMP"]),
    ([CHAT, "--set", "workload.path={zone_mix2}"], ["zone_mix2.csv", "row 3", "offset"]),
    ([CHAT, "--set", "workload.path={huge_tokens}"], ["huge_tokens.csv", "ContextTokens"]),
    # piecewise rate files
    (
        [CHAT, "--set", "workload.kind=piecewise", "--set", "workload.path={pw_nan}"],
        ["pw_nan.csv", "column rate"],
    ),  # fmt: skip
    (
        [CHAT, "--set", "workload.kind=piecewise", "--set", "workload.path={pw_negative}"],
        ["pw_negative.csv", "column rate"],
    ),  # fmt: skip
    (
        [CHAT, "--set", "workload.kind=piecewise", "--set", "workload.path={pw_inf}"],
        ["pw_inf.csv", "column rate"],
    ),  # fmt: skip
]


@pytest.mark.parametrize(
    ("argv", "words"), ERRORS, ids=[" ".join(map(str, a[1:])) for a, _ in ERRORS]
)
def test_bad_workload_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list, words: list[str]
) -> None:
    files = _files(tmp_path)
    argv = [str(a).format(**files) for a in argv]
    out_dir = tmp_path / "out"
    # warm-up 0 first, so the short traces are not refused for their warm-up instead
    scenario, *rest = argv
    code = main(
        ["simulate", scenario, "--set", "workload.warmup_s=0", *rest, "--out", str(out_dir)]
    )
    out, err = capsys.readouterr()
    assert code == 2 and out == "", err
    assert "Traceback" not in err
    assert err.endswith("\n") and err.count("\n") == 1, err
    for word in words:
        assert word.format(**files) in err, (word, err)
    assert not out_dir.exists()


@pytest.mark.parametrize("command", ["recommend", "compare"])
def test_every_simulating_command_checks_the_volume(
    capsys: pytest.CaptureFixture[str], command: str
) -> None:
    more = ["--vs", "endpoint_config.per_worker=2"] if command == "compare" else []
    code = main([command, str(CHAT), *more, "--max-requests", "10"])
    _, err = capsys.readouterr()
    assert code == 2 and err.count("\n") == 1 and "max_requests = 10" in err, err


# ---------------------------------------------------------------- properties
NUMBER_KEYS = {
    "poisson": ("rate", "horizon_s", "warmup_s"),
    "diurnal": ("base_rate", "peak_rate", "period_s", "peak_at_s", "horizon_s"),
}
BASE = {
    "poisson": {"kind": "poisson", "rate": 2.0, "horizon_s": 600.0},
    "diurnal": {"kind": "diurnal", "base_rate": 1.0, "peak_rate": 3.0, "horizon_s": 600.0},
}


@settings(max_examples=40, deadline=None)
@given(
    st.sampled_from(sorted(NUMBER_KEYS)).flatmap(
        lambda kind: st.tuples(st.just(kind), st.sampled_from(NUMBER_KEYS[kind]))
    ),
    st.sampled_from([math.inf, -math.inf, math.nan]),
)
def test_any_non_finite_workload_number_is_one_error_naming_it(
    kind_key: tuple[str, str], value: float
) -> None:
    kind, key = kind_key
    with pytest.raises(CapplanError) as info:
        make_scenario(workload={**BASE[kind], key: value})
    assert f"workload.{key}" in str(info.value) and "\n" not in str(info.value)


@settings(max_examples=60, deadline=None)
@given(
    st.floats(1e-3, 1e6),
    st.floats(1.0, 1e7),
    st.integers(1, 10**6),
    st.floats(1.0, 1e9),
)
def test_volume_check_refuses_exactly_above_the_limit(
    rate: float, horizon_s: float, reps: int, limit: float
) -> None:
    spec = make_scenario(workload={"rate": rate, "horizon_s": horizon_s}).case(NAME).workload
    estimate = rate * horizon_s * reps
    assert expected_requests(spec) == pytest.approx(rate * horizon_s)
    if estimate > limit * (1 + 1e-9):
        with pytest.raises(CapplanError, match="max_requests"):
            check_volume(spec, reps, limit)
    elif estimate < limit * (1 - 1e-9):
        check_volume(spec, reps, limit)


def test_expected_requests_is_what_generate_draws() -> None:
    """The estimate is the mean count: a Poisson count within 5 standard deviations."""
    for workload in (
        {"rate": 4.0, "horizon_s": 3000.0},
        {"kind": "mmpp", "rates": [1.0, 9.0], "mean_durations_s": [50.0, 50.0], "horizon_s": 3e4},
    ):
        spec = make_scenario(workload=workload).case(NAME).workload
        counts = [len(generate(spec, 1, r)) for r in range(5)]
        estimate = expected_requests(spec)
        # mmpp adds its phase segments to the estimate (they are draws too) and its
        # count is overdispersed: compare the mean count with a wider band.
        assert abs(np.mean(counts) - estimate) <= 5 * math.sqrt(estimate) + estimate * 0.05
    assert DEFAULT_MAX_REQUESTS >= 1e7  # a week of a busy endpoint fits by default


def test_zoned_timestamps_are_compared_in_utc(tmp_path: Path) -> None:
    path = tmp_path / "zones.csv"
    path.write_text(
        HEADER + "2023-11-16T18:00:00+00:00,10,1\n2023-11-16T20:30:00+02:00,10,1\n"
        "2023-11-16T18:45:00Z,10,1\n"
    )
    t, _, _ = load_trace(path)
    assert list(t) == [0.0, 1800.0, 2700.0]  # 20:30+02:00 is 18:30 UTC


def test_a_sparse_trace_spanning_years_is_two_requests(tmp_path: Path) -> None:
    """Drawing it and its minute rates takes what the requests take, not the three years."""
    path = tmp_path / "years.csv"
    path.write_text(HEADER + "2020-01-01 00:00:00,10,1\n2023-01-01 00:00:00,10,1\n")
    spec = make_scenario(workload={"kind": "trace", "path": str(path)}).case(NAME).workload
    req = generate(spec, 1)
    assert len(req) == 2 and horizon(spec) > 9.4e7
    assert expected_requests(spec) == 2
    assert minute_rates(spec).sum() * 60 == pytest.approx(2, rel=1e-6)


def test_single_row_trace_with_a_horizon_runs(tmp_path: Path) -> None:
    path = tmp_path / "one.csv"
    path.write_text(HEADER + "2023-11-16 18:15:46,10,1\n")
    spec = (
        make_scenario(workload={"kind": "trace", "path": str(path), "horizon_s": 60.0})
        .case(NAME)
        .workload
    )
    req = generate(spec, 1)
    assert len(req) == 1 and req.horizon == 60.0


def test_piecewise_error_names_file_row_and_column(tmp_path: Path) -> None:
    path = write_piecewise(tmp_path / "steps.csv", [(0.0, 1.0), (60.0, -1.0)])
    spec = make_scenario(workload={"kind": "piecewise", "path": str(path)}).case(NAME).workload
    with pytest.raises(CapplanError, match=r"steps.csv: row 3, column rate: must be >= 0"):
        generate(spec, 1)


def test_a_horizon_beyond_the_minute_bins_is_one_error() -> None:
    spec = make_scenario(workload={"rate": 1e-300, "horizon_s": 1e300}).case(NAME).workload
    check_volume(spec, 1, DEFAULT_MAX_REQUESTS)  # one expected request: the volume is fine
    with pytest.raises(CapplanError, match=r"workload.horizon_s: .* minute bins"):
        minute_rates(spec)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 10**6), st.integers(-14 * 60, 14 * 60).map(lambda m: m // 15 * 15)
        ),
        min_size=2,
        max_size=8,
    )
)
def test_any_utc_offsets_give_the_utc_differences(rows: list[tuple[int, int]]) -> None:
    """Rows at UTC second s written with an offset of m minutes read back as s − min(s)."""
    base = np.datetime64("2023-11-16T00:00:00", "s")
    lines = []
    for second, minutes in rows:
        local = base + np.timedelta64(second + minutes * 60, "s")
        sign, m = ("+" if minutes >= 0 else "-"), abs(minutes)
        lines.append(f"{local}{sign}{m // 60:02d}:{m % 60:02d},1,1")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "zones.csv"
        path.write_text(HEADER + "\n".join(lines) + "\n")
        t, _, _ = load_trace(path)
    seconds = np.array([s for s, _ in rows], dtype=float)
    assert np.array_equal(t, np.sort(seconds - seconds.min()))
