"""SimPy model of one Launch endpoint under load.

`run_endpoint` is the whole interface: an EngineConfig, the requests' arrival
times and work, and random streams in; an EngineRecord of numpy arrays out.
"""

from __future__ import annotations

import gc

import numpy as np

from capplan.engine.clock import MergedEnvironment
from capplan.engine.config import EngineConfig
from capplan.engine.endpoint import Endpoint
from capplan.engine.records import STATUS_NAMES, TIMELINE_COLUMNS, EngineRecord
from capplan.policies import make_autoscaler
from capplan.policies.base import Bounds

__all__ = [
    "STATUS_NAMES",
    "TIMELINE_COLUMNS",
    "EngineConfig",
    "EngineRecord",
    "run_endpoint",
]


def run_endpoint(
    cfg: EngineConfig,
    arrival: np.ndarray,
    total_work: np.ndarray,
    first_token_work: np.ndarray | None,
    horizon: float,
    cold_rng: np.random.Generator,
    tokens: tuple[np.ndarray, np.ndarray] | None = None,
    fault_rng: np.random.Generator | None = None,
    skip_idle: bool = True,
) -> EngineRecord:
    """Simulate one endpoint configuration from t = 0 to `horizon`.

    first_token_work is None unless time to first token is tracked (STREAMING).
    tokens: (prompt, output) token counts per request; the llm service needs them,
    and the record carries them for TPOT and requests.csv.
    skip_idle=False makes the control loop tick every period even at a fixed point
    (same results, `capplan.engine.idle`; for tests and comparisons).
    """
    env = MergedEnvironment()
    endpoint = Endpoint(
        env,
        cfg,
        arrival,
        total_work,
        first_token_work,
        cfg.cold_start,
        cold_rng,
        tokens,
        fault_rng,
    )
    bounds = Bounds(cfg.min_workers, cfg.max_workers, cfg.per_worker)
    autoscaler = make_autoscaler(cfg.autoscaler, cfg.endpoint_type, bounds, cfg.autoscaler_params)
    endpoint.skip_idle = skip_idle
    endpoint.boot()
    env.process(endpoint.control(autoscaler))
    # The run allocates millions of short-lived tuples and no reference cycles:
    # the cyclic collector would only rescan them. Restored even on error.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        env.run_merged(
            endpoint.arrival_list,
            endpoint.arrive,
            (endpoint.on_milestone, endpoint.on_retry),
            until=horizon,
        )
    finally:
        if was_enabled:
            gc.enable()
    return endpoint.finish(horizon)
