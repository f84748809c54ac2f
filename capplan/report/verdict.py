"""The verdict: one paragraph a sizing review can read aloud, as plain text.

Built once here; the CLI prints it and the report quotes it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from capplan.report.text import dollars


def verdict(doc: Mapping[str, Any]) -> str:
    """The verdict of one recommendation document (plain text, no markup)."""
    try:
        return _full(doc)
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        # A document with missing numbers (e.g. a zero or unknown lower bound).
        return _short(doc)


def _full(doc: Mapping[str, Any]) -> str:
    cur, rec = doc["current"], doc["recommended"]
    s = doc["search"]
    effort = (
        f"{s['candidates']} candidates, {s['screened_out']} screened out analytically, "
        f"{s['pruned']} skipped by bound, {s['simulations']} simulations in {s['seconds']:.1f} s"
    )
    if rec is None:
        return (
            f"No configuration meets the SLO. {doc.get('why', '')}. "
            f"The current configuration costs ${cur['cost_per_hour']:,.2f}/h and "
            f"{'meets' if cur['meets_slo'] else 'misses'} the SLO. ({effort})"
        )
    saving = doc["saving_per_month"]
    change = f"saves ${saving:,.0f}/month" if saving >= 0 else f"costs ${-saving:,.0f}/month more"
    cur_state = "meets" if cur["meets_slo"] else "misses"
    sens = ". ".join(
        f"At {e['traffic']:g}× traffic it "
        + ("still meets the SLO" if e["meets_slo"] else f"misses the SLO and {e.get('note', '')}")
        for e in doc["sensitivity"]
    )
    return (
        f"Run {doc['template']} on {rec['gpus']}× {rec['gpu_type']} with "
        f"min_workers {rec['min_workers']}, max_workers {rec['max_workers']}, per_worker "
        f"{rec['per_worker']}: ${rec['cost_per_hour']:,.2f}/h, which {change} against the "
        f"current configuration (which {cur_state} the SLO); "
        f"{_versus_bound(rec, doc['lower_bound_cost_per_hour'])}. {sens}. ({effort})"
    )


def _short(doc: Mapping[str, Any]) -> str:
    rec = doc.get("recommended")
    if rec is None:
        return f"No configuration meets the SLO. {doc.get('why', '')}".strip()
    return (
        f"Run {doc['template']} on {rec.get('gpus')}× {rec.get('gpu_type')} with "
        f"min_workers {rec['min_workers']}, max_workers {rec['max_workers']}, "
        f"per_worker {rec['per_worker']}: {dollars(rec.get('cost_per_hour'))}/h."
    )


def _versus_bound(rec: Mapping[str, Any], lb: float | None) -> str:
    """The recommendation against the proven lower bound (0 with no traffic)."""
    if lb is None or not math.isfinite(lb):
        return "no proven lower bound applies (see the README's Planner section)"
    if lb <= 0:
        return "the proven lower bound is $0.00/h (no traffic to carry)"
    return f"it is {rec['cost_per_hour'] / lb:.2f}× the proven lower bound (${lb:,.2f}/h)"
