"""The configurations a report's figures show, simulated: replication 0 of each.

The current and the proposed configuration run on the same requests (common
random numbers), so their figures compare like with like.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from capplan.engine import EngineRecord
from capplan.planner import Config, config_case
from capplan.planner.recommendation import Knobs, Recommendation, as_recommendation
from capplan.scenario import Case, Scenario, load_scenario
from capplan.simulate import run_replication

REPLICATION = 0  # the replication the time-series figures show

# One colour per configuration, the same in every figure.
CURRENT_COLOR = "#7f7f7f"
RECOMMENDED_COLOR = "#1f77b4"


@dataclass(frozen=True)
class ConfigRun:
    """Replication 0 of one configuration of a template."""

    label: str  # "current", "recommended" or "best achievable"
    config: Config
    case: Case
    record: EngineRecord
    summary: dict[str, float]

    @property
    def color(self) -> str:
        return CURRENT_COLOR if self.label == "current" else RECOMMENDED_COLOR


def config_of(cfg: Knobs) -> Config:
    """A planner Config from a document's configuration (current, recommended, …)."""
    return Config(cfg.gpu_type or "", cfg.gpus, cfg.min_workers, cfg.max_workers, cfg.per_worker)


def simulate_configs(case: Case, doc: Recommendation | Mapping[str, Any]) -> list[ConfigRun]:
    """Replication 0 of the current and the proposed configuration (if there is one)."""
    doc = as_recommendation(doc)
    configs = [("current", config_of(doc.current))]
    label, cfg = doc.chosen()
    if cfg is not None:
        configs.append((label, config_of(cfg)))
    runs = []
    for name, config in configs:
        applied = config_case(case, config)
        summary, record = run_replication(applied, REPLICATION)
        runs.append(ConfigRun(name, config, applied, record, summary))
    return runs


def case_for(scenario: Scenario | str | Path, doc: Recommendation | Mapping[str, Any]) -> Case:
    scen = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    return scen.case(as_recommendation(doc).template)


def describe_config(cfg: Knobs | Config) -> str:
    """'2× nvidia-ampere-a10, 1–4 workers, per_worker 8'."""
    c = cfg if isinstance(cfg, Config) else config_of(cfg)
    gpu = f"{c.gpus}× {c.gpu_type}" if c.gpus and c.gpu_type else "CPU only"
    workers = (
        f"{c.min_workers} workers"
        if c.min_workers == c.max_workers
        else f"{c.min_workers}–{c.max_workers} workers"
    )
    return f"{gpu}, {workers}, per_worker {c.per_worker}"
