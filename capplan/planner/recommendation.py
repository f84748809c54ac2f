"""The recommendation document, typed: what `recommend()` returns and `--json` prints.

One `Recommendation` per template. `capplan schema recommendation` prints the
JSON Schema of the `--json` output (a list of them); recommendation.json in a
report folder is the same list. In JSON, numbers that are NaN or infinite in
Python (a TTFT of a SYNC endpoint, the fluid estimate of an impossible SLO) are
null, so every such field is `number | null`.

Internal planner data (each configuration's per-replication summaries) never
enters the document: `evidence_of` keeps only the public fields.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel

from capplan.io import dumps

Number = float | None  # NaN / inf in Python are null in JSON


class _Doc(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Metrics(BaseModel):
    """A configuration's metrics over its replications (`capplan.metrics.combine`):
    counts summed, the rest the mean over replications, ci95 the two-sided 95 % t-interval
    of each replicated metric (only with 2 or more replications). Seconds unless named
    otherwise. Metrics a newer simulator adds are kept as further numbers."""

    model_config = ConfigDict(extra="allow", frozen=True)
    __pydantic_extra__: dict[str, Number] = Field(init=False)

    requests: int
    completed: int
    rejected: int
    rejected_429: int
    rejected_503: int
    expired: int
    in_flight_at_end: int
    error_rate: Number = Field(description="(rejected + expired) / requests with known fate")
    replications: int
    p_wait: Number = None
    wait_mean_s: Number = None
    wait_p50_s: Number = None
    wait_p90_s: Number = None
    wait_p95_s: Number = None
    wait_p99_s: Number = None
    latency_mean_s: Number = None
    latency_p50_s: Number = None
    latency_p90_s: Number = None
    latency_p95_s: Number = None
    latency_p99_s: Number = None
    ttft_mean_s: Number = None
    ttft_p50_s: Number = None
    ttft_p90_s: Number = None
    ttft_p95_s: Number = None
    ttft_p99_s: Number = None
    tpot_mean_s: Number = None
    tpot_p50_s: Number = None
    tpot_p90_s: Number = None
    tpot_p95_s: Number = None
    tpot_p99_s: Number = None
    worker_hours: Number = None
    cost_usd: Number = None
    cost_per_hour: Number = None
    mean_workers: Number = None
    peak_workers: Number = None
    cold_starts: Number = None
    worker_failures: Number = None
    ci95: dict[str, tuple[Number, Number]] = Field(default_factory=dict)

    def value(self, key: str) -> Number:
        """A metric by its summary name (e.g. an SLO target's key), None if absent."""
        found = getattr(self, key, None) if key in type(self).model_fields else None
        if found is None and self.model_extra:
            found = self.model_extra.get(key)
        return found


class SloCheck(_Doc):
    """One SLO target as the verdict judged it: the one-sided upper confidence limit at
    slo.confidence of the mean over replications must be within target."""

    value: float = Field(description="mean over the replications")
    upper: float = Field(description="one-sided upper limit at slo.confidence")
    target: float
    confident: bool = Field(
        description="false when the replications were identical (or one): no interval"
    )


class Knobs(_Doc):
    """The knobs the planner sets on a template (gpu_type null: no GPU)."""

    gpu_type: str | None
    gpus: int
    min_workers: int
    max_workers: int
    per_worker: int
    # llm service kind: the serving engine's limits for this configuration (null otherwise).
    kv_cache_tokens: float | None = None
    max_num_seqs: int | None = None


class Evidence(Knobs):
    """A configuration simulated with the planner's replications, and its verdict."""

    metrics: Metrics
    cost_per_hour: float
    cost_per_month: float
    meets_slo: bool = Field(description="the verdict: every SLO check and the error rate pass")
    slo: dict[str, SloCheck] = Field(description="each latency target's check, by metric")

    @property
    def confident(self) -> bool:
        """Whether every SLO check rests on a real interval (not identical replications)."""
        return all(check.confident for check in self.slo.values())


class Alternative(_Doc):
    """The best found on another GPU type: confirmed with full replications, explored
    (passed one replication, then failed its confirmation), or not simulated (why in note)."""

    status: Literal["confirmed", "failed_confirmation", "not_simulated"]
    gpu_type: str | None
    gpus: int
    min_workers: int | None = None
    max_workers: int | None = None
    per_worker: int | None = None
    cost_per_hour: Number = None
    cost_per_month: Number = None
    meets_slo: bool | None = None
    evidence: Evidence | None = Field(None, description="status confirmed: the replications")
    lower_bound_cost_per_hour: Number = None
    fluid_estimate_cost_per_hour: Number = None
    note: str = ""
    kv_cache_tokens: float | None = None
    max_num_seqs: int | None = None


class Point(Knobs):
    """One configuration simulated while searching (one replication)."""

    cost_per_hour: Number
    latency_p99_s: Number
    ttft_p99_s: Number
    error_rate: Number


class BestAchievable(Point):
    """When nothing meets the SLO: the closest configuration tried."""

    violation: Number = Field(description="worst value / target ratio (1 = on the edge)")


class Stress(_Doc):
    """The recommendation at `traffic` × the scenario's traffic, by the verdict's own test;
    where it fails, `needs`: a larger pool that passes it (null: none up to the cap)."""

    traffic: float
    meets_slo: bool
    metrics: Metrics
    slo: dict[str, SloCheck]
    cost_per_hour: float
    needs: Evidence | None = None
    note: str = ""


class SearchStats(BaseModel):
    """How much work the plan took. Further counters a newer planner adds are kept."""

    model_config = ConfigDict(extra="allow", frozen=True)
    __pydantic_extra__: dict[str, float | int | None] = Field(init=False)

    candidates: int
    screened_out: int
    pruned: int
    min_workers_floor: int
    simulations: int = Field(description="every simulation the plan ran, all stages")
    sensitivity_simulations: int = Field(
        0, description="of those, the sensitivity stage's (stress runs and what they need)"
    )
    seconds: float


class Screening(_Doc):
    """The multi-fidelity search (`capplan.planner.screening`): the windows the search
    explored on, and the whole-horizon simulations that saved (an estimate: each
    exploring run simulated `simulated_fraction` of the horizon)."""

    windows_s: list[tuple[float, float]]
    warmup_s: float
    simulated_fraction: float
    tail_ratio: float = Field(description="requests in the horizon per request in the windows")
    explored_simulations: int
    full_simulations_saved: float = Field(
        description="negative when the search fell back: what screening cost instead"
    )
    fell_back: bool = Field(
        False,
        description="a pass explored on the windows failed on the whole horizon, or the "
        "search stopped on an estimate before pools whose cost bound is below the pick's, "
        "so it ran again on the whole horizon (the pick is that search's; the note says why)",
    )
    note: str


class Recommendation(_Doc):
    """The planner's document for one template."""

    template: str
    feasible: bool
    current: Evidence
    rule_of_thumb: Evidence
    recommended: Evidence | None
    lower_bound_cost_per_hour: Number = Field(description="proven bound; null: none applies")
    fluid_estimate_cost_per_hour: Number = Field(description="an estimate, not a bound")
    saving_per_month: Number
    alternatives: list[Alternative]
    sensitivity: list[Stress]
    explored: list[Point]
    best_achievable: BestAchievable | None = None
    why: str | None = None
    search: SearchStats
    screening: Screening | None = None
    current_not_recommended: str | None = Field(
        None,
        description="why the current configuration is not the pick although it met the SLO "
        "for less (it is outside the planner's limits); null otherwise",
    )

    def chosen(self) -> tuple[str, Evidence | BestAchievable | None]:
        """What the report proposes: the recommendation, else the best achievable."""
        if self.recommended is not None:
            return "recommended", self.recommended
        if self.best_achievable is not None:
            return "best achievable", self.best_achievable
        return "recommended", None


class Recommendations(RootModel[list[Recommendation]]):
    """The `recommend --json` output and recommendation.json: one document per template."""


def evidence_of(doc: Mapping[str, Any]) -> Evidence:
    """The public part of an evaluated configuration (its per-replication runs stay out)."""
    return Evidence.model_validate({k: v for k, v in doc.items() if not k.startswith("_")})


def as_recommendation(doc: Recommendation | Mapping[str, Any]) -> Recommendation:
    """A document from `recommend()` or read back from JSON (recommendation.json)."""
    return doc if isinstance(doc, Recommendation) else Recommendation.model_validate(doc)


def recommendation_json(docs: Sequence[Recommendation]) -> str:
    """The `--json` output: the documents as indented JSON, NaN and infinities as null."""
    return dumps([d.model_dump(mode="json") for d in docs])


def schema() -> dict[str, Any]:
    """The JSON Schema of the `--json` output (a list of documents)."""
    return Recommendations.model_json_schema()
