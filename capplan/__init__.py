"""capplan: size Launch endpoints for SGP model templates by simulation.

import capplan
results = capplan.simulate("scenarios/chat.toml")
results[0].summary["latency_p99_s"], results[0].requests, results[0].timeline
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from capplan.errors import CapplanError
from capplan.scenario import Scenario, load_scenario
from capplan.simulate import SimulationResult, simulate
from capplan.template_files import load_templates
from capplan.templates import ModelTemplate

try:
    __version__ = version("capplan")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = [
    "CapplanError",
    "ModelTemplate",
    "Scenario",
    "SimulationResult",
    "__version__",
    "load_scenario",
    "load_templates",
    "simulate",
]
