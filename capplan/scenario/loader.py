"""Scenario files: TOML in, a validated `Scenario` out.

A scenario is validated completely up front (Ciw style), per template: the
`[workload]`, `[service]` and `[slo]` tables hold defaults, and sub-tables
named after a template (`[workload."llama-3-8b-chat"]`) override them for that
template only. Errors name the field: `workload.rate: must be > 0`.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

from capplan.errors import CapplanError
from capplan.hardware import GPU_TYPES, Prices, gpu
from capplan.scenario.model import Scenario
from capplan.scenario.specs import ServiceSpec
from capplan.scenario.validate import PER_TEMPLATE, WHOLE_SCENARIO, check_seed, validate
from capplan.scenario.workload_spec import WorkloadSpec
from capplan.template_files import load_templates
from capplan.templates import ModelTemplate

_TOP_KEYS = {"name", "seed", "templates", "costs", "model", *PER_TEMPLATE, *WHOLE_SCENARIO}
PRICE_KEYS = ("cpu_per_hour", "memory_gib_per_hour")


def load_scenario(path: str | Path) -> Scenario:
    """Read, validate and resolve a scenario TOML file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise CapplanError(f"{p}: cannot read scenario file ({exc.strerror or exc})") from None
    except UnicodeDecodeError as exc:
        raise CapplanError(
            f"{p}: not UTF-8 text (byte {exc.object[exc.start]:#04x} at offset {exc.start}); "
            "TOML files must be UTF-8"
        ) from None
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
    if not isinstance(name, str):
        raise CapplanError("name: must be a string")
    seed = check_seed(raw.get("seed", 1))
    if templates is None:
        templates = _load_scenario_templates(_table(raw, "templates"), base_dir)
    names = [t.name for t in templates]
    if "model" in raw:  # [model] is the service's model card, written as its own table
        raw = {**raw, "service": {**_table(raw, "service"), "model": _table(raw, "model")}}
    per_table = {t: _split_overrides(_table(raw, t), t, names) for t in PER_TEMPLATE}
    workloads = {n: resolve_workload(_merged(per_table, "workload", n), base_dir) for n in names}
    services = {t.name: pin_reference(_merged(per_table, "service", t.name), t) for t in templates}
    slos = {n: _merged(per_table, "slo", n) for n in names}
    for t in templates:
        _check_streaming_targets(t, slos[t.name])
    whole = {k: validate(m, _table(raw, k), k) for k, m in WHOLE_SCENARIO.items()}
    return Scenario(
        name=name,
        seed=seed,
        path=path,
        templates=tuple(templates),
        workloads=MappingProxyType(workloads),
        services=MappingProxyType(services),
        slos=MappingProxyType(slos),
        prices=prices_from_table(_table(raw, "costs")),
        base_dir=base_dir,
        **whole,
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
    _check_unique_names(loaded)
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


def _check_unique_names(templates: list[ModelTemplate]) -> None:
    """A scenario addresses templates by name, so two with one name would be merged."""
    seen: dict[str, ModelTemplate] = {}
    for t in templates:
        if t.name in seen:
            raise CapplanError(
                f"templates.path: two templates are named {t.name!r} (ids {seen[t.name].id!r} "
                f"and {t.id!r}); names must be unique in a scenario"
            )
        seen[t.name] = t


Split = tuple[dict[str, Any], dict[str, dict[str, Any]]]


def _split_overrides(table: dict[str, Any], kind: str, names: list[str]) -> Split:
    """Split a table into its defaults and its per-template sub-tables."""
    fields = PER_TEMPLATE[kind][0].model_fields
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


def _merged(per_table: dict[str, Split], kind: str, name: str) -> Any:
    """The spec of table `kind` for template `name`: defaults, then its sub-table."""
    base, overrides = per_table[kind]
    where = f"{kind}.{name!r}" if name in overrides else kind
    return validate(PER_TEMPLATE[kind][0], {**base, **overrides.get(name, {})}, where)


def _check_streaming_targets(template: ModelTemplate, slo: Any) -> None:
    """TTFT and TPOT exist only for STREAMING endpoints: a target elsewhere is a mistake."""
    kind = str(template.effective_endpoint_type)
    for key in slo.targets():
        if key.startswith(("ttft_", "tpot_")) and kind != "STREAMING":
            raise CapplanError(
                f"slo.{key}: template {template.name!r} is {kind}, not STREAMING, so it has no "
                "first token to time; remove the target or use a STREAMING template"
            )


def pin_reference(spec: ServiceSpec, template: ModelTemplate) -> ServiceSpec:
    """Fix the reference GPU and model memory to the template as written.

    The service profile was measured on the template's own GPU; a later
    override of gpu_type (a what-if, or the planner) must not move it.
    """
    ec = template.endpoint_config
    ref = spec.reference_gpu or (ec.gpu_type if ec.gpus else None)
    ref_gpus = spec.reference_gpus or max(ec.gpus, 1)
    memory = spec.model_memory_gb
    if spec.kind == "llm":
        from capplan.llm.profile import pin_llm_reference

        return pin_llm_reference(spec, ref, ref_gpus)
    if memory is None and ec.gpus and ec.gpu_type:
        memory = gpu(ec.gpu_type).memory_gb * ec.gpus
    return spec.model_copy(
        update={"reference_gpu": ref, "reference_gpus": ref_gpus, "model_memory_gb": memory}
    )


def resolve_workload(spec: WorkloadSpec, base_dir: Path) -> WorkloadSpec:
    """The spec with its data file's path made absolute against `base_dir`, checked to exist."""
    if spec.path is None:
        return spec
    path = spec.path if spec.path.is_absolute() else (base_dir / spec.path)
    if not path.is_file():
        raise CapplanError(f"workload.path: no such file {str(path)!r}")
    return spec.model_copy(update={"path": path})


def prices_from_table(table: dict[str, Any], base: Prices | None = None) -> Prices:
    """`base` (default: the catalog's) with the `[costs]` keys of `table` applied."""
    gpu_prices: dict[str, float] = {}
    other: dict[str, float] = {}
    for key, value in table.items():
        if (
            not isinstance(value, int | float)
            or isinstance(value, bool)
            or not math.isfinite(value)
            or value < 0
        ):
            raise CapplanError(f"costs.{key}: must be a finite number >= 0 ($/hour), got {value!r}")
        if key in GPU_TYPES:
            gpu_prices[key] = float(value)
        elif key in PRICE_KEYS:
            other[key] = float(value)
        else:
            raise CapplanError(
                f"costs.{key}: unknown key; allowed: {', '.join(PRICE_KEYS)}, "
                f"or a GPU type ({', '.join(GPU_TYPES)})"
            )
    return (base or Prices()).with_overrides(gpu_prices, **other)
