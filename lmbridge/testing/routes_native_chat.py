"""LM Studio's native chat, ``POST /api/v1/chat`` (1_developer/2_rest/chat.md), streamed as the named
events of streaming-events.md: when the model has to be loaded first, ``model_load.start``,
``model_load.progress`` and ``model_load.end`` come before the answer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import anyio

from lmbridge.testing.context import SimContext
from lmbridge.testing.exchange import (
    SimRequest,
    SimResponse,
    SimStream,
    error_response,
    json_response,
    sse_event,
)
from lmbridge.testing.failures import SimError
from lmbridge.testing.serving import not_loaded_error
from lmbridge.testing.state import SimInstance, SimLoadError

__all__ = ["native_chat"]

_LOAD_STEPS = 4


def _v1_error(kind: str, message: str) -> dict[str, Any]:
    return {"type": kind, "message": message}


def _answer_text(body: dict[str, Any]) -> str:
    given = body.get("input")
    text = given if isinstance(given, str) else "your message"
    limit = body.get("max_output_tokens")
    answer = f"You said: {text}"
    return answer[: max(limit, 1) * 4] if isinstance(limit, int) else answer


def _result(context: SimContext, inst: SimInstance, text: str, load_seconds: float | None) -> Any:
    stats: dict[str, Any] = {
        "input_tokens": 8,
        "total_output_tokens": max(len(text) // 4, 1),
        "reasoning_output_tokens": 0,
        "tokens_per_second": 50.0,
        "time_to_first_token_seconds": 0.01,
    }
    if load_seconds is not None:
        stats["model_load_time_seconds"] = load_seconds
    result: dict[str, Any] = {
        "model_instance_id": inst.identifier,
        "output": [{"type": "message", "content": text}],
        "stats": stats,
    }
    return result


async def native_chat(context: SimContext, request: SimRequest, body: Any) -> SimResponse:
    """``POST /api/v1/chat``: loads the model when it is not loaded (reporting progress when
    streamed), then answers with a short echo."""
    name = body.get("model")
    if not isinstance(name, str) or not name:
        return error_response(SimError.bad_request("'model' field is required", param="model"))
    inst = context.state.resolve_loaded(name)
    model = context.state.find_model(name)
    if inst is None and model is None:
        message = f"Model {name!r} not found."
        return error_response(SimError(404, {"error": _v1_error("model_not_found", message)}))
    if inst is None and not context.settings.jit:
        return error_response(not_loaded_error(context))
    ttl = body.get("ttl") if isinstance(body.get("ttl"), (int, float)) else None
    text = _answer_text(body)
    if not body.get("stream"):
        load_seconds = None
        if inst is None:
            assert model is not None
            await anyio.sleep(context.settings.load_delay)
            try:
                inst = context.state.load(model.key, ttl=ttl, via="jit")
            except SimLoadError as exc:
                return error_response(SimError.load_failed(model.key, exc.message))
            load_seconds = context.settings.load_delay
        return json_response(_result(context, inst, text, load_seconds))

    async def events() -> AsyncIterator[bytes]:
        loaded = inst
        key = model.key if model is not None else name
        yield sse_event("chat.start", {"type": "chat.start", "model_instance_id": key})
        load_seconds = None
        if loaded is None:
            yield sse_event(
                "model_load.start", {"type": "model_load.start", "model_instance_id": key}
            )
            for step in range(1, _LOAD_STEPS + 1):
                await anyio.sleep(context.settings.load_delay / _LOAD_STEPS)
                if step < _LOAD_STEPS:
                    progress = {"type": "model_load.progress", "model_instance_id": key}
                    yield sse_event(
                        "model_load.progress", {**progress, "progress": step / _LOAD_STEPS}
                    )
            try:
                loaded = context.state.load(key, ttl=ttl, via="jit")
            except SimLoadError as exc:
                error = _v1_error("invalid_request", f'Error loading model "{key}": {exc.message}')
                yield sse_event("error", {"type": "error", "error": error})
                return
            load_seconds = context.settings.load_delay
            end = {"type": "model_load.end", "model_instance_id": loaded.identifier}
            yield sse_event("model_load.end", {**end, "load_time_seconds": load_seconds})
        for name_ in ("prompt_processing.start", "prompt_processing.end", "message.start"):
            yield sse_event(name_, {"type": name_})
        yield sse_event("message.delta", {"type": "message.delta", "content": text})
        yield sse_event("message.end", {"type": "message.end"})
        result = _result(context, loaded, text, load_seconds)
        yield sse_event("chat.end", {"type": "chat.end", "result": result})

    return SimResponse(200, [("content-type", "text/event-stream")], SimStream(events()))
