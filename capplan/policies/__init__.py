"""Autoscaling policies: an observation of one endpoint in, desired workers out.

`make_autoscaler` picks what Launch would run for an endpoint type; the engine
calls the result's `decide` every `period_s` simulated seconds.
"""

from __future__ import annotations

from capplan.errors import CapplanError
from capplan.launch import ENDPOINT_TYPES, is_async
from capplan.policies.base import (
    Autoscaler,
    AutoscalerParams,
    Bounds,
    Observation,
)
from capplan.policies.celery import CeleryAutoscaler
from capplan.policies.hpa import HpaAutoscaler
from capplan.policies.keda import KedaAutoscaler
from capplan.policies.static import StaticAutoscaler

AUTOSCALER_KINDS: tuple[str, ...] = ("launch", "static")

__all__ = [
    "AUTOSCALER_KINDS",
    "ENDPOINT_TYPES",
    "Autoscaler",
    "AutoscalerParams",
    "Bounds",
    "CeleryAutoscaler",
    "HpaAutoscaler",
    "KedaAutoscaler",
    "Observation",
    "StaticAutoscaler",
    "make_autoscaler",
]


def make_autoscaler(
    kind: str, endpoint_type: str, bounds: Bounds, params: AutoscalerParams | None = None
) -> Autoscaler:
    """The autoscaler `kind` for an endpoint of `endpoint_type` with these bounds."""
    params = params or AutoscalerParams()
    etype = _endpoint_type(endpoint_type)
    if kind == "static":
        return StaticAutoscaler(bounds, params)
    if kind != "launch":
        raise CapplanError(
            f"simulation.autoscaler: unknown autoscaler {kind!r}; "
            f"allowed: {', '.join(AUTOSCALER_KINDS)}"
        )
    return _launch_autoscaler(etype, bounds, params)


def _launch_autoscaler(etype: str, bounds: Bounds, params: AutoscalerParams) -> Autoscaler:
    """What Launch deploys for this endpoint type."""
    # Launch: async endpoints get celery workers sized by the celery autoscaler; a batch
    # job runs on an async endpoint (Launch has no batch endpoint type).
    if is_async(etype):
        return CeleryAutoscaler(bounds, params)
    # Launch k8s_endpoint_resource_delegate: exactly one of HPA (min_workers > 0)
    # or KEDA ScaledObject (min_workers == 0) per sync/streaming endpoint.
    if bounds.min_workers == 0:
        return KedaAutoscaler(bounds, params)
    return HpaAutoscaler(bounds, params)


def _endpoint_type(endpoint_type: str) -> str:
    """The endpoint type upper-cased, or a CapplanError listing the allowed ones."""
    # Accept an Enum member too, by its value.
    etype = str(getattr(endpoint_type, "value", endpoint_type)).upper()
    if etype not in ENDPOINT_TYPES:
        raise CapplanError(
            f"endpoint_type: unknown endpoint type {endpoint_type!r}; "
            f"allowed: {', '.join(ENDPOINT_TYPES)}"
        )
    return etype
