"""The Kubernetes HPA's own test tables, run against capplan's policy functions.

`data/k8s_hpa_cases.json` holds, as data, the cases of kubernetes/kubernetes
`pkg/controller/podautoscaler/replica_calculator_test.go` and `horizontal_test.go`
that apply to a Pods metric or an External metric with AverageValue on the legacy
path (no `behavior`), which is what Launch's HPA and KEDA's generated HPA use. Each
case carries the Go test's name (`TestX/subtest`).

Cases that do not apply, and why:
- Resource (CPU) and ContainerResource metrics (TestReplicaCalcResource*,
  TestScaleUp, TestScaleDown, TestScaleUpUnreadyLessScale, TestScaleDownIncludeUnreadyPods,
  the hot-CPU and initial-readiness rules): Launch scales on a Pods metric, and k8s
  applies readiness and start-time rules to CPU alone.
- Object and ObjectPerPod metrics (TestReplicaCalcObjectMetric*, TestScaleUpCMObject,
  TestScaleUpFromZeroCMObject, ...): no Launch endpoint uses one.
- External metrics with a Value target (TestReplicaCalcExternalMetric, TestScaleUpCMExternal,
  TestScaleDownCMExternal, TestScaleDownToZeroCMExternal): KEDA's prometheus trigger
  generates an AverageValue target.
- `behavior` policies and per-direction stabilisation windows (TestScaleDownWithScalingRules,
  TestNormalizeDesiredReplicasWithBehavior, TestScalingWithRules, ...): Launch sets no
  `behavior`, so the controller runs the legacy path. capplan keeps a switch for the
  default-behavior policies, tested in test_policies.py.
- TestConvertDesiredReplicasWithRules "1 is minLimit because hpaMinReplicas < 1":
  capplan's HPA never has minReplicas 0 (KEDA owns 0 <-> 1, and its HPA has min >= 1).
- TestNormalizeDesiredReplicas' expected log length: k8s reuses one expired slot, capplan
  prunes every expired entry; the window's contents, and so the stabilised value, agree.
- Error paths of the fake metrics clients (unreachable API, label selectors, conditions
  and events): capplan has no API to fail; a missing metric leaves the replicas alone,
  tested in test_policies.py.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from capplan.policies.base import AutoscalerParams, Bounds
from capplan.policies.hpa import (
    HpaAutoscaler,
    legacy_limits,
    legacy_scale_up_limit,
    stabilize_down,
)
from capplan.policies.replica_calc import (
    PodStatus,
    external_per_pod_replicas,
    group_pods,
    pods_metric_replicas,
)

CASES: dict[str, Any] = json.loads(
    (Path(__file__).parent / "data" / "k8s_hpa_cases.json").read_text()
)
P = AutoscalerParams()


def by_name(table: str) -> Any:
    return pytest.mark.parametrize("case", CASES[table], ids=[c["test"] for c in CASES[table]])


def pod_statuses(case: dict[str, Any]) -> list[PodStatus]:
    return [PodStatus(p["phase"], p["deleted"], p["metric"]) for p in case["pods"]]


@by_name("pods_metric")
def test_replica_calculator_pods_metric(case: dict[str, Any]) -> None:
    down, up = case["tolerance"]
    got = pods_metric_replicas(
        case["current"], group_pods(pod_statuses(case)), case["target"], down, up
    )
    assert got == (case["replicas"], case["usage"])


@by_name("external_per_pod")
def test_replica_calculator_external_per_pod_metric(case: dict[str, Any]) -> None:
    down, up = case["tolerance"]
    got = external_per_pod_replicas(
        case["status_replicas"], case["usage"], case["target"], down, up
    )
    assert got == (case["replicas"], case["per_pod"])


@by_name("controller")
def test_controller_sync_on_the_legacy_path(case: dict[str, Any]) -> None:
    """One reconcile of a fresh HPA (metric -> replica calculator -> normalize)."""
    # per_worker only sets the target, which these cases give in milli-units directly.
    hpa = HpaAutoscaler(
        Bounds(case["min"], case["max"], 1), P, case["metric"], case["recommendations"]
    )
    tol = P.hpa_tolerance
    if case["metric"] == "pods":
        answer = pods_metric_replicas(
            case["spec"], group_pods(pod_statuses(case)), case["target"], tol, tol
        )
        proposal = None if answer is None else answer[0]
    else:
        proposal = external_per_pod_replicas(
            case["status"], case["usage"], case["target"], tol, tol
        )[0]
    assert hpa.reconcile(1000.0, case["spec"], proposal) == case["desired"]


@by_name("convert_desired_replicas_with_rules")
def test_legacy_limits(case: dict[str, Any]) -> None:
    up_limit = legacy_scale_up_limit(
        case["current"], P.hpa_legacy_scale_up_factor, P.hpa_legacy_scale_up_minimum
    )
    assert legacy_limits(case["desired"], case["min"], case["max"], up_limit) == case["converted"]


@by_name("stabilize_recommendation")
def test_legacy_stabilisation(case: dict[str, Any]) -> None:
    now = 10_000.0
    history = [(now + age, value) for value, age in case["recommendations"]]
    got = stabilize_down([*history, (now, case["desired"])], now, case["window_s"])
    assert got == case["stabilized"]


def test_pods_being_deleted_or_terminal_are_ignored() -> None:
    """groupPods: deleted, Failed and Succeeded pods leave the count and the metric."""
    pods = [
        PodStatus(metric=10000),
        PodStatus(deleted=True, metric=90000),
        PodStatus("Failed", metric=90000),
        PodStatus("Succeeded"),
        PodStatus("Pending", metric=90000),
        PodStatus(),
    ]
    groups = group_pods(pods)
    assert (groups.values, groups.unready, groups.missing) == ((10000,), 1, 1)
