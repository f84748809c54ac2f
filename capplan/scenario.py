"""Scenario files: traffic, service profile, SLO, prices — TOML in, frozen data out.

A scenario is validated completely up front (Ciw style), per template: the
`[workload]`, `[service]` and `[slo]` tables hold defaults, and sub-tables
named after a template (`[workload."llama-3-8b-chat"]`) override them for that
template only. Errors name the field: `workload.rate: must be > 0`.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from capplan.distributions import Dist
from capplan.errors import CapplanError
from capplan.hardware import GPU_TYPES, Prices
from capplan.templates import ModelTemplate, load_templates


class _Spec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# ---------------------------------------------------------------- workload
WorkloadKind = Literal["poisson", "diurnal", "mmpp", "trace", "piecewise"]


class WorkloadSpec(_Spec):
    """Arrivals and request sizes for one template."""

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
    # trace: "blocks" makes replications 1, 2, … block bootstraps of the window
    # (replication 0 stays the exact replay), so replicated CIs are not zero-width.
    resample: Literal["none", "blocks"] = "none"
    block_s: float = Field(300.0, gt=0)  # trace: bootstrap block length
    horizon_s: float | None = Field(None, gt=0)  # simulated time; default 3600 or the trace
    warmup_s: float = Field(0.0, ge=0)  # excluded from the summary
    context_tokens: Dist | None = None  # synthetic kinds: prompt tokens
    generated_tokens: Dist | None = None  # synthetic kinds: output tokens

    @field_validator("rates", "mean_durations_s")
    @classmethod
    def _positive_list(cls, v: tuple[float, ...] | None) -> tuple[float, ...] | None:
        if v is not None and (len(v) == 0 or any(x < 0 for x in v)):
            raise ValueError("must be a non-empty list of numbers >= 0")
        return v

    @model_validator(mode="after")
    def _by_kind(self) -> WorkloadSpec:
        need: dict[str, tuple[str, ...]] = {
            "poisson": ("rate",),
            "diurnal": ("base_rate", "peak_rate"),
            "mmpp": ("rates", "mean_durations_s"),
            "trace": ("path",),
            "piecewise": ("path",),
        }
        missing = [k for k in need[self.kind] if getattr(self, k) is None]
        if missing:
            raise ValueError(f"kind {self.kind!r} needs {', '.join(missing)}")
        if self.kind == "diurnal" and self.peak_rate < self.base_rate:  # type: ignore[operator]
            raise ValueError("peak_rate must be >= base_rate")
        if self.kind == "mmpp":
            self._check_mmpp()
        if self.horizon_s is not None and self.warmup_s >= self.horizon_s:
            raise ValueError("warmup_s must be < horizon_s")
        return self

    def _check_mmpp(self) -> None:
        assert self.rates is not None and self.mean_durations_s is not None
        if len(self.rates) != len(self.mean_durations_s):
            raise ValueError("rates and mean_durations_s must have the same length")
        if any(d <= 0 for d in self.mean_durations_s):
            raise ValueError("mean_durations_s must all be > 0")
        if max(self.rates) <= 0:
            raise ValueError("rates: at least one phase needs a rate > 0")

    @property
    def horizon(self) -> float:
        """Simulated seconds (trace kinds resolve it in the workload module)."""
        return self.horizon_s if self.horizon_s is not None else 3600.0


# ---------------------------------------------------------------- service
class ServiceSpec(_Spec):
    """How long a request takes on a worker, and how workers start."""

    kind: Literal["latency", "tokens"] = "latency"
    distribution: Literal["exponential", "lognormal", "deterministic"] = "exponential"
    mean_s: float | None = Field(None, gt=0)  # latency kind, at concurrency 1
    median_s: float | None = Field(None, gt=0)  # latency kind (lognormal)
    p99_s: float | None = Field(None, gt=0)  # latency kind (lognormal)
    prefill_tokens_per_s: float | None = Field(None, gt=0)  # tokens kind, at concurrency 1
    decode_tokens_per_s: float | None = Field(None, gt=0)  # tokens kind, at concurrency 1
    overhead_s: float = Field(0.0, ge=0)  # tokens kind: fixed time per request
    # latency kind on another GPU: memory-bound models (LLM decode) scale with bandwidth,
    # compute-bound ones (embeddings, rerankers) with FP16 throughput.
    scales_with: Literal["bandwidth", "compute"] = "bandwidth"
    reference_gpu: str | None = None  # the GPU the figures were measured on
    reference_gpus: int | None = Field(None, ge=1)  # how many of them (default: template's)
    batching_alpha: float = Field(0.0, ge=0, le=1)  # s(k) = 1 + alpha (k - 1)
    # Launch forwarder: 100 concurrent requests per process × 2 processes per pod.
    concurrency_limit: int = Field(200, ge=1)
    cold_start: Dist = Dist(distribution="deterministic", value=60.0)  # image pull + load
    node_provisioning_s: float = Field(0.0, ge=0)  # GPU node start when no warm capacity
    model_memory_gb: float | None = Field(None, gt=0)  # default: template gpus × memory

    @field_validator("reference_gpu")
    @classmethod
    def _known_gpu(cls, v: str | None) -> str | None:
        if v is not None and v not in GPU_TYPES:
            raise ValueError(f"unknown GPU type {v!r}; allowed: {', '.join(GPU_TYPES)}")
        return v

    @model_validator(mode="after")
    def _by_kind(self) -> ServiceSpec:
        if self.kind == "tokens":
            if self.prefill_tokens_per_s is None or self.decode_tokens_per_s is None:
                raise ValueError("kind 'tokens' needs prefill_tokens_per_s and decode_tokens_per_s")
            return self
        self.latency_dist()  # raises ValueError naming what is missing
        return self

    def latency_dist(self) -> Dist:
        """The work of one request at concurrency 1, as a distribution (latency kind)."""
        if self.distribution == "lognormal":
            return Dist(
                distribution="lognormal", median=self.median_s, mean=self.mean_s, p99=self.p99_s
            )
        centre = self.mean_s if self.mean_s is not None else self.median_s
        if centre is None:
            raise ValueError(f"distribution {self.distribution!r} needs mean_s")
        if self.distribution == "exponential":
            return Dist(distribution="exponential", mean=centre)
        return Dist(distribution="deterministic", value=centre)


# ---------------------------------------------------------------- slo
class SloSpec(_Spec):
    """Latency targets (seconds) and the error budget; all optional."""

    latency_p50_s: float | None = Field(None, gt=0)
    latency_p95_s: float | None = Field(None, gt=0)
    latency_p99_s: float | None = Field(None, gt=0)
    ttft_p50_s: float | None = Field(None, gt=0)
    ttft_p95_s: float | None = Field(None, gt=0)
    ttft_p99_s: float | None = Field(None, gt=0)
    max_error_rate: float = Field(0.01, ge=0, le=1)
    confidence: float = Field(0.95, gt=0, lt=1)

    def targets(self) -> dict[str, float]:
        """{summary metric name: target seconds} for every target that is set."""
        names = ("latency_p50", "latency_p95", "latency_p99", "ttft_p50", "ttft_p95", "ttft_p99")
        return {
            f"{n}_s": getattr(self, f"{n}_s") for n in names if getattr(self, f"{n}_s") is not None
        }


# ---------------------------------------------------------------- planner & simulation
class PlannerSpec(_Spec):
    gpu_types: tuple[str, ...] | None = None  # default: every memory-feasible type
    per_worker: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 64)
    replications: int = Field(3, ge=2)
    max_workers_cap: int = Field(250, ge=1)
    change_gpu_count: bool = True  # allow more GPUs per worker to fit the model

    @field_validator("gpu_types")
    @classmethod
    def _known(cls, v: tuple[str, ...] | None) -> tuple[str, ...] | None:
        for name in v or ():
            if name not in GPU_TYPES:
                raise ValueError(f"unknown GPU type {name!r}; allowed: {', '.join(GPU_TYPES)}")
        if v is not None and not v:
            raise ValueError("must list at least one GPU type")
        return v

    @field_validator("per_worker")
    @classmethod
    def _grid(cls, v: tuple[int, ...]) -> tuple[int, ...]:
        if not v or any(p < 1 for p in v):
            raise ValueError("must be a non-empty list of integers >= 1")
        return tuple(sorted(set(v)))


class SimulationSpec(_Spec):
    replications: int = Field(1, ge=1)
    autoscaler: Literal["launch", "static"] = "launch"
    # Launch gateway (live_sync_model_endpoint_inference_gateway): 8 retries on 429/503,
    # wait_exponential(min 1, max 5, base 1.2), stop after timeout_seconds (default 10).
    max_retries: int = Field(8, ge=0)
    retry_backoff_base: float = Field(1.2, gt=1)
    retry_min_wait_s: float = Field(1.0, ge=0)
    retry_max_wait_s: float = Field(5.0, ge=0)
    gateway_timeout_s: float = Field(10.0, gt=0)
    # Launch async tasks expire after 24 h in the broker queue.
    task_expiry_s: float = Field(86400.0, gt=0)
    # Launch pod terminationGracePeriodSeconds: sync/streaming 600 s, async 1800 s.
    drain_grace_sync_s: float = Field(600.0, ge=0)
    drain_grace_async_s: float = Field(1800.0, ge=0)
    # Launch async workers run at most 20 tasks concurrently, whatever per_worker says.
    async_concurrency_cap: int = Field(20, ge=1)
    # Readiness probe period (Launch bundle readiness probe: periodSeconds 5).
    readiness_probe_period_s: float = Field(5.0, gt=0)


# ---------------------------------------------------------------- scenario
@dataclass(frozen=True)
class Case:
    """Everything needed to simulate one template: the engine's input."""

    template: ModelTemplate
    workload: WorkloadSpec
    service: ServiceSpec
    slo: SloSpec
    simulation: SimulationSpec
    prices: Prices
    seed: int

    @property
    def name(self) -> str:
        return self.template.name


