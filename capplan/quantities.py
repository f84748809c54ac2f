"""Kubernetes quantities ("8Gi", "500m", "1e9") as numbers."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

from capplan.errors import CapplanError

_SUFFIX_FACTORS: Mapping[str, float] = {
    "": 1.0,
    "m": 1e-3,
    "k": 1e3,
    "M": 1e6,
    "G": 1e9,
    "T": 1e12,
    "P": 1e15,
    "E": 1e18,
    "Ki": 2.0**10,
    "Mi": 2.0**20,
    "Gi": 2.0**30,
    "Ti": 2.0**40,
    "Pi": 2.0**50,
    "Ei": 2.0**60,
}
# A decimal exponent needs digits after the e/E, so "1E" still means exa while "1E3" is 1000.
_QUANTITY = re.compile(
    r"(?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)(?P<suffix>[KMGTPE]i|[mkMGTPE])?"
)


def parse_quantity(text: object, field: str = "quantity") -> float:
    """Bytes (or cores) in a Kubernetes quantity such as "8Gi", "500Mi", "1e9" or "512Ki".

    Raises a CapplanError naming `field` when `text` is not a non-negative quantity.
    """
    if isinstance(text, bool) or not isinstance(text, str | int | float):
        raise CapplanError(f"{field}: expected a Kubernetes quantity like '8Gi', got {text!r}")
    match = _QUANTITY.fullmatch(str(text).strip())
    if match is None:
        raise CapplanError(
            f"{field}: {text!r} is not a Kubernetes quantity (e.g. '8Gi', '500Mi', '16G', '1e9')"
        )
    value = float(match["number"]) * _SUFFIX_FACTORS[match["suffix"] or ""]
    if not math.isfinite(value):
        raise CapplanError(f"{field}: {text!r} is too large")
    return value


def quantity_text(value: object, field: str) -> str:
    """Validate a quantity but keep the user's spelling, so files round-trip unchanged."""
    try:
        parse_quantity(value, field)
    except CapplanError as exc:
        # Pydantic only turns ValueError into a located validation error.
        raise ValueError(str(exc).removeprefix(f"{field}: ")) from None
    return str(value)
