"""``/v1/responses`` objects, output items and stream events built from a :class:`Reply` (pure)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from lmbridge.testing.request_text import estimate_tokens
from lmbridge.testing.script import Reply
from lmbridge.testing.wire_chat import split_text

__all__ = ["ResponseFrame", "output_items", "response_events", "response_object"]


@dataclass(frozen=True)
class ResponseFrame:
    """What a response object shares with its stream events."""

    id: str
    created_at: int
    model: str
    input_tokens: int
    previous_response_id: str | None
    request: dict[str, Any]


def output_items(
    reply: Reply, *, new_id: Callable[[str], str], call_ids: Sequence[str]
) -> list[dict[str, Any]]:
    """Output items: a reasoning item, a message item, then one ``function_call`` item per call."""
    items: list[dict[str, Any]] = []
    text = reply.text
    if reply.reasoning is not None:
        if reply.reasoning_shape == "think":
            text = f"<think>{reply.reasoning}</think>" + (f"\n\n{text}" if text else "")
        else:
            items.append(
                {
                    "id": new_id("rs_"),
                    "type": "reasoning",
                    "summary": [],
                    "content": [{"type": "reasoning_text", "text": reply.reasoning}],
                }
            )
    if text or not reply.tool_calls:
        items.append(
            {
                "id": new_id("msg_"),
                "type": "message",
                "role": "assistant",
                "status": "completed",
                "content": [{"type": "output_text", "text": text, "annotations": []}],
            }
        )
    for call, call_id in zip(reply.tool_calls, call_ids, strict=True):
        items.append(
            {
                "id": new_id("fc_"),
                "type": "function_call",
                "call_id": call_id,
                "name": call.name,
                "arguments": call.arguments_text,
                "status": "completed",
            }
        )
    return items


def _usage(frame: ResponseFrame, reply: Reply) -> dict[str, Any]:
    if reply.usage is not None:
        return dict(reply.usage)
    reasoning = estimate_tokens(reply.reasoning or "")
    output = max(
        1,
        reasoning
        + estimate_tokens(reply.text)
        + sum(estimate_tokens(c.name + c.arguments_text) for c in reply.tool_calls),
    )
    return {
        "input_tokens": frame.input_tokens,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": output,
        "output_tokens_details": {"reasoning_tokens": reasoning},
        "total_tokens": frame.input_tokens + output,
    }


def response_object(
    frame: ResponseFrame, reply: Reply, items: list[dict[str, Any]], *, final: bool = True
) -> dict[str, Any]:
    """The ``response`` object: complete (or ``incomplete`` when cut by the token limit) or, with
    ``final=False``, the ``in_progress`` shell sent at the start of a stream."""
    truncated = reply.resolved_finish_reason == "length"
    status = ("incomplete" if truncated else "completed") if final else "in_progress"
    request = frame.request
    return {
        "id": frame.id,
        "object": "response",
        "created_at": frame.created_at,
        "status": status,
        "error": None,
        "incomplete_details": {"reason": "max_output_tokens"} if truncated and final else None,
        "instructions": request.get("instructions"),
        "max_output_tokens": request.get("max_output_tokens"),
        "model": frame.model,
        "output": items if final else [],
        "parallel_tool_calls": True,
        "previous_response_id": frame.previous_response_id,
        "reasoning": request.get("reasoning"),
        "store": request.get("store", True),
        "temperature": request.get("temperature"),
        "text": {"format": {"type": "text"}},
        "tool_choice": request.get("tool_choice", "auto"),
        "tools": request.get("tools", []),
        "top_p": request.get("top_p"),
        "usage": _usage(frame, reply) if final and reply.send_usage else None,
    }


def _item_events(index: int, item: dict[str, Any], size: int) -> list[tuple[str, dict[str, Any]]]:
    events: list[tuple[str, dict[str, Any]]] = []
    base = {"output_index": index}
    kind = item["type"]
    if kind == "message":
        text = item["content"][0]["text"]
        shell = {**item, "status": "in_progress", "content": []}
        part = {"type": "output_text", "text": "", "annotations": []}
        at = {**base, "item_id": item["id"], "content_index": 0}
        events.append(("response.output_item.added", {**base, "item": shell}))
        events.append(("response.content_part.added", {**at, "part": part}))
        events.extend(
            ("response.output_text.delta", {**at, "delta": piece})
            for piece in split_text(text, size)
        )
        events.append(("response.output_text.done", {**at, "text": text}))
        events.append(("response.content_part.done", {**at, "part": item["content"][0]}))
    elif kind == "reasoning":
        text = item["content"][0]["text"]
        at = {**base, "item_id": item["id"], "content_index": 0}
        events.append(("response.output_item.added", {**base, "item": {**item, "content": []}}))
        events.extend(
            ("response.reasoning_text.delta", {**at, "delta": piece})
            for piece in split_text(text, size)
        )
        events.append(("response.reasoning_text.done", {**at, "text": text}))
    else:
        shell = {**item, "arguments": "", "status": "in_progress"}
        at = {**base, "item_id": item["id"]}
        events.append(("response.output_item.added", {**base, "item": shell}))
        events.extend(
            ("response.function_call_arguments.delta", {**at, "delta": piece})
            for piece in split_text(item["arguments"], size)
        )
        events.append(
            ("response.function_call_arguments.done", {**at, "arguments": item["arguments"]})
        )
    events.append(("response.output_item.done", {**base, "item": item}))
    return events


def response_events(
    frame: ResponseFrame, reply: Reply, items: list[dict[str, Any]]
) -> list[tuple[str, dict[str, Any]]]:
    """The named stream events of a response, each payload carrying ``type`` and ``sequence_number``.

    ``response.created``, ``response.in_progress``, per-item events (``output_text.delta`` etc.), then
    ``response.completed`` (or ``response.incomplete`` when cut by the token limit).
    """
    shell = response_object(frame, reply, items, final=False)
    raw: list[tuple[str, dict[str, Any]]] = [
        ("response.created", {"response": shell}),
        ("response.in_progress", {"response": shell}),
    ]
    for index, item in enumerate(items):
        raw.extend(_item_events(index, item, reply.chunk_size))
    final = response_object(frame, reply, items)
    name = "response.incomplete" if final["status"] == "incomplete" else "response.completed"
    raw.append((name, {"response": final}))
    return [
        (name, {"type": name, "sequence_number": n, **payload})
        for n, (name, payload) in enumerate(raw)
    ]