_TABLES = ("workload", "service", "slo")
_TOP_KEYS = {"name", "seed", "templates", *_TABLES, "costs", "planner", "simulation"}
_TEMPLATE_ROOTS = ("endpoint_config", "bundle_config", "vendor_configuration")


@dataclass(frozen=True)
class Scenario:
    """A validated scenario: its templates and, for each, the merged specs."""

    name: str
    seed: int
    path: Path | None
    templates: tuple[ModelTemplate, ...]
    workloads: Mapping[str, WorkloadSpec]
    services: Mapping[str, ServiceSpec]
    slos: Mapping[str, SloSpec]
    prices: Prices
    planner: PlannerSpec
    simulation: SimulationSpec
    raw: Mapping[str, Any] = field(repr=False, default_factory=dict)

    @property
    def template_names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.templates)

    def template(self, name: str) -> ModelTemplate:
        for t in self.templates:
            if t.name == name:
                return t
        raise CapplanError(
            f"template: no template named {name!r} in this scenario; "
            f"have: {', '.join(self.template_names)}"
        )

    def case(self, name: str) -> Case:
        return Case(
            template=self.template(name),
            workload=self.workloads[name],
            service=self.services[name],
            slo=self.slos[name],
            simulation=self.simulation,
            prices=self.prices,
            seed=self.seed,
        )

    def cases(self, name: str | None = None) -> list[Case]:
        return [self.case(n) for n in ([name] if name else self.template_names)]


