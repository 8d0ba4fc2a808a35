"""Chat and text-completion bodies and stream chunks built from a :class:`Reply` (pure functions)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from lmbridge.testing.request_text import estimate_tokens
from lmbridge.testing.script import Reply, ToolCallSpec

__all__ = [
    "ChatFrame",
    "chat_body",
    "chat_chunks",
    "completion_body",
    "completion_chunks",
    "split_text",
    "usage_for",
]


@dataclass(frozen=True)
class ChatFrame:
    """What every body and chunk of one answer shares.

    Attributes:
        id: the completion id (``chatcmpl-...`` / ``cmpl-...``).
        created: Unix time in seconds.
        model: the model the response names.
        prompt_tokens: the estimated prompt size, for ``usage``.
        call_ids: one id per tool call of the reply, in order.
    """

    id: str
    created: int
    model: str
    prompt_tokens: int
    call_ids: tuple[str, ...] = ()


def split_text(text: str, size: int) -> list[str]:
    """Cut text into pieces of ``size`` characters."""
    return [text[i : i + size] for i in range(0, len(text), size)]


def usage_for(reply: Reply, prompt_tokens: int) -> dict[str, Any]:
    """The ``usage`` object: the reply's override, else estimated from its text."""
    if reply.usage is not None:
        return dict(reply.usage)
    completion = (
        estimate_tokens(reply.text)
        + estimate_tokens(reply.reasoning or "")
        + sum(estimate_tokens(call.name + call.arguments_text) for call in reply.tool_calls)
    )
    completion = max(completion, 1)
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion,
        "total_tokens": prompt_tokens + completion,
    }


def _content(reply: Reply) -> str:
    if reply.reasoning is not None and reply.reasoning_shape == "think":
        tail = f"\n\n{reply.text}" if reply.text else ""
        return f"<think>{reply.reasoning}</think>{tail}"
    return reply.text


def _tool_call(call: ToolCallSpec, call_id: str) -> dict[str, Any]:
    return {
        "id": call_id,
        "type": "function",
        "function": {"name": call.name, "arguments": call.arguments_text},
    }


def chat_body(frame: ChatFrame, reply: Reply) -> dict[str, Any]:
    """A non-streamed ``chat.completion`` body."""
    content = _content(reply)
    message: dict[str, Any] = {
        "role": "assistant",
        "content": None if not content and reply.tool_calls else content,
    }
    if reply.reasoning is not None and reply.reasoning_shape != "think":
        message[reply.reasoning_shape] = reply.reasoning
    if reply.tool_calls:
        message["tool_calls"] = [
            _tool_call(call, call_id)
            for call, call_id in zip(reply.tool_calls, frame.call_ids, strict=True)
        ]
    body: dict[str, Any] = {
        "id": frame.id,
        "object": "chat.completion",
        "created": frame.created,
        "model": frame.model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": reply.resolved_finish_reason,
            }
        ],
        "system_fingerprint": frame.model,
    }
    if reply.send_usage:
        body["usage"] = usage_for(reply, frame.prompt_tokens)
    return body


def _text_deltas(reply: Reply) -> list[dict[str, Any]]:
    size = reply.chunk_size
    deltas: list[dict[str, Any]] = []
    if reply.reasoning is not None:
        if reply.reasoning_shape == "think":
            pieces = ["<think>", *split_text(reply.reasoning, size), "</think>"]
            if reply.text:
                pieces.append("\n\n")
            deltas.extend({"content": piece} for piece in pieces)
        else:
            field = reply.reasoning_shape
            deltas.extend({field: piece} for piece in split_text(reply.reasoning, size))
    deltas.extend({"content": piece} for piece in split_text(reply.text, size))
    return deltas


