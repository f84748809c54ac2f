"""Template files and pages: JSON in, validated `ModelTemplate`s out, errors as one line."""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from capplan.errors import CapplanError
from capplan.templates import ModelTemplate, ScaleFromZeroWarning, validate_template
from capplan.validation import validation_message


def _item_label(base: str, raw: object) -> str:
    name = raw.get("name") if isinstance(raw, dict) else None
    return f"{base} (name {name!r})" if isinstance(name, str) else base


def templates_from_page_dicts(data: object, source: str) -> list[ModelTemplate]:
    """Templates in one decoded JSON document: a page, a bare list, or one template."""
    if isinstance(data, dict) and "items" in data:
        _check_page_fields(data, source)
        items, base = data["items"], "items"
    elif isinstance(data, list):
        items, base = data, ""
    elif isinstance(data, dict):
        return [validate_template(data, _item_label(f"{source}: template", data))]
    else:
        raise CapplanError(
            f"{source}: expected a page object, a list of templates or one template, "
            f"got {type(data).__name__}"
        )
    return [
        validate_template(raw, _item_label(f"{source}: {base}[{i}]", raw))
        for i, raw in enumerate(items)
    ]


class _PageFields(BaseModel):
    """The page envelope; the SDK requires all four fields, hand-written files may omit them."""

    model_config = ConfigDict(extra="allow")

    items: list[Any]
    total_item_count: int | None = Field(default=None, ge=0)
    current_page: int | None = Field(default=None, ge=1)
    items_per_page: int | None = Field(default=None, ge=0)


def _check_page_fields(data: dict[str, Any], source: str) -> None:
    try:
        _PageFields.model_validate(data)
    except ValidationError as exc:
        raise CapplanError(validation_message(exc, source, ": ")) from None


def _read_json(path: Path) -> object:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CapplanError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CapplanError(f"{path}: cannot read: {exc}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise CapplanError(f"{path}: not valid JSON: {exc.msg} at line {exc.lineno}") from None
    except RecursionError:
        raise CapplanError(f"{path}: JSON nested too deeply") from None


def _expand(paths: str | Path | Sequence[str | Path]) -> list[Path]:
    """Files to read: every *.json in a directory (sorted, so order is reproducible)."""
    given = [paths] if isinstance(paths, str | Path) else list(paths)
    files: list[Path] = []
    for item in map(Path, given):
        if item.is_dir():
            found = sorted(item.glob("*.json"))
            if not found:
                raise CapplanError(f"{item}: directory holds no *.json files")
            files.extend(found)
        else:
            files.append(item)
    return files


def load_template_files(
    paths: str | Path | Sequence[str | Path],
) -> list[tuple[Path, list[ModelTemplate]]]:
    """(file, its templates) for every file, checking ids are unique across all of them.

    Scale-from-zero templates trigger a ScaleFromZeroWarning naming the file.
    """
    loaded: list[tuple[Path, list[ModelTemplate]]] = []
    seen: dict[str, Path] = {}
    for path in _expand(paths):
        templates = templates_from_page_dicts(_read_json(path), str(path))
        for t in templates:
            if t.id in seen:
                raise CapplanError(
                    f"duplicate template id {t.id!r} (name {t.name!r}) in {seen[t.id]} and {path}"
                )
            seen[t.id] = path
        warn_scale_from_zero(templates, str(path))
        loaded.append((path, templates))
    return loaded


def load_templates(paths: str | Path | Sequence[str | Path]) -> list[ModelTemplate]:
    """Every template in a page file, several files, a directory of *.json, a bare list
    of templates or one template object. All errors are one-line CapplanErrors."""
    return [t for _, templates in load_template_files(paths) for t in templates]


def warn_scale_from_zero(templates: Iterable[ModelTemplate], source: str) -> None:
    """A ScaleFromZeroWarning for each template that relies on KEDA's scale-from-zero."""
    for t in templates:
        if t.relies_on_scale_from_zero:
            warnings.warn(
                f"{source}: template {t.name!r}: min_workers = 0 on a "
                f"{t.effective_endpoint_type} endpoint relies on scale-from-zero (KEDA); "
                "the first requests wait for a cold start",
                ScaleFromZeroWarning,
                stacklevel=3,
            )
