"""``/v1/responses`` input seen as chat messages, so the same counting and trimming rules apply.

Each input item becomes a stand-in message that remembers its item's position: a message item
keeps its role, a ``function_call`` becomes an assistant message calling that tool and a
``function_call_output`` the tool's answer to it (so the pair is dropped together, never half).
After fitting, the items whose stand-ins were kept are sent, in order.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["input_as_messages", "messages_as_input"]

_INDEX = "_lmbridge_item"


def _item_message(item: Mapping[str, Any]) -> dict[str, Any]:
    kind = item.get("type")
    if kind == "function_call":
        call = {
            "id": str(item.get("call_id", "")),
            "type": "function",
            "function": {"name": item.get("name", ""), "arguments": item.get("arguments", "")},
        }
        return {"role": "assistant", "content": "", "tool_calls": [call]}
    if kind == "function_call_output":
        output = item.get("output", "")
        return {
            "role": "tool",
            "tool_call_id": str(item.get("call_id", "")),
            "content": output if isinstance(output, str) else str(output),
        }
    role = item.get("role")
    content = item.get("content", "")
    if isinstance(content, list):
        content = [
            {"type": "text", "text": part.get("text", "")}
            if isinstance(part, Mapping) and "text" in part
            else {"type": "image_url"}
            for part in content
        ]
    return {"role": role if role in ("system", "assistant") else "user", "content": content}


def input_as_messages(items: Any, instructions: str | None) -> list[dict[str, Any]]:
    """Stand-in chat messages for ``input`` (a string or items) after the ``instructions``."""
    messages: list[dict[str, Any]] = []
    if instructions:
        messages.append({"role": "system", "content": instructions})
    if isinstance(items, str):
        messages.append({"role": "user", "content": items})
        return messages
    for index, item in enumerate(items or ()):
        if isinstance(item, Mapping):
            messages.append({**_item_message(item), _INDEX: index})
    return messages


def messages_as_input(items: Any, kept: list[dict[str, Any]]) -> Any:
    """The input items whose stand-ins were kept, in their order."""
    if isinstance(items, str):
        return items
    positions = [message[_INDEX] for message in kept if _INDEX in message]
    return [items[index] for index in positions]
