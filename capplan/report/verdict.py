"""The verdict: one paragraph a sizing review can read aloud, as plain text.

Built once here; the CLI prints it and the report quotes it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from capplan.planner.recommendation import Evidence, Recommendation, as_recommendation


def verdict(doc: Recommendation | Mapping[str, Any]) -> str:
    """The verdict of one recommendation document (plain text, no markup)."""
    doc = as_recommendation(doc)
    cur, rec, s = doc.current, doc.recommended, doc.search
    effort = (
        f"{s.candidates} candidates, {s.screened_out} screened out analytically, "
        f"{s.pruned} skipped by bound, {s.simulations} simulations in {s.seconds:.1f} s"
    )
    cur_state = "meets" if cur.meets_slo else "misses"
    if rec is None:
        why = (doc.why or "no configuration tried met every SLO target").rstrip(".")
        why = why[:1].upper() + why[1:]
        return (
            f"No configuration meets the SLO. {why}. "
            f"The current configuration costs ${cur.cost_per_hour:,.2f}/h and "
            f"{cur_state} the SLO"
            + (f", but {doc.current_not_recommended}" if doc.current_not_recommended else "")
            + f". ({effort})"
        )
    saving = doc.saving_per_month or 0.0
    change = f"saves ${saving:,.0f}/month" if saving >= 0 else f"costs ${-saving:,.0f}/month more"
    sens = "".join(
        f" At {e.traffic:g}× traffic it "
        + ("still meets the SLO." if e.meets_slo else f"misses the SLO and {e.note}.")
        for e in doc.sensitivity
    )
    return (
        f"Run {doc.template} on {_gpu(rec)} with "
        f"min_workers {rec.min_workers}, max_workers {rec.max_workers}, per_worker "
        f"{rec.per_worker}: ${rec.cost_per_hour:,.2f}/h, which {change} against the "
        f"current configuration (which {cur_state} the SLO"
        + (f" for less, but {doc.current_not_recommended}" if doc.current_not_recommended else "")
        + "); "
        f"{_versus_bound(rec, doc.lower_bound_cost_per_hour)}.{_confidence(rec)}{sens} "
        f"({effort})"
    )


def _confidence(rec: Evidence) -> str:
    if rec.confident:
        return ""
    return (
        " Its replications gave no confidence interval (identical values, e.g. an exact "
        "trace replay): the SLO verdict is not confident."
    )


def _gpu(cfg: Evidence) -> str:
    return f"{cfg.gpus}× {cfg.gpu_type}" if cfg.gpu_type else "CPU only"


def _versus_bound(rec: Evidence, lb: float | None) -> str:
    """The recommendation against the proven lower bound (0 with no traffic)."""
    if lb is None or not math.isfinite(lb):
        return "no proven lower bound applies (see the README's Planner section)"
    if lb <= 0:
        return "the proven lower bound is $0.00/h (no traffic to carry)"
    return f"it is {rec.cost_per_hour / lb:.2f}× the proven lower bound (${lb:,.2f}/h)"
