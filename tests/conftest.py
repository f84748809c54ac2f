"""Shared fixtures. Keep each small; several test modules rely on them."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

# One full template as the SGP docs show the GET /v4/model-templates answer:
# every field of the SDK's ModelTemplate type, with realistic values.
SGP_DOC_TEMPLATE: dict[str, Any] = {
    "name": "llama-8b",
    "id": "mt_0c3d5f7a9b1e4d2f8a6c0e1b",
    "created_at": "2024-05-29T18:21:44.209000Z",
    "account_id": "6630b5f1c5a5e4c1b4a0e2d7",
    "created_by_user_id": "65f1d2a7b8c9d0e1f2a3b4c5",
    "created_by_identity_type": "user",
    "endpoint_type": "STREAMING",
    "model_type": "CHAT_COMPLETION",
    "endpoint_protocol": "VLLM",
    "model_creation_parameters_schema": {
        "parameters": [
            {"name": "model_id", "type": "str", "description": "HF model id", "required": True}
        ]
    },
    "model_request_parameters_schema": {
        "parameters": [
            {"name": "temperature", "type": "float", "description": "Sampling", "required": False}
        ]
    },
    "vendor_configuration": {
        "vendor": "LAUNCH",
        "bundle_config": {
            "registry": "692474966980.dkr.ecr.us-west-2.amazonaws.com",
            "image": "llm-engine/vllm",
            "tag": "0.5.4",
            "command": ["python", "-m", "vllm_server", "--port", "5005"],
            "env": {"HF_HUB_OFFLINE": "1"},
            "streaming_command": ["python", "-m", "vllm_server", "--port", "5005"],
            "readiness_initial_delay_seconds": 120,
            "healthcheck_route": "/readyz",
            "predict_route": "/predict",
            "streaming_predict_route": "/generate_streaming",
        },
        "endpoint_config": {
            "cpus": 3,
            "memory": "8Gi",
            "storage": "16Gi",
            "gpus": 1,
            "gpu_type": "nvidia-ampere-a10",
            "min_workers": 1,
            "max_workers": 4,
            "per_worker": 10,
            "endpoint_type": "STREAMING",
            "high_priority": False,
        },
        "fine_tuning_job_bundle_config": {
            "registry": "692474966980.dkr.ecr.us-west-2.amazonaws.com",
            "image": "llm-engine/fine-tune",
            "tag": "2024.05.01",
            "command": ["python", "-m", "finetune"],
            "env": {"WANDB_DISABLED": "true"},
            "mount_location": "/workspace/launch_specific/config.json",
            "training_dataset_schema_type": "GENERATION",
            "resources": {
                "cpus": 8,
                "memory": "64Gi",
                "storage": "200Gi",
                "gpus": 1,
                "gpu_type": "nvidia-ampere-a100e",
            },
        },
    },
}


@pytest.fixture
def make_template() -> Callable[..., dict[str, Any]]:
    """A fresh copy of SGP_DOC_TEMPLATE; `endpoint_config=` / `bundle_config=` dicts and
    top-level keyword overrides are merged in (None deletes a top-level key)."""

    def build(
        endpoint_config: dict[str, Any] | None = None,
        bundle_config: dict[str, Any] | None = None,
        **top: Any,
    ) -> dict[str, Any]:
        raw = copy.deepcopy(SGP_DOC_TEMPLATE)
        raw["vendor_configuration"]["endpoint_config"].update(endpoint_config or {})
        raw["vendor_configuration"]["bundle_config"].update(bundle_config or {})
        for key, value in top.items():
            if value is None:
                raw.pop(key, None)
            else:
                raw[key] = value
        return raw

    return build
