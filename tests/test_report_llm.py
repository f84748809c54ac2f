"""The report of an llm-service plan: each configuration's KV cache and batch limit, and
the roofline efficiencies labelled as assumptions with their sources."""

from __future__ import annotations

import contextlib
import io
import json

import pytest
from helpers import make_case, template_dict

from capplan.cli import main
from capplan.llm.card import BUNDLED_CARDS, DECODE_EFFICIENCY, PREFILL_EFFICIENCY, kv_cache_tokens
from capplan.llm.profile import engine_limits, roofline_assumptions

QWEN = "Qwen/Qwen2-7B-Instruct"
SCENARIO = """
name = "llm-report"
seed = 2

[templates]
path = "templates.json"

[workload]
kind = "poisson"
rate = 1.0
horizon_s = 600
warmup_s = 60
context_tokens = { distribution = "uniform", low = 100, high = 1500 }
generated_tokens = { distribution = "exponential", mean = 80 }

[service]
kind = "llm"
max_num_seqs = 64
cold_start = 30

[model]
name = "Qwen/Qwen2-7B-Instruct"

[slo]
ttft_p99_s = 3.0

[planner]
gpu_types = ["nvidia-ampere-a100e", "nvidia-hopper-h100"]
per_worker = [4, 8]
replications = 2
max_workers_cap = 3
"""


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict:
    folder = tmp_path_factory.mktemp("llm_report")
    tpl = template_dict(
        "STREAMING", name="chat", min_workers=1, max_workers=3, per_worker=4,
        gpu_type="nvidia-ampere-a100e", readiness_delay_s=30,
    )  # fmt: skip
    (folder / "templates.json").write_text(json.dumps({"items": [tpl]}))
    (folder / "s.toml").write_text(SCENARIO)
    out = folder / "report"
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        code = main(["recommend", str(folder / "s.toml"), "--workers", "1", "--json", "-q",
                     "--out", str(out)])  # fmt: skip
    assert code == 0
    return {"docs": json.loads(stdout.getvalue()), "md": (out / "report.md").read_text()}


def test_documents_carry_each_configuration_engine_limits(report: dict) -> None:
    (doc,) = report["docs"]
    card = BUNDLED_CARDS[QWEN]
    for cfg in (doc["current"], doc["rule_of_thumb"], doc["recommended"]):
        assert cfg["max_num_seqs"] == 64
        expected = kv_cache_tokens(card, cfg["gpu_type"], cfg["gpus"])
        assert cfg["kv_cache_tokens"] == float(int(expected))
    for alt in doc["alternatives"]:
        if alt["status"] == "confirmed":
            assert alt["kv_cache_tokens"] == float(int(kv_cache_tokens(card, alt["gpu_type"], 1)))


def test_report_states_limits_and_labelled_efficiencies(report: dict) -> None:
    md = report["md"]
    (doc,) = report["docs"]
    assert "KV cache tokens / worker" in md and "max_num_seqs" in md
    assert f"{doc['recommended']['kv_cache_tokens']:,.0f}" in md
    assert f"Decode efficiency {DECODE_EFFICIENCY:g} (assumption)" in md
    assert f"Prefill efficiency {PREFILL_EFFICIENCY:g} (assumption)" in md
    assert "dennislee22/vLLM-benchmarking" in md


def test_measured_speeds_need_no_efficiency_assumption() -> None:
    kw = {"workload": {"rate": 1}, "gpu_type": "nvidia-ampere-a100e"}
    card_only = make_case("STREAMING", service={"kind": "llm", "model": {"name": QWEN}}, **kw)
    assert len(roofline_assumptions(card_only.service)) == 2
    measured = make_case(
        "STREAMING",
        service={"kind": "llm", "model": {"name": QWEN}, "prefill_tokens_per_s": 9000,
                 "decode_tokens_per_s": 70},
        **kw,
    )  # fmt: skip
    assert roofline_assumptions(measured.service) == []
    half = make_case(
        "STREAMING",
        service={"kind": "llm", "model": {"name": QWEN}, "decode_tokens_per_s": 70},
        **kw,
    )
    (only,) = roofline_assumptions(half.service)
    assert only.startswith("Prefill efficiency")


def test_other_service_kinds_have_no_engine_limits() -> None:
    case = make_case("SYNC", workload={"rate": 1})
    assert engine_limits(case.service, None, 0) == {}


def test_unbounded_cache_is_left_out() -> None:
    case = make_case(
        "STREAMING",
        workload={"rate": 1},
        service={"kind": "llm", "prefill_tokens_per_s": 9000, "decode_tokens_per_s": 70},
        gpu_type="nvidia-ampere-a100e",
    )
    assert engine_limits(case.service, "nvidia-ampere-a100e", 1) == {"max_num_seqs": 256}
