"""``POST /v1/responses``: stateful (``previous_response_id``), flat function tools, named SSE events."""

from __future__ import annotations

import time
from typing import Any

import anyio

from lmbridge.testing.context import SimContext
from lmbridge.testing.exchange import (
    SimRequest,
    SimResponse,
    error_response,
    json_response,
    sse_event,
)
from lmbridge.testing.failures import SimError
from lmbridge.testing.request_text import prompt_tokens
from lmbridge.testing.script import apply_limits
from lmbridge.testing.serving import (
    admit,
    pick_reply,
    response_model_name,
    stream_response,
)
from lmbridge.testing.wire_responses import (
    ResponseFrame,
    output_items,
    response_events,
    response_object,
)

__all__ = ["responses"]


def _input_items(value: Any) -> list[dict[str, Any]] | None:
    if isinstance(value, str):
        return [{"role": "user", "content": value}]
    if isinstance(value, list) and all(isinstance(item, dict) for item in value):
        return list(value)
    return None


def _validate_tools(tools: Any) -> SimError | None:
    if tools is None:
        return None
    if not isinstance(tools, list):
        return SimError.bad_request("'tools' must be an array", param="tools")
    for index, tool in enumerate(tools):
        is_function = isinstance(tool, dict) and tool.get("type") == "function"
        if is_function and not isinstance(tool.get("name"), str):
            return SimError.tools_flat_required(index)
    return None


def _previous_not_found(response_id: str) -> SimError:
    return SimError(
        400,
        {
            "error": {
                "message": f"Previous response with id '{response_id}' not found.",
                "type": "invalid_request_error",
                "param": "previous_response_id",
                "code": "previous_response_not_found",
            }
        },
    )


def _stream_error(message: str) -> bytes:
    payload = {"type": "error", "code": "server_error", "message": message, "param": None}
    return sse_event("error", payload)


async def responses(context: SimContext, request: SimRequest, body: Any) -> SimResponse:
    """Serve a Responses API request, streamed or not, and store it for ``previous_response_id``."""
    items_in = _input_items(body.get("input"))
    if items_in is None:
        return error_response(SimError.bad_request("'input' field is required", param="input"))
    invalid = _validate_tools(body.get("tools"))
    if invalid is not None:
        return error_response(invalid)
    previous_id = body.get("previous_response_id")
    history: list[dict[str, Any]] = []
    if previous_id is not None:
        stored = context.responses.get(str(previous_id))
        if stored is None:
            return error_response(_previous_not_found(str(previous_id)))
        history = list(stored["history"])
    inst = await admit(context, body, kind="chat")
    if isinstance(inst, SimError):
        return error_response(inst)
    activity = inst.track("processingPrompt", now=context.now())
    handed_off = False
    try:
        reply = apply_limits(
            await pick_reply(context, inst, "responses", body),
            body,
            token_field="max_output_tokens",
        )
        if reply.error is not None:
            return error_response(reply.error)
        conversation = history + items_in
        frame = ResponseFrame(
            id=context.new_id("resp_"),
            created_at=int(time.time()),
            model=response_model_name(inst, reply),
            input_tokens=prompt_tokens({"input": conversation, "tools": body.get("tools")}),
            previous_response_id=str(previous_id) if previous_id is not None else None,
            request=body,
        )
        call_ids = [call.id or context.next_call_id() for call in reply.tool_calls]
        items = output_items(reply, new_id=context.new_id, call_ids=call_ids)
        final = response_object(frame, reply, items)
        if body.get("store", True) is not False:
            context.responses[frame.id] = {"response": final, "history": conversation + items}
        if body.get("stream"):
            events = response_events(frame, reply, items)
            if reply.omit_done:
                events = events[:-1]
            response = stream_response(
                context,
                inst,
                activity,
                reply,
                [sse_event(name, payload) for name, payload in events],
                done=None,
                error_event=_stream_error,
            )
            handed_off = True
            return response
        if reply.delay > 0:
            await anyio.sleep(reply.delay)
        activity.switch("generating")
        return json_response(final)
    finally:
        if not handed_off:
            activity.finish(now=context.now())
