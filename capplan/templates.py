"""Typed models of SGP model templates (the GET /v4/model-templates response).

Field names, types and optionality follow the official SGP SDK (`scale_gp.types.
ModelTemplate`, PyPI scale-gp); defaults are the documented Launch defaults. Where
the SDK is stricter than the docs (e.g. a required top-level endpoint_type) we
accept both, because a capacity planner should not refuse a template over a field
it never uses. Unknown fields are kept (extra="allow") so files round-trip.

Semantic problems (min_workers > max_workers, ...) are validation errors whose
location names the offending field; `template_files.load_templates` turns every error into one
CapplanError line naming the file, the template and the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from capplan import hardware
from capplan.errors import CapplanError
from capplan.launch import EndpointType, is_sync
from capplan.quantities import parse_quantity, quantity_text
from capplan.validation import field_error, validation_message

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


# --- models -------------------------------------------------------------------------


class _Model(BaseModel):
    """Frozen, keeps unknown fields, and treats null as "use the default" where null is
    not itself a meaningful value (the SDK types every optional field as nullable)."""

    # allow_inf_nan=False: JSON's Infinity/NaN are refused in every number (cpus, ...).
    model_config = ConfigDict(
        frozen=True, extra="allow", protected_namespaces=(), allow_inf_nan=False
    )

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
        return quantity_text(value, info.field_name)

    @field_validator("gpu_type")
    @classmethod
    def _check_gpu_type(cls, value: str | None) -> str | None:
        return _gpu_type_name(value)

    @model_validator(mode="after")
    def _check_workers(self) -> EndpointConfig:
        if self.min_workers > self.max_workers:
            raise field_error(
                "min_workers",
                f"must be <= max_workers ({self.max_workers}), got {self.min_workers}",
            )
        if self.gpus > 0 and self.gpu_type is None:
            raise field_error("gpu_type", f"must be set when gpus > 0 (gpus = {self.gpus})")
        return self

    @property
    def memory_bytes(self) -> float:
        return parse_quantity(self.memory, "memory")


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
        return None if value is None else quantity_text(value, info.field_name)

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
        return validate_template(data, f"template {self.name!r}", ": ")


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


# --- validation -------------------------------------------------------------------


def validate_template(raw: object, label: str, sep: str = ".") -> ModelTemplate:
    if not isinstance(raw, dict):
        raise CapplanError(f"{label}: expected a template object, got {type(raw).__name__}")
    try:
        return ModelTemplate.model_validate(raw)
    except ValidationError as exc:
        raise CapplanError(validation_message(exc, label, sep)) from None
    except RecursionError:
        raise CapplanError(f"{label}: nested too deeply") from None
