"""What every run does around its event loop, in one place for the recorded run
(`run_endpoint`) and the streamed one (`capplan.engine.stream`)."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from capplan.engine.fixed import hold, is_fixed
from capplan.policies import make_autoscaler
from capplan.policies.base import Bounds

if TYPE_CHECKING:  # type hints only: endpoint imports the engine package
    from capplan.engine.config import EngineConfig
    from capplan.engine.endpoint import Endpoint


def start_endpoint(endpoint: Endpoint, cfg: EngineConfig) -> None:
    """Boot the warm workers and start the control loop of the scenario's autoscaler,
    with its `[autoscaler]` parameters; a fixed pool's loop only keeps the timeline
    (`capplan.engine.fixed`), unless `endpoint.hold_fixed` is False."""
    bounds = Bounds(cfg.min_workers, cfg.max_workers, cfg.per_worker)
    autoscaler = make_autoscaler(cfg.autoscaler, cfg.endpoint_type, bounds, cfg.autoscaler_params)
    endpoint.boot()
    if not (endpoint.hold_fixed and is_fixed(cfg)):
        endpoint.env.process(endpoint.control(autoscaler))
    elif endpoint.timeline_wanted:
        endpoint.env.process(hold(endpoint, autoscaler))


@contextmanager
def without_cycle_collector() -> Iterator[None]:
    """A run allocates millions of short-lived tuples and no reference cycles: the cyclic
    collector would only rescan them. Restored even on error."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
