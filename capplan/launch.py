"""Launch's rules that several layers share, each written once.

Endpoint types and which of them are request/response (sync) or queued
(async), and the async worker's task cap. Templates, policies, the engine, the
analytic screen and the planner all import these instead of spelling them out.
"""

from __future__ import annotations

from typing import Literal, get_args

EndpointType = Literal["SYNC", "ASYNC", "STREAMING", "BATCH"]
ENDPOINT_TYPES: tuple[str, ...] = get_args(EndpointType)

# Sync and streaming endpoints answer each request on a pod behind Istio (HPA, or KEDA
# when min_workers = 0); async ones queue in a Celery broker. Launch has no batch endpoint
# type: a batch job runs on an async endpoint (llm-engine model-engine).
SYNC_TYPES: frozenset[str] = frozenset({"SYNC", "STREAMING"})
ASYNC_TYPES: frozenset[str] = frozenset({"ASYNC", "BATCH"})

# Launch: MAX_ASYNC_CONCURRENT_TASKS = 20, an async worker runs min(per_worker, 20) tasks at
# once (model-engine common/resource_limits.py).
ASYNC_CONCURRENCY_CAP = 20


def _name(endpoint_type: object) -> str:
    """The type's name, for a plain string or an Enum member alike."""
    return str(getattr(endpoint_type, "value", endpoint_type)).upper()


def is_sync(endpoint_type: object) -> bool:
    """True for request/response endpoints (SYNC, STREAMING)."""
    return _name(endpoint_type) in SYNC_TYPES


def is_async(endpoint_type: object) -> bool:
    """True for queued endpoints (ASYNC, and BATCH, which Launch runs as async)."""
    return _name(endpoint_type) in ASYNC_TYPES


def is_streaming(endpoint_type: object) -> bool:
    """True when the client sees a first token before the whole answer."""
    return _name(endpoint_type) == "STREAMING"


def async_task_slots(per_worker: int, cap: int = ASYNC_CONCURRENCY_CAP) -> int:
    """Tasks one async worker runs at once: min(per_worker, cap)."""
    return min(per_worker, cap)
