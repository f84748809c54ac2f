"""Typed models of SGP model templates (the GET /v4/model-templates response).

Field names, types and optionality follow the official SGP SDK (`scale_gp.types.
ModelTemplate`, PyPI scale-gp); defaults are the documented Launch defaults. Where
the SDK is stricter than the docs (e.g. a required top-level endpoint_type) we
accept both, because a capacity planner should not refuse a template over a field
it never uses. Unknown fields are kept (extra="allow") so files round-trip.

Semantic problems (min_workers > max_workers, ...) are validation errors whose
location names the offending field; `load_templates` turns every error into one
CapplanError line naming the file, the template and the field.
"""

from __future__ import annotations

import json
import math
import re
import warnings
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from capplan import hardware
from capplan.errors import CapplanError
from capplan.launch import EndpointType, is_sync

ModelType = Literal[
    "COMPLETION", "CHAT_COMPLETION", "AGENT", "EMBEDDING", "RERANKING", "GENERIC", "BUNDLE"
]
EndpointProtocol = Literal["SGP", "COHERE", "VLLM"]
IdentityType = Literal["user", "service_account"]
TrainingDatasetSchemaType = Literal["GENERATION", "RERANKING_QUESTIONS"]

MODEL_TYPES: tuple[str, ...] = get_args(ModelType)
ENDPOINT_PROTOCOLS: tuple[str, ...] = get_args(EndpointProtocol)


class ScaleFromZeroWarning(UserWarning):
    """A sync/streaming template with min_workers = 0: first requests wait for a cold start."""


# --- Kubernetes quantities ---------------------------------------------------------

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


def _quantity_text(value: object, field: str) -> str:
    """Validate a quantity but keep the user's spelling, so files round-trip unchanged."""
    try:
        parse_quantity(value, field)
    except CapplanError as exc:
        # Pydantic only turns ValueError into a located validation error.
        raise ValueError(str(exc).removeprefix(f"{field}: ")) from None
    return str(value)


def _cpu_count(value: object) -> object:
    """Launch also accepts CPU quantities such as "500m"; numbers pass through to pydantic."""
    if not isinstance(value, str):
        return value
    try:
        return parse_quantity(value, "cpus")
    except CapplanError as exc:
        raise ValueError(str(exc).removeprefix("cpus: ")) from None


def _gpu_type_name(value: str | None) -> str | None:
    return None if value is None else hardware.check_gpu_type(value)


def _field_error(field: str, message: str) -> PydanticCustomError:
    """A cross-field error that `_format_error` reports at `<model path>.<field>`."""
    return PydanticCustomError("capplan_field", message, {"field": field})


# --- models -------------------------------------------------------------------------


