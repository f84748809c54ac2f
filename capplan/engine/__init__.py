"""SimPy model of one Launch endpoint under load.

`run_endpoint` is the whole interface: an EngineConfig, the requests' arrival
times and work, and random streams in; an EngineRecord of numpy arrays out.
"""

from __future__ import annotations

import numpy as np

from capplan.engine.clock import MergedEnvironment
from capplan.engine.closed import run_closed
from capplan.engine.config import EngineConfig
from capplan.engine.endpoint import Endpoint
from capplan.engine.records import STATUS_NAMES, TIMELINE_COLUMNS, EngineRecord
from capplan.engine.setup import start_endpoint, without_cycle_collector

__all__ = [
    "STATUS_NAMES",
    "TIMELINE_COLUMNS",
    "EngineConfig",
    "EngineRecord",
    "run_closed",
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
    clients: int | None = None,
    hold_fixed: bool = True,
) -> EngineRecord:
    """Simulate one endpoint configuration from t = 0 to `horizon`.

    first_token_work is None unless time to first token is tracked (STREAMING).
    tokens: (prompt, output) token counts per request; the llm service needs them,
    and the record carries them for TPOT and requests.csv.
    skip_idle=False makes the control loop tick every period even at a fixed point
    (same results, `capplan.engine.idle`; for tests and comparisons).
    hold_fixed=False runs the policy at every tick of a fixed pool (min_workers ==
    max_workers) too (same results, `capplan.engine.fixed`; for tests and comparisons).
    clients: a closed loop (`capplan.engine.closed`) of that many clients; `arrival`
    is then ignored and the record holds only the requests sent before the horizon,
    with the times they were sent.
    """
    if clients is not None:
        prompt, output = tokens if tokens is not None else (None, None)
        block = (arrival, total_work, first_token_work, output, prompt)
        return run_closed(
            cfg,
            iter([block]),
            horizon,
            cold_rng,
            clients,
            len(arrival),
            fault_rng=fault_rng,
            skip_idle=skip_idle,
            hold_fixed=hold_fixed,
        )
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
    endpoint.skip_idle = skip_idle
    endpoint.hold_fixed = hold_fixed
    start_endpoint(endpoint, cfg)
    with without_cycle_collector():
        env.run_merged(
            endpoint.arrival_list,
            endpoint.arrive,
            (endpoint.on_milestone, endpoint.on_retry, endpoint.on_send),
            until=horizon,
        )
    return endpoint.finish(horizon)
