"""LM Studio's own routes: liveness probes, REST ``/api/v0`` and ``/api/v1`` model management."""

from __future__ import annotations

from typing import Any

import anyio

from lmbridge.testing.context import SimContext
from lmbridge.testing.exchange import SimRequest, SimResponse, error_response, json_response
from lmbridge.testing.failures import SimError
from lmbridge.testing.routes_openai import generate
from lmbridge.testing.script import Reply
from lmbridge.testing.state import SimInstance, SimLoadError
from lmbridge.testing.wire_chat import usage_for
from lmbridge.testing.wire_models import v0_model_row, v1_load_config, v1_model_row

__all__ = [
    "greeting",
    "lms_status",
    "v0_chat_completions",
    "v0_completions",
    "v0_model",
    "v0_models",
    "v1_load",
    "v1_models",
    "v1_unload",
]

_STOP_REASONS = {
    "stop": "eosFound",
    "length": "maxPredictedTokensReached",
    "tool_calls": "toolCalls",
    "content_filter": "userStopped",
}
_TOKENS_PER_SECOND = 50.0
_V1_LOAD_SETTINGS = ("eval_batch_size", "flash_attention", "num_experts", "offload_kv_cache_to_gpu")


async def greeting(context: SimContext, request: SimRequest, body: Any) -> SimResponse:
    """``GET /lmstudio-greeting``: the probe that never loads anything (and needs no token)."""
    return json_response({"lmstudio": True})


async def lms_status(context: SimContext, request: SimRequest, body: Any) -> SimResponse:
    """``GET /lms-status``: package and version."""
    return json_response({"package": "lmstudio", "version": context.settings.version})


def _v0_rows(context: SimContext, *, everything: bool) -> list[dict[str, Any]]:
    state = context.state
    rows: list[dict[str, Any]] = []
    if everything or context.settings.jit:
        for model in state.models.values():
            instances = state.instances_of(model.key)
            rows.append(v0_model_row(model, model.key, instances[0] if instances else None))
        rows.extend(
            v0_model_row(inst.model, inst.identifier, inst)
            for inst in state.instances
            if inst.identifier not in state.models
        )
    else:
        rows.extend(v0_model_row(inst.model, inst.identifier, inst) for inst in state.instances)
    return rows


async def v0_models(context: SimContext, request: SimRequest, body: Any) -> SimResponse:
    """``GET /api/v0/models``: downloaded models with state (only loaded ones when JIT is off)."""
    return json_response({"object": "list", "data": _v0_rows(context, everything=False)})


async def v0_model(context: SimContext, request: SimRequest, body: Any) -> SimResponse:
    """``GET /api/v0/models/{id}`` (the id may contain ``/``)."""
    model_id = request.path.removeprefix("/api/v0/models/")
    for row in _v0_rows(context, everything=True):
        if row["id"] == model_id:
            return json_response(row)
    return error_response(SimError.not_found(f'Model "{model_id}" not found.'))


def _v0_extras(inst: SimInstance, reply: Reply) -> dict[str, Any]:
    if reply.stats is not None:
        stats = dict(reply.stats)
    else:
        tokens = usage_for(reply, 0)["completion_tokens"]
        stats = {
            "tokens_per_second": _TOKENS_PER_SECOND,
            "time_to_first_token": round(reply.delay, 3),
            "generation_time": round(tokens / _TOKENS_PER_SECOND, 3),
            "stop_reason": _STOP_REASONS.get(reply.resolved_finish_reason, "eosFound"),
        }
    return {
        "stats": stats,
        "model_info": {
            "arch": inst.model.architecture,
            "quant": inst.model.quantization,
            "format": inst.model.format,
            "context_length": inst.context_length,
        },
        "runtime": {
            "name": "llama.cpp-linux-x86_64-avx2",
            "version": "1.50.2",
            "supported_formats": ["gguf"],
        },
    }


async def v0_chat_completions(context: SimContext, request: SimRequest, body: Any) -> SimResponse:
    """``POST /api/v0/chat/completions``: the OpenAI body plus ``stats``, ``model_info``, ``runtime``."""
    return await generate(context, body, kind="chat", extras=_v0_extras)


async def v0_completions(context: SimContext, request: SimRequest, body: Any) -> SimResponse:
    """``POST /api/v0/completions``: the OpenAI body plus LM Studio stats."""
    return await generate(context, body, kind="completion", extras=_v0_extras)


async def v1_models(context: SimContext, request: SimRequest, body: Any) -> SimResponse:
    """``GET /api/v1/models``: every downloaded model with its loaded instances."""
    state = context.state
    rows = [v1_model_row(model, state.instances_of(model.key)) for model in state.models.values()]
    return json_response({"models": rows})


async def v1_load(context: SimContext, request: SimRequest, body: Any) -> SimResponse:
    """``POST /api/v1/models/load``: ALWAYS a new instance (``key:2`` if already loaded), like ``lms``.

    A client that goes away does not cancel the load (as in LM Studio): it completes on time.
    """
    name = body.get("model")
    if not isinstance(name, str) or not name:
        return error_response(SimError.bad_request("'model' field is required", param="model"))
    model = context.state.find_model(name)
    if model is None:
        return error_response(
            SimError(
                404,
                {
                    "error": {
                        "message": f'Model "{name}" not found.',
                        "type": "invalid_request_error",
                        "param": "model",
                        "code": "model_not_found",
                    }
                },
            )
        )
    raw_length = body.get("context_length")
    context_length = raw_length if isinstance(raw_length, int) else None
    # The llama.cpp settings load.md documents, kept as given for the listing and the echo.
    config = {name: body[name] for name in _V1_LOAD_SETTINGS if body.get(name) is not None}
    delay = context.settings.load_delay
    if delay > 0:
        done_at = context.state.clock() + delay
        try:
            await anyio.sleep(delay)
        except anyio.get_cancelled_exc_class():
            # The client went away: LM Studio finishes the load all the same.
            context.state.finish_later(
                model.key, at=done_at, context_length=context_length, via="rest"
            )
            raise
    try:
        inst = context.state.load(
            model.key, context_length=context_length, via="rest", config=config
        )
    except SimLoadError as exc:
        return error_response(SimError.load_failed(model.key, exc.message))
    answer: dict[str, Any] = {
        "type": model.lms_type,
        "instance_id": inst.identifier,
        "load_time_seconds": round(delay, 3),
        "status": "loaded",
    }
    if body.get("echo_load_config") is True:  # load.md: "Included only when ... true"
        answer["load_config"] = v1_load_config(inst, listing=False)
    return json_response(answer)


async def v1_unload(context: SimContext, request: SimRequest, body: Any) -> SimResponse:
    """``POST /api/v1/models/unload``."""
    instance_id = body.get("instance_id")
    if not isinstance(instance_id, str) or not instance_id:
        return error_response(
            SimError.bad_request("'instance_id' field is required", param="instance_id")
        )
    if not context.state.unload(instance_id):
        return error_response(
            SimError.not_found(f'No model found with instance id "{instance_id}".')
        )
    return json_response({"instance_id": instance_id})