class _Model(BaseModel):
    """Frozen, keeps unknown fields, and treats null as "use the default" where null is
    not itself a meaningful value (the SDK types every optional field as nullable)."""

    model_config = ConfigDict(frozen=True, extra="allow", protected_namespaces=())

    @model_validator(mode="before")
    @classmethod
    def _null_means_default(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        return {
            key: value
            for key, value in data.items()
            if not (value is None and key in cls.model_fields and _has_default(cls, key))
        }


def _has_default(cls: type[BaseModel], key: str) -> bool:
    """True when the field has a default and null is not one of its own values."""
    info = cls.model_fields[key]
    return not info.is_required() and type(None) not in get_args(info.annotation)


class ParameterField(_Model):
    """One entry of a parameters schema. The SDK types `type` as str|int|float|bool;
    kept as free text because the planner never reads it."""

    name: str
    type: str
    description: str = ""
    required: bool = False


class ParameterSchema(_Model):
    parameters: list[ParameterField] = Field(default_factory=list)


class BundleConfig(_Model):
    """How Launch runs the model server image; only the readiness delay matters to timing."""

    registry: str
    image: str
    tag: str
    command: list[str] | None = None
    env: dict[str, str] | None = None
    streaming_command: list[str] | None = None
    # Launch's readiness probe: a pod is never ready before this delay (probe period 5 s).
    readiness_initial_delay_seconds: int = Field(default=120, ge=0)
    healthcheck_route: str = "/readyz"
    predict_route: str = "/predict"
    streaming_predict_route: str = "/generate_streaming"


class EndpointConfig(_Model):
    """Autoscaling and pod resources; defaults are the documented SGP/Launch ones."""

    cpus: float = Field(default=3, ge=0)
    memory: str = "8Gi"
    storage: str = "16Gi"
    gpus: int = Field(default=0, ge=0)
    gpu_type: str | None = "nvidia-tesla-t4"
    min_workers: int = Field(default=0, ge=0)
    max_workers: int = Field(default=1, ge=1)
    per_worker: int = Field(default=10, ge=1)
    endpoint_type: EndpointType = "ASYNC"
    high_priority: bool = False

    @field_validator("cpus", mode="before")
    @classmethod
    def _cpus_quantity(cls, value: object) -> object:
        return _cpu_count(value)

    @field_validator("memory", "storage", mode="before")
    @classmethod
    def _check_quantity(cls, value: object, info: Any) -> str:
        return _quantity_text(value, info.field_name)

    @field_validator("gpu_type")
    @classmethod
    def _check_gpu_type(cls, value: str | None) -> str | None:
        return _gpu_type_name(value)

    @model_validator(mode="after")
    def _check_workers(self) -> EndpointConfig:
        if self.min_workers > self.max_workers:
            raise _field_error(
                "min_workers",
                f"must be <= max_workers ({self.max_workers}), got {self.min_workers}",
            )
        if self.gpus > 0 and self.gpu_type is None:
            raise _field_error("gpu_type", f"must be set when gpus > 0 (gpus = {self.gpus})")
        return self

    @property
    def memory_bytes(self) -> float:
        return parse_quantity(self.memory, "memory")

    @property
    def storage_bytes(self) -> float:
        return parse_quantity(self.storage, "storage")


class FineTuningResources(_Model):
    cpus: float | None = Field(default=None, ge=0)
    memory: str | None = None
    storage: str | None = None
    gpus: int | None = Field(default=None, ge=0)
    gpu_type: str | None = None

    @field_validator("cpus", mode="before")
    @classmethod
    def _cpus_quantity(cls, value: object) -> object:
        return _cpu_count(value)

    @field_validator("memory", "storage", mode="before")
    @classmethod
    def _check_quantity(cls, value: object, info: Any) -> str | None:
        return None if value is None else _quantity_text(value, info.field_name)

    @field_validator("gpu_type")
    @classmethod
    def _check_gpu_type(cls, value: str | None) -> str | None:
        return _gpu_type_name(value)


class FineTuningJobBundleConfig(_Model):
    registry: str
    image: str
    tag: str
    command: list[str] | None = None
    env: dict[str, str] | None = None
    mount_location: str = "/workspace/launch_specific/config.json"
    training_dataset_schema_type: TrainingDatasetSchemaType | None = None
    resources: FineTuningResources | None = None


class VendorConfiguration(_Model):
    vendor: Literal["LAUNCH"] = "LAUNCH"
    bundle_config: BundleConfig
    # Optional in the SDK; a missing one means every documented default.
    endpoint_config: EndpointConfig = Field(default_factory=EndpointConfig)
    fine_tuning_job_bundle_config: FineTuningJobBundleConfig | None = None


class ModelTemplate(_Model):
    """One SGP model template, with the shortcuts the simulator and planner use."""

    id: str
    name: str
    created_at: datetime | None = None
    account_id: str | None = None
    created_by_user_id: str | None = None
    created_by_identity_type: IdentityType | None = None
    # Required by the SDK; optional here because endpoint_config carries one too.
    endpoint_type: EndpointType | None = None
    model_type: ModelType | None = None
    endpoint_protocol: EndpointProtocol | None = None
    model_creation_parameters_schema: ParameterSchema | None = None
    model_request_parameters_schema: ParameterSchema | None = None
    vendor_configuration: VendorConfiguration

    @property
    def endpoint_config(self) -> EndpointConfig:
        return self.vendor_configuration.endpoint_config

    @property
    def bundle_config(self) -> BundleConfig:
        return self.vendor_configuration.bundle_config

    @property
    def effective_endpoint_type(self) -> EndpointType:
        """The template's own endpoint_type wins; endpoint_config's is the fallback."""
        return self.endpoint_type or self.endpoint_config.endpoint_type

    @property
    def relies_on_scale_from_zero(self) -> bool:
        """Sync/streaming with min_workers = 0: Launch uses KEDA and has no request buffer."""
        return is_sync(self.effective_endpoint_type) and self.endpoint_config.min_workers == 0

    def worker_cost_per_hour(self, prices: hardware.Prices | None = None) -> float:
        """$/hour of one worker of this template (GPUs, vCPUs and memory)."""
        return worker_cost_per_hour(self, prices)

    def with_updates(self, dotted: Mapping[str, object]) -> ModelTemplate:
        """A re-validated copy with dotted-path overrides applied.

        Paths are relative to vendor_configuration ("endpoint_config.per_worker"), may
        start with "vendor_configuration.", or name a top-level field ("endpoint_type").
        Values may be strings from the CLI ("4", "true"): pydantic coerces them.
        """
        data = self.model_dump(mode="json")
        for path, value in dotted.items():
            keys = _resolve_path(self, path)
            _set_in(data, keys, value)
        return _validate_template(data, f"template {self.name!r}", ": ")


def worker_cost_per_hour(template: ModelTemplate, prices: hardware.Prices | None = None) -> float:
    """$/hour of one worker of `template` at `prices` (default: the catalog's assumptions)."""
    cfg = template.endpoint_config
    return hardware.worker_cost_per_hour(
        cfg.gpu_type, cfg.gpus, cfg.cpus, cfg.memory_bytes, prices or hardware.Prices()
    )


# --- dotted-path updates ------------------------------------------------------------


def _resolve_path(template: ModelTemplate, path: str) -> list[str]:
    """The full key list for `path`, checked against the model classes (no new keys)."""
    keys = path.split(".")
    if keys[0] in VendorConfiguration.model_fields:
        keys = ["vendor_configuration", *keys]
    model: type[BaseModel] | None = ModelTemplate
    for depth, key in enumerate(keys):
        if model is None or key not in model.model_fields:
            where = ".".join(keys[:depth]) or "the template"
            raise CapplanError(
                f"template {template.name!r}: {path}: unknown field {key!r} in {where}"
            )
        model = _nested_model(model.model_fields[key].annotation)
    return keys


def _nested_model(annotation: object) -> type[BaseModel] | None:
    """The model class inside `annotation` (X or X | None), if it is one."""
    for candidate in (annotation, *get_args(annotation)):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def _set_in(data: dict[str, Any], keys: list[str], value: object) -> None:
    node = data
    for key in keys[:-1]:
        if not isinstance(node.get(key), dict):
            # An absent optional block (e.g. fine_tuning_job_bundle_config = null) gets created;
            # validation then reports whatever required fields it still lacks.
            node[key] = {}
        node = node[key]
    node[keys[-1]] = value


# --- loading ------------------------------------------------------------------------


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


def _item_label(base: str, raw: object) -> str:
    name = raw.get("name") if isinstance(raw, dict) else None
    return f"{base} (name {name!r})" if isinstance(name, str) else base


def _validate_template(raw: object, label: str, sep: str = ".") -> ModelTemplate:
    if not isinstance(raw, dict):
        raise CapplanError(f"{label}: expected a template object, got {type(raw).__name__}")
    try:
        return ModelTemplate.model_validate(raw)
    except ValidationError as exc:
        raise CapplanError(validation_message(exc, label, sep)) from None
    except RecursionError:
        raise CapplanError(f"{label}: nested too deeply") from None


def templates_from_page_dicts(data: object, source: str) -> list[ModelTemplate]:
    """Templates in one decoded JSON document: a page, a bare list, or one template."""
    if isinstance(data, dict) and "items" in data:
        _check_page_fields(data, source)
        items, base = data["items"], "items"
    elif isinstance(data, list):
        items, base = data, ""
    elif isinstance(data, dict):
        return [_validate_template(data, _item_label(f"{source}: template", data))]
    else:
        raise CapplanError(
            f"{source}: expected a page object, a list of templates or one template, "
            f"got {type(data).__name__}"
        )
    return [
        _validate_template(raw, _item_label(f"{source}: {base}[{i}]", raw))
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


class TemplatePage(_Model):
    """A whole list response, e.g. as written by `capplan templates fetch`."""

    items: list[ModelTemplate]
    total_item_count: int | None = None
    current_page: int | None = None
    items_per_page: int | None = None


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
