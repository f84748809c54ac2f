"""capplan.templates: the SGP list response, quantities, semantic checks, loading, updates."""

from __future__ import annotations

import json
import tempfile
import warnings
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from capplan.errors import CapplanError
from capplan.hardware import GPU_TYPES, Prices
from capplan.launch import ENDPOINT_TYPES
from capplan.quantities import parse_quantity
from capplan.template_files import load_template_files, load_templates, templates_from_page_dicts
from capplan.templates import (
    ENDPOINT_PROTOCOLS,
    MODEL_TYPES,
    ModelTemplate,
    ScaleFromZeroWarning,
    worker_cost_per_hour,
)

Make = Callable[..., dict[str, Any]]
GIB = 2**30


def page(*items: dict[str, Any]) -> dict[str, Any]:
    return {
        "items": list(items),
        "total_item_count": len(items),
        "current_page": 1,
        "items_per_page": 100,
    }


def write(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def one(raw: dict[str, Any]) -> ModelTemplate:
    """Validate one template dict the way a file is loaded (errors labelled `t.json`)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ScaleFromZeroWarning)
        return templates_from_page_dicts(page(raw), "t.json")[0]


def minimal(**top: Any) -> dict[str, Any]:
    bundle = {"registry": "r", "image": "i", "tag": "t"}
    return {"id": "mt_1", "name": "tiny", "vendor_configuration": {"bundle_config": bundle}, **top}


# --- the docs' example response ---------------------------------------------------------


def test_docs_example_page_parses(tmp_path: Path, make_template: Make) -> None:
    [t] = load_templates(write(tmp_path / "templates.json", page(make_template())))
    assert t.name == "llama-8b" and t.id == "mt_0c3d5f7a9b1e4d2f8a6c0e1b"
    assert t.created_at == datetime(2024, 5, 29, 18, 21, 44, 209000, tzinfo=UTC)
    assert t.created_by_identity_type == "user"
    assert (t.endpoint_type, t.model_type, t.endpoint_protocol) == (
        "STREAMING",
        "CHAT_COMPLETION",
        "VLLM",
    )
    assert t.model_creation_parameters_schema is not None
    assert t.model_creation_parameters_schema.parameters[0].name == "model_id"
    assert t.model_creation_parameters_schema.parameters[0].required is True
    assert t.vendor_configuration.vendor == "LAUNCH"
    assert t.bundle_config.image == "llm-engine/vllm" and t.bundle_config.tag == "0.5.4"
    assert t.bundle_config.command == ["python", "-m", "vllm_server", "--port", "5005"]
    cfg = t.endpoint_config
    assert (cfg.gpus, cfg.gpu_type, cfg.min_workers, cfg.max_workers, cfg.per_worker) == (
        1,
        "nvidia-ampere-a10",
        1,
        4,
        10,
    )
    assert cfg.memory_bytes == 8 * GIB and parse_quantity(cfg.storage, "storage") == 16 * GIB
    ft = t.vendor_configuration.fine_tuning_job_bundle_config
    assert ft is not None and ft.resources is not None
    assert ft.training_dataset_schema_type == "GENERATION"
    assert ft.resources.gpu_type == "nvidia-ampere-a100e" and ft.resources.memory == "64Gi"


def test_example_scenario_file_loads() -> None:
    path = Path(__file__).parent.parent / "scenarios" / "templates" / "example.json"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the example must not rely on scale-from-zero
        templates = {t.name: t for t in load_templates(path)}
    assert set(templates) == {
        "llama-3-8b-chat",
        "llama-3-70b-instruct",
        "bge-embed",
        "starcoder2-15b-code",
        "batch-scorer",
    }
    big = templates["llama-3-70b-instruct"]
    assert (big.endpoint_config.gpus, big.endpoint_config.gpu_type) == (4, "nvidia-ampere-a100e")
    assert big.bundle_config.readiness_initial_delay_seconds == 600
    assert templates["batch-scorer"].effective_endpoint_type == "ASYNC"
    assert templates["batch-scorer"].endpoint_config.min_workers == 0


# --- enums and defaults -----------------------------------------------------------------


@pytest.mark.parametrize("value", ENDPOINT_TYPES)
def test_every_endpoint_type(make_template: Make, value: str) -> None:
    t = one(make_template(endpoint_config={"endpoint_type": value}, endpoint_type=value))
    assert t.endpoint_type == value and t.endpoint_config.endpoint_type == value


@pytest.mark.parametrize("value", MODEL_TYPES)
def test_every_model_type(make_template: Make, value: str) -> None:
    assert one(make_template(model_type=value)).model_type == value


@pytest.mark.parametrize("value", ENDPOINT_PROTOCOLS)
def test_every_endpoint_protocol(make_template: Make, value: str) -> None:
    assert one(make_template(endpoint_protocol=value)).endpoint_protocol == value


@pytest.mark.parametrize("value", ["user", "service_account"])
def test_every_identity_type(make_template: Make, value: str) -> None:
    assert one(make_template(created_by_identity_type=value)).created_by_identity_type == value


@pytest.mark.parametrize("value", GPU_TYPES)
def test_every_gpu_type(make_template: Make, value: str) -> None:
    assert one(make_template(endpoint_config={"gpu_type": value})).endpoint_config.gpu_type == value


@pytest.mark.parametrize("value", ["GENERATION", "RERANKING_QUESTIONS"])
def test_every_training_dataset_schema_type(make_template: Make, value: str) -> None:
    raw = make_template()
    raw["vendor_configuration"]["fine_tuning_job_bundle_config"]["training_dataset_schema_type"] = (
        value
    )
    ft = one(raw).vendor_configuration.fine_tuning_job_bundle_config
    assert ft is not None and ft.training_dataset_schema_type == value


@pytest.mark.parametrize(
    ("field", "value", "where"),
    [
        ("endpoint_type", "REALTIME", "endpoint_type"),
        ("model_type", "CHAT", "model_type"),
        ("endpoint_protocol", "GRPC", "endpoint_protocol"),
        ("created_by_identity_type", "robot", "created_by_identity_type"),
    ],
)
def test_bad_enum_names_field(make_template: Make, field: str, value: str, where: str) -> None:
    with pytest.raises(CapplanError, match=rf"t\.json: items\[0\] \(name 'llama-8b'\)\.{where}: "):
        one(make_template(**{field: value}))


def test_unknown_gpu_type_lists_allowed(make_template: Make) -> None:
    with pytest.raises(CapplanError) as err:
        one(make_template(endpoint_config={"gpu_type": "nvidia-volta-v100"}))
    message = str(err.value)
    assert "vendor_configuration.endpoint_config.gpu_type" in message
    assert "nvidia-volta-v100" in message and "nvidia-hopper-h100" in message


def test_documented_defaults() -> None:
    t = one(minimal(endpoint_type="ASYNC"))
    cfg = t.endpoint_config
    assert cfg.cpus == 3 and cfg.memory == "8Gi" and cfg.storage == "16Gi"
    assert cfg.gpus == 0 and cfg.gpu_type == "nvidia-tesla-t4"
    assert (cfg.min_workers, cfg.max_workers, cfg.per_worker) == (0, 1, 10)
    assert cfg.endpoint_type == "ASYNC" and cfg.high_priority is False
    b = t.bundle_config
    assert b.readiness_initial_delay_seconds == 120
    assert (b.healthcheck_route, b.predict_route, b.streaming_predict_route) == (
        "/readyz",
        "/predict",
        "/generate_streaming",
    )
    assert b.command is None and b.env is None and b.streaming_command is None
    assert t.vendor_configuration.vendor == "LAUNCH"
    assert t.vendor_configuration.fine_tuning_job_bundle_config is None
    assert t.endpoint_protocol is None and t.model_creation_parameters_schema is None


def test_fine_tuning_defaults() -> None:
    ft_raw = {"registry": "r", "image": "ft", "tag": "1"}
    raw = minimal()
    raw["vendor_configuration"]["fine_tuning_job_bundle_config"] = ft_raw
    ft = one(raw).vendor_configuration.fine_tuning_job_bundle_config
    assert ft is not None
    assert ft.mount_location == "/workspace/launch_specific/config.json"
    assert ft.resources is None and ft.training_dataset_schema_type is None


def test_sdk_nulls_mean_defaults(make_template: Make) -> None:
    # The SDK types every endpoint_config field as Optional: null must not be fatal.
    nulls = dict.fromkeys(["cpus", "memory", "min_workers", "per_worker", "high_priority"])
    t = one(make_template(endpoint_config=nulls, bundle_config={"predict_route": None}))
    cfg = t.endpoint_config
    assert (cfg.cpus, cfg.memory, cfg.min_workers, cfg.per_worker) == (3, "8Gi", 0, 10)
    assert t.bundle_config.predict_route == "/predict"


def test_endpoint_config_may_be_absent_or_null() -> None:
    raw = minimal()
    raw["vendor_configuration"]["endpoint_config"] = None
    assert one(raw).endpoint_config.max_workers == 1


# --- quantities -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("8Gi", 8 * GIB),
        ("500Mi", 500 * 2**20),
        ("16G", 16e9),
        ("1.5Gi", 1.5 * GIB),
        ("1Ti", 2.0**40),
        ("100M", 100e6),
        ("1000", 1000),
        ("1e9", 1e9),
        ("1E3", 1000),
        ("128974848", 128974848),
        ("129e6", 129e6),
        ("123Mi", 123 * 2**20),
        ("1k", 1000),
        ("512Ki", 512 * 1024),
        ("1Pi", 2.0**50),
        ("2Ei", 2 * 2.0**60),
        ("1P", 1e15),
        ("1E", 1e18),
        ("1T", 1e12),
        ("500m", 0.5),
        (".5Gi", 0.5 * GIB),
        (" 8Gi ", 8 * GIB),
        (4096, 4096),
        (0.5, 0.5),
    ],
)
def test_parse_quantity(text: object, expected: float) -> None:
    assert parse_quantity(text) == pytest.approx(expected)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "Gi",
        "8GB",
        "8gi",
        "8 Gi",
        "-1Gi",
        "eight",
        "1e",
        "1.2.3",
        "8Ki8",
        "inf",
        "nan",
        "1e999",
        "0x10",
        None,
        True,
        [8],
        {"v": 1},
    ],
)
def test_parse_quantity_rejects(text: object) -> None:
    with pytest.raises(CapplanError, match=r"^memory: "):
        parse_quantity(text, "memory")


@pytest.mark.parametrize("field", ["memory", "storage"])
def test_bad_quantity_in_file_names_field(make_template: Make, field: str) -> None:
    with pytest.raises(CapplanError) as err:
        one(make_template(endpoint_config={field: "8 gigs"}))
    assert f"(name 'llama-8b').vendor_configuration.endpoint_config.{field}: " in str(err.value)
    assert "'8 gigs'" in str(err.value)


def test_bad_fine_tuning_quantity_names_field(make_template: Make) -> None:
    raw = make_template()
    raw["vendor_configuration"]["fine_tuning_job_bundle_config"]["resources"]["memory"] = "lots"
    with pytest.raises(CapplanError, match=r"fine_tuning_job_bundle_config\.resources\.memory: "):
        one(raw)


def test_quantity_spelling_is_kept_and_cpu_quantity_accepted(make_template: Make) -> None:
    t = one(make_template(endpoint_config={"memory": 1073741824, "cpus": "500m"}))
    assert t.endpoint_config.memory == "1073741824" and t.endpoint_config.memory_bytes == GIB
    assert t.endpoint_config.cpus == 0.5


# --- semantic checks --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("endpoint_config", "field", "says"),
    [
        ({"min_workers": 5, "max_workers": 2}, "min_workers", "must be <= max_workers (2), got 5"),
        ({"min_workers": 0, "max_workers": 0}, "max_workers", "greater than or equal to 1"),
        ({"per_worker": 0}, "per_worker", "greater than or equal to 1"),
        ({"gpus": -1}, "gpus", "greater than or equal to 0"),
        ({"gpus": 2, "gpu_type": None}, "gpu_type", "must be set when gpus > 0"),
        ({"min_workers": -1}, "min_workers", "greater than or equal to 0"),
        ({"per_worker": 2.5}, "per_worker", "integer"),
    ],
)
def test_semantic_errors_name_template_and_field(
    tmp_path: Path, make_template: Make, endpoint_config: dict[str, Any], field: str, says: str
) -> None:
    other = make_template(id="mt_ok", name="fine")
    bad = make_template(id="mt_bad", name="llama-8b", endpoint_config=endpoint_config)
    path = write(tmp_path / "templates.json", page(other, other | {"id": "mt_2"}, bad))
    with pytest.raises(CapplanError) as err:
        load_templates(path)
    message = str(err.value)
    assert message.startswith(
        f"{path}: items[2] (name 'llama-8b').vendor_configuration.endpoint_config.{field}: "
    )
    assert says in message and "\n" not in message


def test_gpus_zero_needs_no_gpu_type(make_template: Make) -> None:
    t = one(make_template(endpoint_config={"gpus": 0, "gpu_type": None}))
    assert t.endpoint_config.gpu_type is None
    assert t.worker_cost_per_hour() == pytest.approx(3 * 0.04 + 8 * 0.005)


@pytest.mark.parametrize("endpoint_type", ["SYNC", "STREAMING"])
def test_scale_from_zero_warns(tmp_path: Path, make_template: Make, endpoint_type: str) -> None:
    raw = make_template(endpoint_type=endpoint_type, endpoint_config={"min_workers": 0})
    path = write(tmp_path / "t.json", page(raw))
    with pytest.warns(ScaleFromZeroWarning, match="scale-from-zero .KEDA.*cold start") as rec:
        [t] = load_templates(path)
    assert t.relies_on_scale_from_zero
    assert "llama-8b" in str(rec[0].message) and str(path) in str(rec[0].message)


@pytest.mark.parametrize(
    ("top", "config", "warns"),
    [
        ("ASYNC", "SYNC", False),  # the template's own endpoint_type wins
        ("BATCH", "SYNC", False),
        (None, "SYNC", True),  # absent at the top: endpoint_config's is used
        (None, "ASYNC", False),
        ("SYNC", "ASYNC", True),
    ],
)
def test_effective_endpoint_type(
    tmp_path: Path, make_template: Make, top: str | None, config: str, warns: bool
) -> None:
    raw = make_template(
        endpoint_type=top, endpoint_config={"endpoint_type": config, "min_workers": 0}
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        [t] = load_templates(write(tmp_path / "t.json", [raw]))
    assert t.effective_endpoint_type == (top or config)
    assert bool(caught) is warns and t.relies_on_scale_from_zero is warns


# --- loading shapes and file errors -------------------------------------------------------


def test_bare_list_single_template_and_several_files(tmp_path: Path, make_template: Make) -> None:
    a, b, c = (make_template(id=f"mt_{n}", name=f"n{n}") for n in "abc")
    as_list = write(tmp_path / "list.json", [a, b])
    as_one = write(tmp_path / "one.json", c)
    assert [t.name for t in load_templates(as_list)] == ["na", "nb"]
    assert [t.name for t in load_templates(str(as_one))] == ["nc"]
    assert [t.name for t in load_templates([as_list, as_one])] == ["na", "nb", "nc"]
    by_file = load_template_files([as_list, as_one])
    assert [(p.name, len(ts)) for p, ts in by_file] == [("list.json", 2), ("one.json", 1)]


def test_directory_is_merged_in_name_order(tmp_path: Path, make_template: Make) -> None:
    write(tmp_path / "b.json", page(make_template(id="mt_b", name="second")))
    write(tmp_path / "a.json", page(make_template(id="mt_a", name="first")))
    (tmp_path / "notes.txt").write_text("ignored")
    assert [t.name for t in load_templates(tmp_path)] == ["first", "second"]


def test_duplicate_id_across_files_names_both(tmp_path: Path, make_template: Make) -> None:
    write(tmp_path / "a.json", page(make_template(name="one")))
    write(tmp_path / "b.json", page(make_template(name="two")))
    with pytest.raises(CapplanError) as err:
        load_templates(tmp_path)
    message = str(err.value)
    assert str(tmp_path / "a.json") in message and str(tmp_path / "b.json") in message
    assert "duplicate template id 'mt_0c3d5f7a9b1e4d2f8a6c0e1b'" in message


def test_duplicate_id_within_a_file(tmp_path: Path, make_template: Make) -> None:
    path = write(tmp_path / "t.json", page(make_template(), make_template()))
    with pytest.raises(CapplanError, match="duplicate template id"):
        load_templates(path)


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ("{not json", "not valid JSON"),
        ("", "not valid JSON"),
        ("42", "expected a page object, a list of templates or one template, got int"),
        ('"text"', "got str"),
        ("null", "got NoneType"),
        ('{"items": {"a": 1}}', "items: Input should be a valid list"),
        ('{"items": [], "total_item_count": -1}', "total_item_count: "),
        ('{"items": [7]}', "items[0]: expected a template object, got int"),
        ('[{"name": "x"}]', "[0] (name 'x').id: Field required (and 1 more)"),
        ('{"name": "x", "id": "y"}', "template (name 'x').vendor_configuration: Field required"),
    ],
)
def test_file_errors_are_one_line(tmp_path: Path, content: str, says: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(CapplanError) as err:
        load_templates(path)
    message = str(err.value)
    assert message.startswith(f"{path}: ") and says in message and "\n" not in message


def test_missing_file_and_empty_dir(tmp_path: Path) -> None:
    with pytest.raises(CapplanError, match=r"nope\.json: no such file"):
        load_templates(tmp_path / "nope.json")
    with pytest.raises(CapplanError, match="no \\*.json files"):
        load_templates(tmp_path)


def test_unknown_fields_are_kept(make_template: Make) -> None:
    raw = make_template(owner_team="search", endpoint_config={"node_selector": {"pool": "a10"}})
    raw["vendor_configuration"]["bundle_config"]["app_config"] = {"x": 1}
    raw["model_request_parameters_schema"]["parameters"][0]["default"] = 0.7
    t = one(raw)
    assert t.model_extra == {"owner_team": "search"}
    assert t.endpoint_config.model_extra == {"node_selector": {"pool": "a10"}}
    dumped = t.model_dump(mode="json")
    assert dumped["vendor_configuration"]["bundle_config"]["app_config"] == {"x": 1}
    assert dumped["model_request_parameters_schema"]["parameters"][0]["default"] == 0.7


def test_models_are_frozen(make_template: Make) -> None:
    t = one(make_template())
    with pytest.raises(ValueError, match="frozen"):
        t.endpoint_config.per_worker = 3  # type: ignore[misc]


# --- with_updates and cost ------------------------------------------------------------------


def test_with_updates_applies_dotted_paths(make_template: Make) -> None:
    t = one(make_template())
    new = t.with_updates(
        {
            "endpoint_config.per_worker": 4,
            "endpoint_config.gpu_type": "nvidia-hopper-h100",
            "bundle_config.readiness_initial_delay_seconds": 30,
            "endpoint_config.high_priority": True,
            "vendor_configuration.endpoint_config.max_workers": "12",
            "endpoint_config.min_workers": "2",
            "endpoint_type": "SYNC",
        }
    )
    cfg = new.endpoint_config
    assert (cfg.per_worker, cfg.gpu_type, cfg.high_priority) == (4, "nvidia-hopper-h100", True)
    assert (cfg.min_workers, cfg.max_workers) == (2, 12)
    assert new.bundle_config.readiness_initial_delay_seconds == 30
    assert new.effective_endpoint_type == "SYNC"
    assert t.endpoint_config.per_worker == 10  # the original is untouched
    assert new.id == t.id and new.created_at == t.created_at


def test_with_updates_coerces_cli_strings(make_template: Make) -> None:
    new = one(make_template()).with_updates(
        {"endpoint_config.high_priority": "true", "endpoint_config.per_worker": "4"}
    )
    assert new.endpoint_config.high_priority is True and new.endpoint_config.per_worker == 4


@pytest.mark.parametrize(
    "path", ["endpoint_config.nope", "nope", "endpoint_config.gpus.x", "vendor_configuration.zzz"]
)
def test_with_updates_unknown_path(make_template: Make, path: str) -> None:
    with pytest.raises(CapplanError, match=rf"^template 'llama-8b': {path}: unknown field"):
        one(make_template()).with_updates({path: 1})


@pytest.mark.parametrize(
    ("updates", "where"),
    [
        ({"endpoint_config.per_worker": "many"}, "endpoint_config.per_worker"),
        ({"endpoint_config.per_worker": 0}, "endpoint_config.per_worker"),
        ({"endpoint_config.gpu_type": "nvidia-tpu"}, "endpoint_config.gpu_type"),
        ({"endpoint_config.min_workers": 9}, "endpoint_config.min_workers"),
        ({"endpoint_config.memory": "8 GB"}, "endpoint_config.memory"),
        ({"endpoint_config.high_priority": "perhaps"}, "endpoint_config.high_priority"),
        ({"bundle_config.readiness_initial_delay_seconds": -5}, "readiness_initial_delay_seconds"),
    ],
)
def test_with_updates_bad_value_names_path(
    make_template: Make, updates: dict[str, object], where: str
) -> None:
    with pytest.raises(CapplanError) as err:
        one(make_template()).with_updates(updates)
    assert str(err.value).startswith("template 'llama-8b': vendor_configuration.")
    assert where in str(err.value)


def test_with_updates_can_fill_an_absent_block(make_template: Make) -> None:
    t = one(minimal())
    with pytest.raises(
        CapplanError, match="fine_tuning_job_bundle_config.registry: Field required"
    ):
        t.with_updates({"fine_tuning_job_bundle_config.tag": "x"})


def test_worker_cost_per_hour(make_template: Make) -> None:
    t = one(make_template(endpoint_config={"gpus": 4, "gpu_type": "nvidia-ampere-a100e"}))
    expected = 4 * 2.90 + 3 * 0.04 + 8 * 0.005
    assert worker_cost_per_hour(t, Prices()) == pytest.approx(expected)
    assert t.worker_cost_per_hour() == pytest.approx(expected)
    cheap = Prices().with_overrides(gpu_per_hour={"nvidia-ampere-a100e": 1.0}, cpu_per_hour=0)
    assert t.worker_cost_per_hour(cheap) == pytest.approx(4 * 1.0 + 8 * 0.005)


# --- fuzzing: anything either loads or is a CapplanError ----------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


def _key_paths(node: object, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    paths: list[tuple[Any, ...]] = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            paths += _key_paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            paths += _key_paths(value, (*prefix, index))
    return paths


def _load_document(document: object) -> None:
    with tempfile.TemporaryDirectory() as folder, warnings.catch_warnings():
        warnings.simplefilter("ignore", ScaleFromZeroWarning)
        path = Path(folder) / "fuzz.json"
        path.write_text(json.dumps(document), encoding="utf-8")
        try:
            load_templates(path)
        except CapplanError as exc:
            assert "\n" not in str(exc)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(json_values)
def test_arbitrary_json_loads_or_capplan_error(document: object) -> None:
    _load_document(document)
    _load_document({"items": [document]})


# make_template only builds fresh dicts, so sharing it across examples is safe.
FUZZ = settings(
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@settings(FUZZ, max_examples=250)
@given(data=st.data())
def test_mutated_template_loads_or_capplan_error(make_template: Make, data: st.DataObject) -> None:
    raw = make_template()
    path = data.draw(st.sampled_from(_key_paths(raw)))
    parent = raw
    for key in path[:-1]:
        parent = parent[key]
    if data.draw(st.booleans()):
        del parent[path[-1]]
    else:
        parent[path[-1]] = data.draw(json_values)
    _load_document(page(raw))


UPDATE_PATHS = [
    "endpoint_config.per_worker",
    "endpoint_config.min_workers",
    "endpoint_config.max_workers",
    "endpoint_config.gpus",
    "endpoint_config.gpu_type",
    "endpoint_config.memory",
    "endpoint_config.cpus",
    "endpoint_config.high_priority",
    "bundle_config.readiness_initial_delay_seconds",
    "endpoint_type",
]


@settings(FUZZ, max_examples=150)
@given(updates=st.dictionaries(st.sampled_from(UPDATE_PATHS), json_values, min_size=1, max_size=3))
def test_with_updates_fuzz(make_template: Make, updates: dict[str, object]) -> None:
    base = one(make_template())
    try:
        new = base.with_updates(updates)
    except CapplanError as exc:
        assert "\n" not in str(exc)
    else:
        assert new.endpoint_config.min_workers <= new.endpoint_config.max_workers
