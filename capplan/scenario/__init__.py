"""Scenario files: traffic, service profile, SLO, prices — TOML in, frozen data out.

- `specs.py`, `workload_spec.py`, `autoscaler_spec.py`: one frozen pydantic model per table.
- `model.py`: `Scenario` (per-template merged specs) and `Case` (one template's input).
- `loader.py`: the TOML file → `Scenario`.
- `overrides.py`: `--set KEY=VALUE` applied to a `Scenario`.
"""

from capplan.scenario.autoscaler_spec import AutoscalerSpec
from capplan.scenario.loader import build_scenario, load_scenario
from capplan.scenario.model import Case, Scenario
from capplan.scenario.overrides import apply_overrides, parse_override_value, parse_overrides
from capplan.scenario.specs import PlannerSpec, ServiceSpec, SimulationSpec, SloSpec
from capplan.scenario.workload_spec import WorkloadKind, WorkloadSpec

__all__ = [
    "AutoscalerSpec",
    "Case",
    "PlannerSpec",
    "Scenario",
    "ServiceSpec",
    "SimulationSpec",
    "SloSpec",
    "WorkloadKind",
    "WorkloadSpec",
    "apply_overrides",
    "build_scenario",
    "load_scenario",
    "parse_override_value",
    "parse_overrides",
]
