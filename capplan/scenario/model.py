"""A validated scenario and the per-template case the engine runs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from capplan.errors import CapplanError
from capplan.hardware import Prices
from capplan.scenario.autoscaler_spec import AutoscalerSpec
from capplan.scenario.specs import FaultsSpec, PlannerSpec, ServiceSpec, SimulationSpec, SloSpec
from capplan.scenario.workload_spec import WorkloadSpec
from capplan.templates import ModelTemplate


@dataclass(frozen=True)
class Case:
    """Everything needed to simulate one template: the engine's input."""

    template: ModelTemplate
    workload: WorkloadSpec
    service: ServiceSpec
    slo: SloSpec
    simulation: SimulationSpec
    prices: Prices
    seed: int
    autoscaler: AutoscalerSpec = AutoscalerSpec()
    faults: FaultsSpec = FaultsSpec()

    @property
    def name(self) -> str:
        return self.template.name


@dataclass(frozen=True)
class Scenario:
    """A validated scenario: its templates and, for each, the merged specs.

    `base_dir` is where relative paths in the file (and in later `--set`
    overrides) resolve: the scenario file's folder.
    """

    name: str
    seed: int
    path: Path | None
    templates: tuple[ModelTemplate, ...]
    workloads: Mapping[str, WorkloadSpec]
    services: Mapping[str, ServiceSpec]
    slos: Mapping[str, SloSpec]
    prices: Prices
    planner: PlannerSpec
    simulation: SimulationSpec
    autoscaler: AutoscalerSpec = AutoscalerSpec()
    base_dir: Path = Path(".")
    faults: FaultsSpec = FaultsSpec()

    @property
    def template_names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.templates)

    def template(self, name: str) -> ModelTemplate:
        for t in self.templates:
            if t.name == name:
                return t
        raise CapplanError(
            f"template: no template named {name!r} in this scenario; "
            f"have: {', '.join(self.template_names)}"
        )

    def case(self, name: str) -> Case:
        return Case(
            template=self.template(name),
            workload=self.workloads[name],
            service=self.services[name],
            slo=self.slos[name],
            simulation=self.simulation,
            prices=self.prices,
            seed=self.seed,
            autoscaler=self.autoscaler,
            faults=self.faults,
        )

    def cases(self, name: str | None = None) -> list[Case]:
        return [self.case(n) for n in ([name] if name else self.template_names)]
