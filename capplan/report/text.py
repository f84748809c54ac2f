"""Reading a recommendation document and formatting its numbers for a report.

Plain Python only (no matplotlib, no rich): the Markdown/HTML content, the
verdict, the CLI table and the figures all format numbers through these helpers.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from capplan.planner.recommendation import Knobs, Recommendation


def as_number(value: Any) -> float:
    """A document number as float: None (JSON for NaN/inf) becomes NaN."""
    if value is None:
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


@dataclass(frozen=True)
class GpuRow:
    """The best configuration on one GPU type, as the report's GPU views show it."""

    role: str  # "recommended" or "alternative"
    gpu_type: str | None
    gpus: int
    knobs: Knobs | None  # None: no configuration was found on this GPU type
    cost_per_hour: float | None
    confirmed: bool
    note: str


def gpu_rows(doc: Recommendation) -> list[GpuRow]:
    """One row per GPU type: the recommendation, then each alternative."""
    rows = []
    rec = doc.recommended
    if rec is not None:
        rows.append(GpuRow("recommended", rec.gpu_type, rec.gpus, rec, rec.cost_per_hour, True, ""))
    for alt in doc.alternatives:
        has = alt.min_workers is not None and alt.cost_per_hour is not None
        knobs = (
            Knobs(
                gpu_type=alt.gpu_type,
                gpus=alt.gpus,
                min_workers=alt.min_workers,
                max_workers=alt.max_workers,
                per_worker=alt.per_worker,
            )
            if has
            else None
        )
        cost = alt.cost_per_hour if has else None
        confirmed = alt.status == "confirmed"
        rows.append(GpuRow("alternative", alt.gpu_type, alt.gpus, knobs, cost, confirmed, alt.note))
    return rows


def num(value: Any, digits: int = 3) -> str:
    """A number to `digits` significant digits; missing/NaN as '–'."""
    v = as_number(value)
    if math.isnan(v):
        return "–"
    if math.isinf(v):
        return "∞"
    return f"{v:.{digits}g}" if abs(v) < 10**digits else f"{v:,.0f}"


def seconds(value: Any) -> str:
    text = num(value)
    return text if text in ("–", "∞") else f"{text} s"


def dollars(value: Any, cents: bool = True) -> str:
    v = as_number(value)
    if not math.isfinite(v):
        return "–"
    return f"${v:,.2f}" if cents else f"${v:,.0f}"


def price_text(value: float) -> str:
    """$/hour with at least 2 and at most 4 decimals: $1.00, $0.6071."""
    text = f"{value:,.4f}".rstrip("0")
    whole, _, frac = text.partition(".")
    return f"${whole}.{frac.ljust(2, '0')}"


def percent(value: Any) -> str:
    v = as_number(value)
    return "–" if math.isnan(v) else f"{v:.2%}"


def yes_no(value: Any) -> str:
    return "–" if value is None else ("yes" if value else "NO")


def slug(name: str) -> str:
    """A file-name-safe, anchor-safe form of a template name."""
    s = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.")
    return s or "template"
