"""What every autoscaler sees and returns, and the constants they are built from.

The engine calls `decide(obs)` every `period_s` simulated seconds and applies the
returned replica count as the deployment's new spec. Each autoscaler keeps only
the state its real counterpart keeps (metric samples, recommendation history);
the arithmetic lives in pure module-level functions so it can be tested alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from capplan.errors import CapplanError

# A timestamped value: (simulation time s, value), oldest first.
Sample = tuple[float, float]
Recommendation = tuple[float, int]


# A pod's phase as the HPA's replica calculator sorts it.
POD_PENDING = 0  # k8s phase Pending: waiting for a node, or pulling the image
POD_STARTING = 1  # running, not ready: loading the model, readiness probe not yet passed
POD_READY = 2  # ready: receives traffic and reports the concurrency metric


@dataclass(frozen=True, slots=True)
class PodView:
    """One pod that is not being deleted, as the control loop sees it."""

    id: int
    phase: int  # POD_PENDING | POD_STARTING | POD_READY
    area: float  # ∫ requests in service dt on this pod so far (request-seconds)
    ready_at: float  # when it became ready (inf until then)


@dataclass(frozen=True, slots=True)
class Observation:
    """What the control loop can see at one tick (all counts are whole endpoint totals)."""

    now: float  # simulation time, s
    current: int  # current desired replicas (the spec the autoscaler last set)
    ready: int  # ready pods (serving)
    in_flight: int  # requests being served right now (on all pods, incl. draining)
    # cumulative ∫ in-flight dt since t=0 (request-seconds) over every pod, deleted ones
    # included: what a Prometheus sum over the endpoint's series sees (KEDA's metric)
    in_flight_area: float
    queued: int  # requests waiting in the async broker queue (0 for sync)
    last_request_at: float | None  # arrival time of the most recent request, None if none yet
    # every pod not being deleted, for the HPA's per-pod metric; None when only counts are known
    pods: tuple[PodView, ...] | None = None


@dataclass(frozen=True, slots=True)
class Bounds:
    """The three knobs capplan recommends, as Launch's endpoint config spells them."""

    min_workers: int
    max_workers: int
    per_worker: int

    def __post_init__(self) -> None:
        # Launch rejects these too; catching them here names the knob instead of a later crash.
        if not 0 <= self.min_workers <= self.max_workers:
            raise CapplanError(
                f"autoscaler bounds: need 0 <= min_workers <= max_workers, got "
                f"min_workers={self.min_workers}, max_workers={self.max_workers}"
            )
        if self.per_worker < 1:
            raise CapplanError(f"autoscaler bounds: per_worker must be >= 1, got {self.per_worker}")


@dataclass(frozen=True, slots=True)
class AutoscalerParams:
    """Every constant of Launch's autoscaling, named, with its open-source default."""

    # k8s kube-controller-manager --horizontal-pod-autoscaler-sync-period default 15 s
    hpa_sync_period_s: float = 15.0
    # k8s --horizontal-pod-autoscaler-tolerance default 0.1
    hpa_tolerance: float = 0.1
    # Launch metric request-concurrency-average = rate(istio_request_duration_..._sum[2m])
    hpa_metric_window_s: float = 120.0
    # k8s --horizontal-pod-autoscaler-downscale-stabilization default 300 s (both code paths)
    hpa_scale_down_stabilization_s: float = 300.0
    # Launch's HPA template sets no `behavior`, and k8s leaves Spec.Behavior nil then
    # (autoscaling/v2 defaults.go), so the controller runs its legacy normalizeDesiredReplicas.
    # True switches to the documented default-behavior policies below instead.
    hpa_behavior_policies: bool = False
    # k8s legacy calculateScaleUpLimit: scaleUpLimitFactor 2.0 (new <= max(2 x current, 4))
    hpa_legacy_scale_up_factor: float = 2.0
    # k8s legacy calculateScaleUpLimit: scaleUpLimitMinimum 4.0
    hpa_legacy_scale_up_minimum: int = 4
    # k8s default behavior (autoscaling/v2 defaults.go): scaleUp stabilizationWindowSeconds 0
    hpa_scale_up_stabilization_s: float = 0.0
    # k8s default behavior: scaleUp policy Pods 4 per 15 s (selectPolicy Max)
    hpa_scale_up_pods: int = 4
    # k8s default behavior: scaleUp policy Percent 100 per 15 s (selectPolicy Max)
    hpa_scale_up_percent: float = 100.0
    # k8s default behavior: scaleDown policy Percent 100 per 15 s
    hpa_scale_down_percent: float = 100.0
    # Launch keda-scaled-object.yaml: pollingInterval 5
    keda_polling_interval_s: float = 5.0
    # Launch chart values.yaml keda.cooldownPeriod 300
    keda_cooldown_s: float = 300.0
    # Launch redis_inference_autoscaling_metrics_gateway.py EXPIRY_SECONDS = 60
    keda_key_expiry_s: float = 60.0
    # Launch keda-scaled-object.yaml: the prometheus trigger (request concurrency over 2 min)
    # sets no activationThreshold, KEDA's default is 0, so any recent traffic keeps it active.
    keda_metric_activation: bool = True
    # Launch celery_autoscaler.py main loop: one iteration per 3 s
    celery_period_s: float = 3.0
    # Launch celery_autoscaler.py sleeps 3 s minus the iteration's own length, so the loop
    # runs every max(3 s, iteration); the iteration (broker and worker inspection for every
    # endpoint) is negligible by default, set it from the autoscaler's logs.
    celery_iteration_s: float = 0.0
    # Launch celery_autoscaler.py CeleryAutoscalerParams.cooldown_period_seconds = 600
    celery_cooldown_s: float = 600.0
    # capplan's own: a static pool never changes, so any period will do
    static_period_s: float = 60.0


@runtime_checkable
class Autoscaler(Protocol):
    """A control loop: called every `period_s`, returns the replicas to run."""

    period_s: float

    def decide(self, obs: Observation) -> int:
        """Desired replicas, always within the autoscaler's [min, max]."""
        ...


def clamp(value: int, low: int, high: int) -> int:
    """`value` forced into [low, high]."""
    return max(low, min(high, value))


def in_window(
    history: Sequence[Recommendation], now: float, window_s: float, closed: bool = False
) -> list[int]:
    """Values stamped in (now - window_s, now], or [now - window_s, now] when `closed`.

    The edge follows each controller's code: Launch's celery autoscaler evicts
    `bisect(times, now - cooldown)` (t <= cutoff goes) and k8s behavior windows keep
    `After(cutoff)`; k8s legacy stabilisation drops only `Before(cutoff)`.
    """
    cutoff = now - window_s
    if closed:
        return [value for t, value in history if cutoff <= t <= now]
    return [value for t, value in history if cutoff < t <= now]


def window_max(
    history: Sequence[Recommendation], now: float, window_s: float, closed: bool = False
) -> int | None:
    """Largest value in the window (see `in_window`), or None if there is none."""
    return max(in_window(history, now, window_s, closed), default=None)


def prune(history: list[Recommendation], now: float, window_s: float) -> list[Recommendation]:
    """`history` without the entries that no window ending at or after `now` can see."""
    cutoff = now - window_s
    return [(t, value) for t, value in history if t >= cutoff]
