"""Checks shared by the TOML loader and `--set`: one model per table, one seed rule."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError

from capplan.errors import CapplanError
from capplan.scenario.autoscaler_spec import AutoscalerSpec
from capplan.scenario.specs import FaultsSpec, PlannerSpec, ServiceSpec, SimulationSpec, SloSpec
from capplan.scenario.workload_spec import WorkloadSpec
from capplan.validation import validation_message

# Tables that hold defaults plus per-template sub-tables, and the Scenario attribute
# holding each one's merged spec per template.
PER_TEMPLATE: dict[str, tuple[type[BaseModel], str]] = {
    "workload": (WorkloadSpec, "workloads"),
    "service": (ServiceSpec, "services"),
    "slo": (SloSpec, "slos"),
}
# Tables that hold one spec for the whole scenario, and its Scenario attribute.
WHOLE_SCENARIO: dict[str, type[BaseModel]] = {
    "planner": PlannerSpec,
    "simulation": SimulationSpec,
    "autoscaler": AutoscalerSpec,
    "faults": FaultsSpec,
}


def validate(model: type[BaseModel], data: dict[str, Any], where: str) -> Any:
    """`model` built from `data`, or one CapplanError line naming `where`.field."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise CapplanError(validation_message(exc, where)) from None


def check_seed(value: object, where: str = "seed") -> int:
    """The seed if it is an integer >= 0, else a CapplanError naming `where`."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise CapplanError(f"{where}: must be an integer >= 0, got {value!r}")
    return value
