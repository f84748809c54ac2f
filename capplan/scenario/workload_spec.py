"""`[workload]`: arrivals and request sizes for one template."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import ConfigDict, Field, field_validator, model_validator

from capplan.distributions import Dist
from capplan.scenario.base import Spec
from capplan.validation import field_error
from capplan.workload import KINDS
from capplan.workload.spans import check_spans

WorkloadKind = Literal["poisson", "diurnal", "mmpp", "trace", "piecewise", "closed"]


class WorkloadSpec(Spec):
    """Arrivals and request sizes for one template; the kind's class (capplan.workload)
    checks the keys that kind needs. Every number is finite: inf is refused like nan."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    kind: WorkloadKind = "poisson"
    rate: float | None = Field(None, gt=0)  # poisson, requests/s
    base_rate: float | None = Field(None, ge=0)  # diurnal trough, requests/s
    peak_rate: float | None = Field(None, gt=0)  # diurnal peak, requests/s
    period_s: float = Field(86400.0, gt=0)  # diurnal period
    peak_at_s: float = 0.0  # diurnal: time of the peak
    rates: tuple[float, ...] | None = None  # mmpp: rate of each phase
    mean_durations_s: tuple[float, ...] | None = None  # mmpp: mean sojourn in each phase
    path: Path | None = None  # trace (Azure LLM CSV) or piecewise (time_s,rate CSV)
    rate_multiplier: float = Field(
        1.0, gt=0
    )  # trace/piecewise: scales the rate (trace: thins or superposes)
    start_s: float = Field(0.0, ge=0)  # trace: skip this much of the trace
    duration_s: float | None = Field(None, gt=0)  # trace: keep this much after start_s
    # trace: "blocks" (default) makes replications 1, 2, … circular block bootstraps
    # of the window (replication 0 stays the exact replay), so replicated CIs have real
    # spread; "none" replays the window exactly in every replication (verdicts on
    # identical replications are marked not confident). closed with path: the same
    # bootstrap orders the rows replications 1, 2, … send.
    resample: Literal["none", "blocks"] = "blocks"
    block_s: float = Field(300.0, gt=0)  # trace, closed with path: bootstrap block (at most)
    concurrency: int | None = Field(None, ge=1)  # closed: clients, each one request at a time
    requests: int | None = Field(None, ge=1)  # closed: requests sent in total (or to the horizon)
    horizon_s: float | None = Field(None, gt=0)  # simulated time; default 3600 or the trace
    warmup_s: float = Field(0.0, ge=0)  # excluded from the summary
    context_tokens: Dist | None = None  # synthetic kinds: prompt tokens
    generated_tokens: Dist | None = None  # synthetic kinds: output tokens
    # Simulate only these [start, end) windows of the horizon, each after up to
    # span_warmup_s of the traffic before it (capplan/workload/spans.py); the planner's
    # screening sets them. Percentiles are then read at the whole horizon's level.
    spans: tuple[tuple[float, float], ...] | None = None
    span_warmup_s: float = Field(3600.0, ge=0)

    @field_validator("rates", "mean_durations_s")
    @classmethod
    def _positive_list(cls, v: tuple[float, ...] | None) -> tuple[float, ...] | None:
        if v is not None and (len(v) == 0 or any(x < 0 for x in v)):
            raise ValueError("must be a non-empty list of numbers >= 0")
        return v

    @model_validator(mode="after")
    def _by_kind(self) -> WorkloadSpec:
        KINDS[self.kind].check(self)  # each kind validates its own keys
        if self.spans is not None:
            if not self.spans:
                raise field_error("spans", "must list at least one [start, end] window")
            try:
                check_spans(self, KINDS[self.kind](self).horizon)
            except ValueError as e:
                raise field_error("spans", str(e)) from None
        if self.horizon_s is not None and self.warmup_s >= self.horizon_s:
            raise field_error("warmup_s", f"must be < horizon_s ({self.horizon_s:g})")
        return self
