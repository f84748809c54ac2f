"""`[autoscaler]`: the control loops' constants, for what-if runs against Launch's defaults.

Each key is a field of `capplan.policies.AutoscalerParams` under the same name,
with its default taken from there (so each default is written once). Adding a
parameter to the engine's autoscalers takes one line here.
"""

from __future__ import annotations

from dataclasses import replace

from pydantic import Field

from capplan.policies import AutoscalerParams
from capplan.scenario.base import Spec

_D = AutoscalerParams()  # the defaults, from their one home


class AutoscalerSpec(Spec):
    """Autoscaler constants; unset keys keep Launch's (and Kubernetes') defaults."""

    hpa_sync_period_s: float = Field(_D.hpa_sync_period_s, gt=0)
    hpa_tolerance: float = Field(_D.hpa_tolerance, ge=0, lt=1)
    hpa_metric_window_s: float = Field(_D.hpa_metric_window_s, gt=0)
    hpa_scale_down_stabilization_s: float = Field(_D.hpa_scale_down_stabilization_s, ge=0)
    hpa_behavior_policies: bool = _D.hpa_behavior_policies
    hpa_legacy_scale_up_factor: float = Field(_D.hpa_legacy_scale_up_factor, ge=1)
    hpa_legacy_scale_up_minimum: int = Field(_D.hpa_legacy_scale_up_minimum, ge=1)
    hpa_scale_up_stabilization_s: float = Field(_D.hpa_scale_up_stabilization_s, ge=0)
    hpa_scale_up_pods: int = Field(_D.hpa_scale_up_pods, ge=1)
    hpa_scale_up_percent: float = Field(_D.hpa_scale_up_percent, gt=0)
    hpa_scale_down_percent: float = Field(_D.hpa_scale_down_percent, gt=0)
    keda_polling_interval_s: float = Field(_D.keda_polling_interval_s, gt=0)
    keda_cooldown_s: float = Field(_D.keda_cooldown_s, ge=0)
    keda_key_expiry_s: float = Field(_D.keda_key_expiry_s, gt=0)
    keda_metric_activation: bool = _D.keda_metric_activation
    celery_period_s: float = Field(_D.celery_period_s, gt=0)
    celery_iteration_s: float = Field(_D.celery_iteration_s, ge=0)
    celery_cooldown_s: float = Field(_D.celery_cooldown_s, ge=0)
    static_period_s: float = Field(_D.static_period_s, gt=0)

    def params(self) -> AutoscalerParams:
        """The engine's AutoscalerParams with this table's values."""
        return replace(_D, **self.model_dump())
