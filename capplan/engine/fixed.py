"""A fixed pool (min_workers == max_workers) needs no autoscaler decisions.

The M/M/c benchmark and every `[endpoint_config]` with min_workers == max_workers
run a control loop whose decisions cannot change anything; observing the pods and
running the policy every 3 s cost a fifth of a busy run. `hold` replaces that loop
with one that only writes the timeline rows the full loop (`Endpoint.control`)
would write, at the same ticks, with the same values, in the same order.

Why the results are identical. Let m = min_workers = max_workers.

1. Every decision is m. Each policy clamps its answer into [min, max] (celery,
   KEDA and behavior-HPA end in `clamp`; the static policy returns min_workers; the
   legacy HPA returns `current` when a spec is inside the bounds and no metric is
   known, else `legacy_limits`, which bounds its answer by min and max), so with
   min == max the answer is m whatever the observation and the window state.
2. The spec is always m. `Pool.desired` starts at m and `scale_to` only ever sets it
   to a decision (m). Non-draining pods (pending + ready) number m at every instant:
   `boot` starts m ready pods; a pod only leaves pending or ready by becoming ready
   (pending -> ready, count kept), by failing (`Pool._fail` launches its replacement in
   the same instant, count kept), or through `scale_to` removing pods above the
   decision, which never happens while the count equals the decision. So at each
   tick `scale_to(m)` launches and removes nothing, and `kept` (decision == current
   == spec) is True; `Endpoint.changed_at` is therefore never set by the loop, only by
   worker state changes (`Endpoint.record`), as before.
3. The policy's state is private to the loop. The autoscaler object is created in
   `engine.setup` and only the loop calls it, so its windows (HPA metric samples,
   recommendations, KEDA's activity and sync clock, celery's cooldown history) can
   influence nothing but its own decisions, which (1) fixes at m. Pod failures do not
   change this: the replacement keeps the count at m (2) while it starts.
4. What the loop leaves behind is then only its timeline row at each tick and the
   ticks' times. `hold` is the same SimPy process shape as `control` (started at
   the same point, one timeout per period, `wake` for idle jumps with kept = True and
   the same autoscaler's `settle_s`), so its ticks fall at the same float times with
   the same SimPy event order, and each writes `_row()` at the moment the full loop
   would, from the same endpoint state. When no timeline is kept (a streamed run)
   the rows are dropped anyway and the loop is not started at all; the only trace
   a tick leaves in the event loop, SimPy's clock, every other event sets anew.

tests/test_engine_idle.py runs generated fixed pools (with faults, sparse and busy
traces, every endpoint type and policy) both ways and asserts byte-identical records
and timelines.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any

from capplan.engine.idle import wake

if TYPE_CHECKING:  # type hints only: endpoint imports the engine package
    from capplan.engine.config import EngineConfig
    from capplan.engine.endpoint import Endpoint
    from capplan.policies.base import Autoscaler


def is_fixed(cfg: EngineConfig) -> bool:
    """Whether every decision of any policy is the same replica count (point 1 above)."""
    return cfg.min_workers == cfg.max_workers


def hold(ep: Endpoint, autoscaler: Autoscaler) -> Generator[Any, Any, None]:
    """The control loop of a fixed pool: the full loop's timeline rows, no decisions."""
    env, period = ep.env, autoscaler.period_s
    row = ep._row
    while True:
        row()
        skip = wake(ep, autoscaler, True) if ep.skip_idle else None
        yield env.timeout(period) if skip is None else skip
