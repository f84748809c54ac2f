"""`--set KEY=VALUE` overrides: parsed from the command line, applied to a Scenario."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import replace
from types import MappingProxyType
from typing import Any

from capplan.errors import CapplanError
from capplan.scenario.loader import prices_from_table, resolve_workload
from capplan.scenario.model import Scenario
from capplan.scenario.validate import PER_TEMPLATE, WHOLE_SCENARIO, check_seed, validate
from capplan.template_files import warn_scale_from_zero

_TEMPLATE_ROOTS = ("endpoint_config", "bundle_config", "vendor_configuration")
_OVERRIDE_ROOTS = ("seed", *PER_TEMPLATE, *WHOLE_SCENARIO, "costs")


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
    scenario: Scenario,
    overrides: Mapping[str, Any],
    template: str | None = None,
    *,
    option: str = "--set",
) -> Scenario:
    """A new scenario with dotted overrides applied.

    Template paths (endpoint_config.*, bundle_config.*) change the selected
    template(s); scenario paths (workload.rate, service.batching_alpha, …)
    change the merged spec of every selected template. An error names the
    scenario file and `option`, the command-line option the overrides came from.
    """
    if not overrides:
        return scenario
    try:
        return _apply(scenario, overrides, template, option)
    except CapplanError as exc:
        message = str(exc)
        if not message.startswith(option):
            message = f"{option}: {message}"
        where = f"{scenario.path}: " if scenario.path is not None else ""
        raise CapplanError(f"{where}{message}") from None


def _apply(
    scenario: Scenario, overrides: Mapping[str, Any], template: str | None, option: str
) -> Scenario:
    names = [template] if template else list(scenario.template_names)
    for n in names:
        scenario.template(n)  # error if unknown
    tpl_updates = {k: v for k, v in overrides.items() if k.split(".")[0] in _TEMPLATE_ROOTS}
    scen_updates = {k: v for k, v in overrides.items() if k not in tpl_updates}
    templates = tuple(
        t.with_updates(tpl_updates) if tpl_updates and t.name in names else t
        for t in scenario.templates
    )
    newly = [
        new
        for old, new in zip(scenario.templates, templates, strict=True)
        if new.relies_on_scale_from_zero and not old.relies_on_scale_from_zero
    ]
    warn_scale_from_zero(newly, option)
    result = replace(scenario, templates=templates)
    # All keys of one table are applied together, so their order never matters
    # (horizon_s and warmup_s are checked against each other).
    grouped: dict[str, dict[str, Any]] = {}
    for key, value in scen_updates.items():
        root, _, rest = key.partition(".")
        if root not in _OVERRIDE_ROOTS or (root == "seed") == bool(rest):
            raise CapplanError(
                f"{option} {key}: unknown setting; use endpoint_config.*, bundle_config.*, "
                f"{', '.join(f'{r}.*' for r in _OVERRIDE_ROOTS if r != 'seed')} or seed"
            )
        grouped.setdefault(root, {})
        grouped[root] = _deep_merge(grouped[root], _nested(rest, value) if rest else {"": value})
    for root, update in grouped.items():
        result = _apply_scenario_override(result, root, update, names)
    return result


def _apply_scenario_override(
    scenario: Scenario, root: str, update: dict[str, Any], names: list[str]
) -> Scenario:
    if root == "seed":
        return replace(scenario, seed=check_seed(update[""]))
    if root == "costs":
        return replace(scenario, prices=prices_from_table(update, scenario.prices))
    if root in WHOLE_SCENARIO:
        data = _deep_merge(getattr(scenario, root).model_dump(exclude_unset=True), update)
        return replace(scenario, **{root: validate(WHOLE_SCENARIO[root], data, root)})
    model, attr = PER_TEMPLATE[root]
    updated = dict(getattr(scenario, attr))
    for n in names:
        data = _deep_merge(updated[n].model_dump(exclude_unset=True), update)
        spec = validate(model, data, root)
        if root == "workload":
            spec = resolve_workload(spec, scenario.base_dir)
        updated[n] = spec
    return replace(scenario, **{attr: MappingProxyType(updated)})


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
