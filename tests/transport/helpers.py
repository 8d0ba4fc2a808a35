"""Helpers to build OpenAI-style bodies for respx mocks."""

from __future__ import annotations

import json
from typing import Any

import httpx

MODEL = "qwen/qwen3-4b"


def sse(*chunks: Any, done: bool = True) -> bytes:
    """An event-stream body from JSON-able chunks (strings are sent as they are)."""
    lines = []
    for chunk in chunks:
        data = chunk if isinstance(chunk, str) else json.dumps(chunk)
        lines.append(f"data: {data}\n\n")
    if done:
        lines.append("data: [DONE]\n\n")
    return "".join(lines).encode()


def sse_response(body: bytes) -> httpx.Response:
    return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=body)


def chunk(
    delta: dict[str, Any] | None = None, finish: str | None = None, **extra: Any
) -> dict[str, Any]:
    """One chat.completion.chunk."""
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "model": extra.pop("model", MODEL),
        "choices": [{"index": 0, "delta": delta or {}, "finish_reason": finish}],
        **extra,
    }


def completion(message: dict[str, Any], finish: str = "stop", **extra: Any) -> dict[str, Any]:
    """One chat.completion."""
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": extra.pop("model", MODEL),
        "choices": [
            {"index": 0, "message": {"role": "assistant", **message}, "finish_reason": finish}
        ],
        "usage": {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8},
        **extra,
    }
