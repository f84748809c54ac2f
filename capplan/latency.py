"""The one definition of a latency sample, used by the summary, the figures and compare.

A request that arrived at or after the warm-up counts. Finished requests count
their time; a request still in the system at the horizon is censored, not
dropped: it counts its time so far, (horizon − arrival), unless it already has
the quantity measured (a streaming request in flight may have its first token,
which then counts as is). Rejected and expired requests are errors, counted in
the error rate, not in latency. Leaving unfinished requests out would let an
endpoint that falls behind look fast; counting them at their time so far makes
every percentile a lower bound on what the requests will see.
"""

from __future__ import annotations

import numpy as np

from capplan.engine.records import OK, PENDING


def latency_sample(
    arrival: np.ndarray, done_at: np.ndarray, status: np.ndarray, horizon: float
) -> np.ndarray:
    """Times from arrival to `done_at` (end, first token or start), censored at the horizon.

    Arrays are per request, already restricted to the requests that count
    (arrived after warm-up); the result is unsorted.
    """
    done = ((status == OK) | (status == PENDING)) & ~np.isnan(done_at)
    open_ = (status == PENDING) & np.isnan(done_at)
    return np.concatenate([done_at[done] - arrival[done], horizon - arrival[open_]])
