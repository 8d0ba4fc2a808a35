"""Reading text out of request bodies, and the simulator's rough token counts."""

from __future__ import annotations

import json
from typing import Any

__all__ = ["estimate_tokens", "last_user_text", "prompt_tokens"]


def estimate_tokens(text: str) -> int:
    """About four characters per token, at least one for non-empty text."""
    return 0 if not text else max(1, (len(text) + 3) // 4)


def _content_text(content: Any) -> str:
    """Text of a message ``content``: a string, or a list of parts with ``text`` fields."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            str(part.get("text", ""))
            for part in content
            if isinstance(part, dict) and "text" in part
        )
    return ""


def last_user_text(body: dict[str, Any]) -> str:
    """The last thing the user (or a tool result) said: chat ``messages``, completions ``prompt`` or
    responses ``input``."""
    messages = body.get("messages")
    if isinstance(messages, list):
        for message in reversed(messages):
            if isinstance(message, dict) and message.get("role") in ("user", "tool"):
                return _content_text(message.get("content"))
        return ""
    prompt = body.get("prompt")
    if prompt is not None:
        if isinstance(prompt, list):
            return str(prompt[-1]) if prompt else ""
        return str(prompt)
    items = body.get("input")
    if isinstance(items, str):
        return items
    if isinstance(items, list):
        for item in reversed(items):
            if not isinstance(item, dict):
                continue
            if item.get("type") == "function_call_output":
                return str(item.get("output", ""))
            if item.get("role") == "user":
                return _content_text(item.get("content"))
    return ""


def prompt_tokens(body: dict[str, Any]) -> int:
    """A deterministic prompt size: the estimated tokens of the request's messages, prompt or input."""
    parts: list[str] = []
    for key in ("messages", "prompt", "input", "instructions", "tools"):
        value = body.get(key)
        if value is not None:
            parts.append(value if isinstance(value, str) else json.dumps(value))
    return max(1, estimate_tokens("".join(parts)))
