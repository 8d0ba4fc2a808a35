"""JSON rows describing models and instances, in each listing's own spelling."""

from __future__ import annotations

from typing import Any

from lmbridge.testing.catalogue import SimModel
from lmbridge.testing.state import SimInstance

__all__ = [
    "lms_ls_row",
    "lms_ps_row",
    "openai_model_row",
    "v0_model_row",
    "v1_load_config",
    "v1_model_row",
]

_LLM_PARALLEL = 4


def lms_ls_row(model: SimModel, device: str | None = None) -> dict[str, Any]:
    """An element of ``lms ls --json`` (embedding rows carry no ``vision``/``trainedForToolUse``);
    ``deviceIdentifier`` is the LM Link device holding it, ``null`` for this machine (SDK
    ``ModelInfoBase``)."""
    row: dict[str, Any] = {
        "type": model.lms_type,
        "modelKey": model.key,
        "deviceIdentifier": device,
        "format": model.format,
        "displayName": model.name,
        "publisher": model.publisher_name,
        "path": model.file_path,
        "sizeBytes": model.size_bytes,
        "paramsString": model.params_string,
        "architecture": model.architecture,
        "quantization": {"name": model.quantization, "bits": model.bits},
        "maxContextLength": model.max_context_length,
    }
    if not model.is_embedding:
        row["vision"] = model.vision
        row["trainedForToolUse"] = model.trained_for_tool_use
    return row


def lms_ps_row(inst: SimInstance) -> dict[str, Any]:
    """An element of ``lms ps --json``: the ``ls`` fields plus the instance's own."""
    row = lms_ls_row(inst.model, inst.device)
    parallel = inst.config.get("parallel", _LLM_PARALLEL)
    row.update(
        {
            "identifier": inst.identifier,
            "ttlMs": None if inst.ttl is None else round(inst.ttl * 1000),
            "lastUsedTime": inst.last_used_ms,
            "contextLength": inst.context_length,
            "status": inst.status,
            "queued": inst.queued,
            "parallel": None if inst.model.is_embedding else parallel,
        }
    )
    return row


def openai_model_row(model_id: str) -> dict[str, Any]:
    """An element of ``GET /v1/models``: an id and nothing useful besides."""
    return {"id": model_id, "object": "model", "owned_by": "organization_owner"}


def v0_model_row(model: SimModel, model_id: str, inst: SimInstance | None) -> dict[str, Any]:
    """An element of ``GET /api/v0/models`` (``type`` spelled ``embeddings`` here)."""
    row: dict[str, Any] = {
        "id": model_id,
        "object": "model",
        "type": "embeddings" if model.is_embedding else model.type,
        "publisher": model.publisher_name,
        "arch": model.architecture,
        "compatibility_type": model.format,
        "quantization": model.quantization,
        "state": "loaded" if inst is not None else "not-loaded",
        "max_context_length": model.max_context_length,
    }
    if inst is not None:
        row["loaded_context_length"] = inst.context_length
    if model.trained_for_tool_use:
        row["capabilities"] = ["tool_use"]
    return row


def v1_load_config(inst: SimInstance, *, listing: bool = True) -> dict[str, Any]:
    """The ``config`` of a loaded instance in REST v1 answers (1_developer/2_rest/list.md): an
    embedding model's holds ``context_length`` alone; ``num_experts`` only for MoE models. The
    load answer's ``load_config`` (``listing=False``, load.md) has no ``parallel``."""
    config: dict[str, Any] = {"context_length": inst.context_length}
    if inst.model.is_embedding:
        return config
    config["eval_batch_size"] = inst.config.get("eval_batch_size", 512)
    if listing:
        config["parallel"] = inst.config.get("parallel", _LLM_PARALLEL)
    config["flash_attention"] = inst.config.get("flash_attention", True)
    experts = inst.config.get("num_experts", inst.model.moe_experts)
    if experts is not None:
        config["num_experts"] = experts
    config["offload_kv_cache_to_gpu"] = inst.config.get("offload_kv_cache_to_gpu", True)
    return config


def _v1_reasoning(model: SimModel) -> dict[str, Any] | None:
    options = model.reasoning_options
    if options is None and model.reasoning_shape is not None:
        options = ("off", "on")
    if options is None:
        return None
    return {"allowed_options": list(options), "default": model.reasoning_default or "on"}


def v1_model_row(model: SimModel, instances: list[SimInstance]) -> dict[str, Any]:
    """An element of ``GET /api/v1/models``, in the documented shape (1_developer/2_rest/list.md):
    embedding rows lack ``architecture``, ``capabilities`` and ``description``; ``reasoning`` is
    an object, present only when the model has a reasoning setting; ``variants`` and
    ``selected_variant`` only for multi-variant models."""
    row: dict[str, Any] = {
        "type": model.lms_type,
        "publisher": model.publisher_name,
        "key": model.key,
        "display_name": model.name,
    }
    if not model.is_embedding:
        row["architecture"] = model.architecture
    row.update(
        {
            "quantization": {"name": model.quantization, "bits_per_weight": model.bits},
            "size_bytes": model.size_bytes,
            "params_string": model.params_string,
            "loaded_instances": [
                {"id": inst.identifier, "config": v1_load_config(inst)} for inst in instances
            ],
            "max_context_length": model.max_context_length,
            "format": model.format,
        }
    )
    if model.is_embedding:
        return row
    capabilities: dict[str, Any] = {
        "vision": model.vision,
        "trained_for_tool_use": model.trained_for_tool_use,
    }
    reasoning = _v1_reasoning(model)
    if reasoning is not None:
        capabilities["reasoning"] = reasoning
    row["capabilities"] = capabilities
    row["description"] = None
    if model.variants:
        row["variants"] = list(model.variants)
        row["selected_variant"] = model.variants[0]
    return row
