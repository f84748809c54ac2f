"""What one engine run produces: request status codes and the record of arrays.

The metrics module turns an EngineRecord into DataFrames; nothing here knows
of SimPy or of how the run was made.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from capplan.engine.worker import Worker

# Request status codes in the `status` array.
PENDING, OK, REJECTED_429, REJECTED_503, EXPIRED = 0, 1, 2, 3, 4
STATUS_NAMES = ("in_flight", "ok", "rejected_429", "rejected_503", "expired")

TIMELINE_COLUMNS = (
    "time",
    "desired",
    "provisioning",
    "starting",
    "ready",
    "draining",
    "in_flight",
    "queued",
)


@dataclass(frozen=True, slots=True)
class EngineRecord:
    """What one run produced, as arrays (the metrics module makes DataFrames)."""

    arrival: np.ndarray
    start: np.ndarray
    first_token: np.ndarray
    end: np.ndarray
    worker: np.ndarray
    status: np.ndarray
    retries: np.ndarray
    # id, requested_at, ready_at, drain_at, stop_at, max_k, cold, failed_at
    workers: dict[str, np.ndarray]
    timeline: np.ndarray  # rows: TIMELINE_COLUMNS
    horizon: float
    concurrency_limit: int
    cost_per_hour: float
    prompt_tokens: np.ndarray | None = None  # per request, when the service counts tokens
    output_tokens: np.ndarray | None = None


def worker_table(workers: Sequence[Worker]) -> dict[str, np.ndarray]:
    """One array per worker attribute the metrics need, in worker id order."""
    return {
        "id": np.array([w.id for w in workers], dtype=np.int32),
        "requested_at": np.array([w.requested_at for w in workers], dtype=float),
        "ready_at": np.array([w.ready_at for w in workers], dtype=float),
        "drain_at": np.array([w.drain_at for w in workers], dtype=float),
        "stop_at": np.array([w.stop_at for w in workers], dtype=float),
        "max_k": np.array([w.max_k for w in workers], dtype=np.int32),
        "cold": np.array([w.cold for w in workers], dtype=bool),
        "failed_at": np.array([w.failed_at for w in workers], dtype=float),
    }


def timeline_array(rows: list[tuple[float, ...]]) -> np.ndarray:
    """The timeline rows as one float array with a column per TIMELINE_COLUMNS entry."""
    return np.array(rows, dtype=float).reshape(-1, len(TIMELINE_COLUMNS))
