"""Reading a recommendation document and formatting its numbers for a report.

Plain Python only (no matplotlib, no rich): the Markdown/HTML content, the
verdict and the figures all read documents through these helpers.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any


def as_number(value: Any) -> float:
    """A document number as float: None (JSON for NaN/inf) becomes NaN."""
    if value is None:
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def chosen(doc: Mapping[str, Any]) -> tuple[str, Mapping[str, Any] | None]:
    """The configuration the report proposes: the recommendation, else the best achievable."""
    if doc.get("recommended"):
        return "recommended", doc["recommended"]
    if doc.get("best_achievable"):
        return "best achievable", doc["best_achievable"]
    return "recommended", None


def gpu_rows(doc: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row per GPU type: the recommendation, then each alternative (cost may be None)."""
    rows = []
    rec = doc.get("recommended")
    if rec:
        rows.append({**rec, "role": "recommended"})
    for alt in doc.get("alternatives") or []:
        rows.append({**alt, "role": "alternative"})
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