def load_scenario(path: str | Path) -> Scenario:
    """Read, validate and resolve a scenario TOML file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise CapplanError(f"{p}: cannot read scenario file ({exc.strerror or exc})") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CapplanError(f"{p}: not valid TOML: {exc}") from None
    try:
        return build_scenario(raw, base_dir=p.resolve().parent, path=p)
    except CapplanError as exc:
        raise CapplanError(f"{p}: {exc}") from None


def build_scenario(
    raw: Mapping[str, Any],
    *,
    base_dir: Path,
    path: Path | None = None,
    templates: tuple[ModelTemplate, ...] | None = None,
) -> Scenario:
    """Validate a parsed scenario dict; relative paths resolve against base_dir."""
    unknown = set(raw) - _TOP_KEYS
    if unknown:
        raise CapplanError(
            f"{sorted(unknown)[0]}: unknown top-level key; allowed: {', '.join(sorted(_TOP_KEYS))}"
        )
    name = raw.get("name", path.stem if path else "scenario")
    seed = raw.get("seed", 1)
    if not isinstance(name, str):
        raise CapplanError("name: must be a string")
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise CapplanError("seed: must be an integer >= 0")
    if templates is None:
        templates = _load_scenario_templates(_table(raw, "templates"), base_dir)
    names = [t.name for t in templates]
    per_table = {t: _split_overrides(_table(raw, t), t, names) for t in _TABLES}
    workloads = {n: _resolve_workload(per_table["workload"], n, base_dir) for n in names}
    services = {
        t.name: _pin_reference(_resolve(ServiceSpec, per_table["service"], t.name, "service"), t)
        for t in templates
    }
    slos = {n: _resolve(SloSpec, per_table["slo"], n, "slo") for n in names}
    return Scenario(
        name=name,
        seed=seed,
        path=path,
        templates=tuple(templates),
        workloads=MappingProxyType(workloads),
        services=MappingProxyType(services),
        slos=MappingProxyType(slos),
        prices=_prices(_table(raw, "costs")),
        planner=_validate(PlannerSpec, _table(raw, "planner"), "planner"),
        simulation=_validate(SimulationSpec, _table(raw, "simulation"), "simulation"),
        raw=MappingProxyType({**raw, "__base_dir__": str(base_dir)}),
    )


def _table(raw: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = raw.get(key, {})
    if not isinstance(value, dict):
        raise CapplanError(f"{key}: must be a table")
    return value


def _load_scenario_templates(table: dict[str, Any], base_dir: Path) -> tuple[ModelTemplate, ...]:
    if "path" not in table:
        raise CapplanError("templates.path: required (a templates JSON file or directory)")
    extra = set(table) - {"path", "names"}
    if extra:
        raise CapplanError(f"templates.{sorted(extra)[0]}: unknown key; allowed: path, names")
    paths = table["path"] if isinstance(table["path"], list) else [table["path"]]
    if not all(isinstance(x, str) for x in paths):
        raise CapplanError("templates.path: must be a path string or a list of them")
    loaded = load_templates([base_dir / x for x in paths])
    wanted = table.get("names")
    if wanted is None:
        return tuple(loaded)
    if not isinstance(wanted, list) or not all(isinstance(x, str) for x in wanted):
        raise CapplanError("templates.names: must be a list of template names")
    by_name = {t.name: t for t in loaded}
    for n in wanted:
        if n not in by_name:
            raise CapplanError(
                f"templates.names: no template named {n!r}; have: {', '.join(by_name)}"
            )
    return tuple(by_name[n] for n in wanted)


def _split_overrides(
    table: dict[str, Any], kind: str, names: list[str]
) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """Split a table into its defaults and its per-template sub-tables."""
    fields = {"workload": WorkloadSpec, "service": ServiceSpec, "slo": SloSpec}[kind].model_fields
    base: dict[str, Any] = {}
    overrides: dict[str, dict[str, Any]] = {}
    for key, value in table.items():
        if key in fields:
            base[key] = value
        elif isinstance(value, dict):
            if key not in names:
                raise CapplanError(
                    f"{kind}.{key}: no template of that name in this scenario "
                    f"(have: {', '.join(names)}), and not a {kind} key"
                )
            overrides[key] = value
        else:
            raise CapplanError(f"{kind}.{key}: unknown key; allowed: {', '.join(sorted(fields))}")
    return base, overrides


def _resolve(model: type[BaseModel], split: tuple[dict, dict], name: str, kind: str) -> Any:
    base, overrides = split
    merged = {**base, **overrides.get(name, {})}
    where = f"{kind}.{name!r}" if name in overrides else kind
    return _validate(model, merged, where)


def _pin_reference(spec: ServiceSpec, template: ModelTemplate) -> ServiceSpec:
    """Fix the reference GPU and model memory to the template as written.

    The service profile was measured on the template's own GPU; a later
    override of gpu_type (a what-if, or the planner) must not move it.
    """
    from capplan.hardware import gpu

    ec = template.endpoint_config
    ref = spec.reference_gpu or (ec.gpu_type if ec.gpus else None)
    ref_gpus = spec.reference_gpus or max(ec.gpus, 1)
    memory = spec.model_memory_gb
    if memory is None and ec.gpus and ec.gpu_type:
        memory = gpu(ec.gpu_type).memory_gb * ec.gpus
    return spec.model_copy(
        update={"reference_gpu": ref, "reference_gpus": ref_gpus, "model_memory_gb": memory}
    )


def _resolve_workload(split: tuple[dict, dict], name: str, base_dir: Path) -> WorkloadSpec:
    spec: WorkloadSpec = _resolve(WorkloadSpec, split, name, "workload")
    if spec.path is None:
        return spec
    path = spec.path if spec.path.is_absolute() else (base_dir / spec.path)
    if not path.is_file():
        raise CapplanError(f"workload.path: no such file {str(path)!r}")
    return spec.model_copy(update={"path": path})


def _validate(model: type[BaseModel], data: dict[str, Any], where: str) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise CapplanError(describe_validation_error(exc, where)) from None


def describe_validation_error(exc: ValidationError, where: str) -> str:
    """One line: the dotted field and pydantic's message, plus how many more."""
    errors = exc.errors()
    first = errors[0]
    loc = ".".join(str(x) for x in (where, *first["loc"]) if x != "")
    msg = first["msg"].removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        msg = "unknown key"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{loc}: {msg}{more}"


