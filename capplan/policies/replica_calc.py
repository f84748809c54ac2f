"""The Kubernetes HPA replica calculator, for the two metric sources Launch's endpoints use.

- Pods metric, target AverageValue: Launch's own HPA (min_workers >= 1) on
  `request-concurrency-average`, one value per pod.
- External metric, target AverageValue: the HPA that KEDA generates for a
  ScaledObject (min_workers = 0); one total, divided by every non-terminated pod.

Both follow kube-controller-manager's `pkg/controller/podautoscaler/replica_calculator.go`
(calcPlainMetricReplicas, GetExternalPerPodMetricReplicas, groupPods). Metric values
are milli-units in int, as the custom and external metrics APIs hand them to the
controller, so integer division and rounding match the controller's.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

MAX_INT32 = 2**31 - 1  # replica counts are int32 in the k8s API
MAX_INT64 = 2**63 - 1  # metric quantities are int64 milli-values

# Pod phases as the API reports them.
PENDING, RUNNING, SUCCEEDED, FAILED = "Pending", "Running", "Succeeded", "Failed"


@dataclass(frozen=True, slots=True)
class PodStatus:
    """What the replica calculator reads of one pod."""

    phase: str = RUNNING
    deleted: bool = False  # has a deletionTimestamp (terminating)
    metric: int | None = None  # milli-value from the metrics API; None when it has none


@dataclass(frozen=True, slots=True)
class PodGroups:
    """groupPods' result for a Pods (non-CPU) metric."""

    values: tuple[int, ...]  # metrics of the pods counted as ready
    unready: int  # Pending pods
    missing: int  # running pods the metrics API returned nothing for

    @property
    def ready(self) -> int:
        return len(self.values)


def group_pods(pods: Iterable[PodStatus]) -> PodGroups:
    """Sort pods as k8s groupPods does for a metric that is not CPU.

    Terminating (deletionTimestamp set) and terminal (Failed, Succeeded) pods are
    ignored and their metrics dropped; Pending pods are "unready" and their metrics
    dropped; running pods without a metric are "missing". Readiness itself is only
    consulted for CPU, so a running pod that reports a metric counts as ready.
    """
    values: list[int] = []
    unready = missing = 0
    for pod in pods:
        if pod.deleted or pod.phase in (FAILED, SUCCEEDED):
            continue
        if pod.phase == PENDING:
            unready += 1
        elif pod.metric is None:
            missing += 1
        else:
            values.append(pod.metric)
    return PodGroups(tuple(values), unready, missing)


def within_tolerance(ratio: float, tolerance_down: float, tolerance_up: float) -> bool:
    """k8s Tolerances.isWithin: 1 - down <= ratio <= 1 + up (False for NaN)."""
    return 1.0 - tolerance_down <= ratio <= 1.0 + tolerance_up


def usage_ratio(values: Sequence[int], target: int) -> tuple[float, int]:
    """k8s GetMetricUsageRatio: (mean usage / target, mean usage); the mean is int64 division."""
    usage = sum(values) // len(values)
    return usage / target, usage


def pods_metric_replicas(
    current: int, groups: PodGroups, target: int, tolerance_down: float, tolerance_up: float
) -> tuple[int, int] | None:
    """k8s calcPlainMetricReplicas: (replicas, mean usage), or None with no ready metric.

    Missing pods count as using exactly the target on a scale-down and 0 on a scale-up;
    unready pods count as 0 on a scale-up; the current count holds when the recomputed
    ratio is within tolerance, would reverse the direction, or the pod count would.
    """
    if not groups.values:
        return None  # k8s: "did not receive metrics for targeted pods"; the HPA does not scale
    ratio, usage = usage_ratio(groups.values, target)
    scale_up_with_unready = groups.unready > 0 and ratio > 1.0
    if not scale_up_with_unready and groups.missing == 0:
        if within_tolerance(ratio, tolerance_down, tolerance_up):
            return current, usage
        return math.ceil(ratio * groups.ready), usage
    values = list(groups.values)
    if ratio < 1.0:
        values += [target] * groups.missing
    elif ratio > 1.0:
        values += [0] * groups.missing
    if scale_up_with_unready:
        values += [0] * groups.unready
    new_ratio, _ = usage_ratio(values, target)
    if (
        within_tolerance(new_ratio, tolerance_down, tolerance_up)
        or (ratio < 1.0 < new_ratio)
        or (ratio > 1.0 > new_ratio)
    ):
        return current, usage
    replicas = math.ceil(new_ratio * len(values))
    if (new_ratio < 1.0 and replicas > current) or (new_ratio > 1.0 and replicas < current):
        return current, usage  # the extra pods in the count would reverse the direction
    return replicas, usage


def external_per_pod_replicas(
    status_replicas: int, usage: int, target: int, tolerance_down: float, tolerance_up: float
) -> tuple[int, int]:
    """k8s GetExternalPerPodMetricReplicas: (replicas, usage per pod).

    The total is divided by the target times `status_replicas`, the scale target's
    status replicas (every non-terminated pod, ready or not); there is no pod grouping.
    """
    usage = min(usage, MAX_INT64)  # k8s caps the sum of samples at MaxInt64
    denominator = float(target) * float(status_replicas)
    if denominator:
        ratio = float(usage) / denominator
    else:
        ratio = math.inf if usage else math.nan  # Go float division by zero
    replicas = status_replicas
    if not within_tolerance(ratio, tolerance_down, tolerance_up):
        wanted = math.ceil(float(usage) / float(target))
        replicas = MAX_INT32 if wanted > MAX_INT32 else wanted
    return replicas, per_pod_usage(usage, status_replicas)


def per_pod_usage(usage: int, status_replicas: int) -> int:
    """k8s getPerPodUsage: ceil(usage / replicas), MaxInt64 on overflow, 0 with no replicas."""
    if float(usage) >= float(MAX_INT64):
        return MAX_INT64
    if status_replicas == 0:
        return 0
    return math.ceil(float(usage) / float(status_replicas))


def to_milli(value: float) -> int:
    """A metric value as the milli-quantity the controller receives.

    The Prometheus adapter and KEDA hand over int64(value × 1000); the small snap
    keeps float noise from an area difference (1.9999999999) from losing a milli.
    """
    return math.floor(value * 1000.0 + 1e-6)
