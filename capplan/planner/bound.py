"""Candidates and the cost bounds that decide which are worth simulating."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from capplan.analytic import (
    GpuOption,
    Screen,
    concurrency_limit,
    cost_for_concurrency,
    screen,
)
from capplan.hardware import GPU_TYPES, worker_cost_per_hour
from capplan.planner.config import SYNC_TOLERANCE, Config, sync_case
from capplan.scenario import Case, Scenario
from capplan.service import fits, gpus_to_fit


# ---------------------------------------------------------------- candidates
@dataclass(frozen=True)
class Candidate:
    base: Config  # workers unset (0)
    screen: Screen
    lower_bound: float  # fluid $/hour with this per_worker

    @property
    def static_key(self) -> tuple[str, int, int]:
        """Sync endpoints' static pools don't depend on per_worker (only the HPA uses it)."""
        return (self.base.gpu_type, self.base.gpus, self.base.per_worker)


def gpu_options(case: Case, gpu_types: Sequence[str] | None, change_count: bool) -> list[GpuOption]:
    """GPU types (and counts) that hold the model, each with its worker price."""
    ec = case.template.endpoint_config
    memory = case.service.model_memory_gb or 0.0
    options = []
    for name in gpu_types or GPU_TYPES:
        count = gpus_to_fit(memory, name) if change_count else ec.gpus
        if count is None or not fits(memory, name, count):
            continue
        price = worker_cost_per_hour(name, count, float(ec.cpus), ec.memory_bytes, case.prices)
        options.append(GpuOption(name, count, price))
    return options


def candidates(case: Case, scenario: Scenario) -> tuple[list[Candidate], list[Screen], int]:
    """Screened candidates (cheapest bound first), every screen, and how many were cut."""
    planner = scenario.planner
    screens = [
        screen(case, opt) for opt in gpu_options(case, planner.gpu_types, planner.change_gpu_count)
    ]
    is_async = not sync_case(case)
    out, cut = [], 0
    for scr in screens:
        for pw in planner.per_worker:
            k = min(pw, concurrency_limit(case, pw)) if is_async else pw * SYNC_TOLERANCE
            if not scr.feasible or pw > scr.k_max:
                cut += 1
                continue
            base = Config(scr.option.gpu_type, scr.option.gpus, 0, 0, pw)
            out.append(Candidate(base, scr, cost_for_concurrency(case, scr, k)))
    out.sort(key=lambda c: (c.lower_bound, c.base))
    return out, screens, cut


def search_concurrency(case: Case, c: Candidate, is_sync: bool) -> float:
    return (
        c.base.per_worker * SYNC_TOLERANCE
        if is_sync
        else concurrency_limit(case, c.base.per_worker)
    )


def worth(case: Case, c: Candidate, is_sync: bool, best: float) -> bool:
    """Simulate c if its bound can beat the best so far — and always on the template's
    own GPU type, so a review sees the best it could do without changing hardware."""
    ec = case.template.endpoint_config
    own = c.base.gpu_type == ec.gpu_type
    return own or candidate_bound(case, c, is_sync) < best


def candidate_bound(case: Case, c: Candidate, is_sync: bool) -> float:
    """A bound no configuration of the candidate can beat.

    Sync endpoints: the GPU's own fluid bound, whatever per_worker says — with
    min_workers = max_workers the HPA target never binds, and pods may run up
    to the concurrency the SLO allows.
    """
    return c.screen.fluid_cost_per_hour if is_sync else c.lower_bound