def _prices(table: dict[str, Any]) -> Prices:
    gpu_prices: dict[str, float] = {}
    other: dict[str, float] = {}
    for key, value in table.items():
        if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
            raise CapplanError(f"costs.{key}: must be a number >= 0 ($/hour)")
        if key in GPU_TYPES:
            gpu_prices[key] = float(value)
        elif key in ("cpu_per_hour", "memory_gib_per_hour"):
            other[key] = float(value)
        else:
            raise CapplanError(
                f"costs.{key}: unknown key; allowed: cpu_per_hour, memory_gib_per_hour, "
                f"or a GPU type ({', '.join(GPU_TYPES)})"
            )
    return Prices().with_overrides(gpu_prices, **other)


# ---------------------------------------------------------------- overrides (--set)
def parse_override_value(text: str) -> Any:
    """`--set` values: TOML scalars and lists (4, 0.1, true, [1, 2]), else a plain string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def parse_overrides(pairs: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """['a.b=1', ...] → {'a.b': 1}; a pair without '=' is an error naming it."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise CapplanError(f"--set {pair!r}: expected KEY=VALUE, e.g. workload.rate=5")
        out[key.strip()] = parse_override_value(value.strip())
    return out


def apply_overrides(
    scenario: Scenario, overrides: Mapping[str, Any], template: str | None = None
) -> Scenario:
    """A new scenario with dotted overrides applied.

    Template paths (endpoint_config.*, bundle_config.*) change the selected
    template(s); scenario paths (workload.rate, service.batching_alpha, …)
    change the merged spec of every selected template.
    """
    if not overrides:
        return scenario
    names = [template] if template else list(scenario.template_names)
    for n in names:
        scenario.template(n)  # error if unknown
    tpl_updates = {k: v for k, v in overrides.items() if k.split(".")[0] in _TEMPLATE_ROOTS}
    scen_updates = {k: v for k, v in overrides.items() if k not in tpl_updates}
    templates = tuple(
        t.with_updates(tpl_updates) if tpl_updates and t.name in names else t
        for t in scenario.templates
    )
    result = replace(scenario, templates=templates)
    # All keys of one table are applied together, so their order never matters
    # (horizon_s and warmup_s are checked against each other).
    grouped: dict[str, dict[str, Any]] = {}
    for key, value in scen_updates.items():
        root, _, rest = key.partition(".")
        if root not in _OVERRIDE_ROOTS or (root == "seed") == bool(rest):
            raise CapplanError(
                f"--set {key}: unknown setting; use endpoint_config.*, bundle_config.*, "
                "workload.*, service.*, slo.*, simulation.*, planner.*, costs.* or seed"
            )
        grouped.setdefault(root, {})
        grouped[root] = _deep_merge(grouped[root], _nested(rest, value) if rest else {"": value})
    for root, update in grouped.items():
        result = _apply_scenario_override(result, root, update, names)
    return result