def _tool_call_deltas(reply: Reply, call_ids: Sequence[str]) -> list[dict[str, Any]]:
    per_call: list[list[dict[str, Any]]] = []
    for index, (call, call_id) in enumerate(zip(reply.tool_calls, call_ids, strict=True)):
        fragments = split_text(call.arguments_text, reply.chunk_size) or [""]
        pieces: list[dict[str, Any]] = []
        for n, fragment in enumerate(fragments):
            if n == 0 or reply.tool_call_style == "repeat":
                piece: dict[str, Any] = {
                    "index": index,
                    "id": call_id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": fragment},
                }
            elif reply.tool_call_style == "empty_name":
                piece = {
                    "index": index,
                    "type": "function",
                    "function": {"name": "", "arguments": fragment},
                }
            else:
                piece = {"index": index, "function": {"arguments": fragment}}
            pieces.append(piece)
        per_call.append(pieces)
    if not reply.interleave_tool_calls:
        return [piece for pieces in per_call for piece in pieces]
    ordered: list[dict[str, Any]] = []
    for round_ in range(max((len(p) for p in per_call), default=0)):
        ordered.extend(pieces[round_] for pieces in per_call if round_ < len(pieces))
    return ordered


def chat_chunks(frame: ChatFrame, reply: Reply, *, include_usage: bool) -> list[dict[str, Any]]:
    """Every ``chat.completion.chunk`` of a streamed answer, in order (``[DONE]`` not included).

    A role chunk, reasoning/content deltas, tool-call deltas, a final chunk with ``delta: {}`` and the
    finish reason, then (if asked for and sent) a usage chunk with empty ``choices``.
    """

    def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
        return {
            "id": frame.id,
            "object": "chat.completion.chunk",
            "created": frame.created,
            "model": frame.model,
            "system_fingerprint": frame.model,
            "choices": [
                {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
            ],
        }

    chunks = [chunk({"role": "assistant", "content": None})]
    chunks.extend(chunk(delta) for delta in _text_deltas(reply))
    chunks.extend(
        chunk({"tool_calls": [piece]}) for piece in _tool_call_deltas(reply, frame.call_ids)
    )
    chunks.append(chunk({}, reply.resolved_finish_reason))
    if include_usage and reply.send_usage:
        chunks.append(
            {
                "id": frame.id,
                "object": "chat.completion.chunk",
                "created": frame.created,
                "model": frame.model,
                "system_fingerprint": frame.model,
                "choices": [],
                "usage": usage_for(reply, frame.prompt_tokens),
            }
        )
    return chunks


def completion_body(frame: ChatFrame, reply: Reply) -> dict[str, Any]:
    """A non-streamed legacy ``text_completion`` body."""
    body: dict[str, Any] = {
        "id": frame.id,
        "object": "text_completion",
        "created": frame.created,
        "model": frame.model,
        "choices": [
            {
                "index": 0,
                "text": _content(reply),
                "logprobs": None,
                "finish_reason": reply.resolved_finish_reason,
            }
        ],
    }
    if reply.send_usage:
        body["usage"] = usage_for(reply, frame.prompt_tokens)
    return body


def completion_chunks(
    frame: ChatFrame, reply: Reply, *, include_usage: bool
) -> list[dict[str, Any]]:
    """Every chunk of a streamed legacy completion (``[DONE]`` not included)."""

    def chunk(text: str, finish_reason: str | None = None) -> dict[str, Any]:
        return {
            "id": frame.id,
            "object": "text_completion",
            "created": frame.created,
            "model": frame.model,
            "choices": [
                {"index": 0, "text": text, "logprobs": None, "finish_reason": finish_reason}
            ],
        }

    chunks = [chunk(piece) for piece in split_text(_content(reply), reply.chunk_size)]
    chunks.append(chunk("", reply.resolved_finish_reason))
    if include_usage and reply.send_usage:
        chunks.append(
            {
                "id": frame.id,
                "object": "text_completion",
                "created": frame.created,
                "model": frame.model,
                "choices": [],
                "usage": usage_for(reply, frame.prompt_tokens),
            }
        )
    return chunks
