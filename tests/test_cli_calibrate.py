"""`capplan calibrate`: vllm bench JSON and published-table CSV in, a fitted [service] out."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import numpy as np
import pytest

from capplan.cli import main
from capplan.llm.batch import LlmParams
from capplan.llm.loadtest import run_load

TRUE = LlmParams(
    prefill_tokens_per_s=9000, decode_tokens_per_s=60, batching_alpha=0.03, overhead_s=0.05
)


def _bench_json(path: Path, mode: str, load: float, n: int, seed: int) -> Path:
    """A `vllm bench serve --save-result` file whose numbers come from a known profile."""
    rng = np.random.default_rng(seed)
    prompt = rng.integers(200, 1500, n).astype(float)
    output = rng.integers(20, 300, n).astype(float)
    r = run_load(TRUE, prompt, output, mode, load, np.random.default_rng(20_241_130))  # type: ignore[arg-type]
    itls = [
        [float((e - f) / (o - 1))] * int(o - 1)
        for f, e, o in zip(r.first_token, r.end, output, strict=True)
    ]
    data = {
        "request_rate": "inf" if mode != "poisson" else load,
        "max_concurrency": int(load) if mode == "closed" else None,
        "input_lens": prompt.astype(int).tolist() + [100],
        "output_lens": output.astype(int).tolist() + [0],  # a failed request, logged with 0s
        "ttfts": r.ttft.tolist() + [0.0],
        "itls": itls + [[]],
    }
    path.write_text(json.dumps(data))
    return path


@pytest.fixture
def bench_files(tmp_path: Path) -> list[Path]:
    return [
        _bench_json(tmp_path / "burst.json", "burst", 40, 40, 1),
        _bench_json(tmp_path / "closed.json", "closed", 8, 64, 2),
        _bench_json(tmp_path / "poisson.json", "poisson", 1.5, 120, 3),
    ]


def test_json_recovers_the_profile_that_made_the_files(
    bench_files: list[Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["calibrate", *map(str, bench_files), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"service", "levels"}
    svc = out["service"]
    assert svc["decode_tokens_per_s"] == pytest.approx(60, rel=0.05)
    assert svc["prefill_tokens_per_s"] == pytest.approx(9000, rel=0.25)
    assert svc["batching_alpha"] == pytest.approx(0.03, abs=0.01)
    assert [lv["mode"] for lv in out["levels"]] == ["burst", "closed", "poisson"]
    assert [lv["load"] for lv in out["levels"]] == [40, 8, 1.5]  # the 0-token request dropped
    for lv in out["levels"]:
        assert set(lv) == {"mode", "load", "measured", "fitted"}
        assert lv["fitted"]["tpot_ms"] == pytest.approx(lv["measured"]["tpot_ms"], rel=0.05)


def test_out_writes_a_service_table(bench_files: list[Path], tmp_path: Path) -> None:
    target = tmp_path / "profile.toml"
    assert main(["calibrate", *map(str, bench_files), "--out", str(target)]) == 0
    svc = tomllib.loads(target.read_text())["service"]
    assert svc["kind"] == "llm"
    assert {"prefill_tokens_per_s", "decode_tokens_per_s", "batching_alpha", "overhead_s"} <= set(
        svc
    )


def test_table_output_shows_relative_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv = tmp_path / "published.csv"
    csv.write_text(
        "mode,load,input_len,output_len,ttft_ms,tpot_ms\n"
        "burst,1,512,256,60,16\nburst,16,512,256,500,19\nclosed,8,512,256,120,18\n"
    )
    assert main(["calibrate", str(csv)]) == 0
    text = capsys.readouterr().out
    assert "decode_tokens_per_s" in text and "%" in text


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("a.json", "{not json", "cannot read a vllm bench JSON"),
        ("b.json", '{"ttfts": []}', "missing 'input_lens'"),
        ("c.csv", "mode,load\nburst,1\n", "missing column 'input_len'"),
        ("d.csv", "mode,load,input_len,output_len,ttft_ms,tpot_ms\nburst,-1,1,1,1,1\n", "load"),
        ("e.json", "\udcff", "cannot read"),
    ],
)
def test_unreadable_file_is_one_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, content: str, message: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content.encode("utf-8", "surrogateescape"))
    out = tmp_path / "never.toml"
    assert main(["calibrate", str(path), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and message in err and str(path) in err
    assert not out.exists()


def test_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["calibrate", str(tmp_path / "nope.json")]) == 2
    assert "nope.json" in capsys.readouterr().err