_OVERRIDE_ROOTS = ("seed", "workload", "service", "slo", "planner", "simulation", "costs")


def _apply_scenario_override(
    scenario: Scenario, root: str, update: dict[str, Any], names: list[str]
) -> Scenario:
    if root == "seed":
        value = update[""]
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise CapplanError(f"--set seed: must be an integer >= 0, got {value!r}")
        return replace(scenario, seed=value)
    if root == "costs":
        prices = scenario.prices
        for key, value in update.items():
            prices = _merge_price(replace(scenario, prices=prices), key, value)
        return replace(scenario, prices=prices)
    if root in ("planner", "simulation"):
        model = {"planner": PlannerSpec, "simulation": SimulationSpec}[root]
        data = _deep_merge(getattr(scenario, root).model_dump(exclude_unset=True), update)
        return replace(scenario, **{root: _validate(model, data, root)})
    attr = {"workload": "workloads", "service": "services", "slo": "slos"}[root]
    updated = dict(getattr(scenario, attr))
    for n in names:
        data = _deep_merge(updated[n].model_dump(exclude_unset=True), update)
        if root == "workload":
            base_dir = Path(scenario.raw.get("__base_dir__", "."))
            updated[n] = _resolve_workload((data, {}), n, base_dir)
        else:
            updated[n] = _validate(type(updated[n]), data, root)
    return replace(scenario, **{attr: MappingProxyType(updated)})


def _merge_price(scenario: Scenario, key: str, value: Any) -> Prices:
    checked = _prices({key: value})  # validates key and value
    if key in GPU_TYPES:
        return scenario.prices.with_overrides({key: checked.gpu_per_hour[key]})
    return scenario.prices.with_overrides(**{key: getattr(checked, key)})


def _deep_merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def _nested(dotted: str, value: Any) -> dict[str, Any]:
    """'a.b' = v → {'a': {'b': v}}."""
    head, _, tail = dotted.partition(".")
    return {head: _nested(tail, value) if tail else value}


__all__ = [
    "Case",
    "PlannerSpec",
    "Scenario",
    "ServiceSpec",
    "SimulationSpec",
    "SloSpec",
    "WorkloadSpec",
    "apply_overrides",
    "build_scenario",
    "load_scenario",
    "parse_overrides",
]
