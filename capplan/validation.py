"""The one formatter of pydantic validation errors: a single line naming the field.

Used for template files, API answers and scenario tables alike.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import ValidationError
from pydantic_core import PydanticCustomError


def field_error(field: str, message: str) -> PydanticCustomError:
    """A cross-field error that `_format_error` reports at `<model path>.<field>`."""
    return PydanticCustomError("capplan_field", message, {"field": field})


def _format_loc(loc: Sequence[int | str]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _format_error(error: Mapping[str, Any]) -> str:
    loc = list(error["loc"])
    if error["type"] == "capplan_field":
        loc.append(error["ctx"]["field"])
    where = _format_loc(loc)
    if error["type"] == "extra_forbidden":
        return f"{where}: unknown key"
    message = str(error["msg"]).removeprefix("Value error, ") + _got(error)
    return f"{where}: {message}" if where else message


def _got(error: Mapping[str, Any]) -> str:
    """Show the offending value when it is short: users fix what they can see."""
    value = error.get("input")
    if error["type"] in ("missing", "capplan_field") or not isinstance(
        value, str | int | float | bool | None
    ):
        return ""
    shown = repr(value)
    return f" (got {shown})" if len(shown) <= 60 else ""


def validation_message(exc: ValidationError, prefix: str, sep: str = ".") -> str:
    """One line: `prefix`, the first error's location and message, and how many more.

    `sep` joins prefix and location: "." continues a path, ": " starts one.
    """
    errors = exc.errors(include_url=False)
    first = _format_error(errors[0])
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    joiner = sep if errors[0]["loc"] or errors[0]["type"] == "capplan_field" else ": "
    text = f"{prefix}{joiner}{first}{more}"
    return " ".join(text.split())  # messages may embed newlines; keep it one line
