"""Turning an MCP ``CallToolResult`` (SDK 1.x or 2.x shape) into a :class:`ToolOutcome`.

Everything is duck-typed: the mcp SDK is never imported. 2.x objects use snake_case attributes
(``is_error``, ``structured_content``, ``mime_type``), 1.x camelCase (``isError``, ...); plain dicts
(the wire JSON) work too.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from lmbridge.agent.tools.base import ContentPart, ImagePart, ToolOutcome

__all__ = ["mcp_field", "outcome_from_mcp_result"]

_NO_DETAILS = "The tool reported an error without details."


def mcp_field(obj: Any, snake: str, camel: str | None = None, default: Any = None) -> Any:
    """Read a field by its 2.x (snake_case) or 1.x (camelCase) name, from an object or a dict."""
    names = (snake,) if camel is None else (snake, camel)
    for name in names:
        if isinstance(obj, Mapping):
            if name in obj:
                return obj[name]
        elif hasattr(obj, name):
            return getattr(obj, name)
    return default


def _base64_size(data: str) -> int:
    """Decoded byte count of base64 ``data``, without decoding it."""
    data = data.strip()
    return max(0, len(data) * 3 // 4 - data[-2:].count("="))


def _describe_resource(resource: Any, part: ContentPart) -> str:
    uri = str(mcp_field(resource, "uri", default=""))
    mime = mcp_field(resource, "mime_type", "mimeType")
    part.update(uri=uri, mime_type=mime)
    text = mcp_field(resource, "text")
    if isinstance(text, str):
        part["text"] = text
        return f"[resource: {uri}]\n{text}"
    blob = mcp_field(resource, "blob")
    if isinstance(blob, str):
        part["blob"] = blob
        return f"[resource: {uri}, {mime or 'binary'}, {_base64_size(blob)} bytes]"
    return f"[resource: {uri}]"


def _describe_link(block: Any, part: ContentPart) -> str:
    uri = str(mcp_field(block, "uri", default=""))
    name = mcp_field(block, "name")
    mime = mcp_field(block, "mime_type", "mimeType")
    description = mcp_field(block, "description")
    part.update(uri=uri, name=name, mime_type=mime, description=description)
    details = ", ".join(str(item) for item in (mime, description) if item)
    label = f"{name} <{uri}>" if name else f"<{uri}>"
    return f"[resource link: {label}{': ' + details if details else ''}]"


def _dump(block: Any) -> Any:
    dump = getattr(block, "model_dump", None)
    if callable(dump):
        return dump(mode="json", exclude_none=True)
    return block if isinstance(block, Mapping) else repr(block)


def _convert_block(block: Any, images: list[ImagePart]) -> tuple[str, ContentPart]:
    """One content block as (text for the model, structured part)."""
    kind = str(mcp_field(block, "type", default="unknown"))
    if kind == "text":
        text = str(mcp_field(block, "text", default=""))
        return text, {"type": "text", "text": text}
    if kind in ("image", "audio"):
        mime = str(mcp_field(block, "mime_type", "mimeType", default="application/octet-stream"))
        data = str(mcp_field(block, "data", default=""))
        if kind == "image":
            images.append((mime, data))
        part: ContentPart = {"type": kind, "mime_type": mime, "data": data}
        return f"[{kind}: {mime}, {_base64_size(data)} bytes]", part
    if kind == "resource":
        part = {"type": "resource"}
        return _describe_resource(mcp_field(block, "resource"), part), part
    if kind == "resource_link":
        part = {"type": "resource_link"}
        return _describe_link(block, part), part
    return f"[{kind} content]", {"type": kind, "value": _dump(block)}


def outcome_from_mcp_result(result: Any) -> ToolOutcome:
    """Convert a ``CallToolResult`` into a :class:`ToolOutcome`.

    The model's text is the text parts joined by newlines, with images, audio and resources
    described in place (``[image: image/png, 1234 bytes]``). When the result has no content
    blocks but structured content, the text is that content as JSON. (Servers are asked to repeat
    structured content as a text block, so it is not appended a second time.)
    """
    is_error = bool(mcp_field(result, "is_error", "isError", default=False))
    structured = mcp_field(result, "structured_content", "structuredContent")
    images: list[ImagePart] = []
    texts: list[str] = []
    content: list[ContentPart] = []
    for block in mcp_field(result, "content", default=None) or ():
        text, part = _convert_block(block, images)
        texts.append(text)
        content.append(part)
    text = "\n".join(texts)
    if not content and structured is not None:
        text = json.dumps(structured, ensure_ascii=False, default=str)
    if is_error and not text.strip():
        text = _NO_DETAILS
    return ToolOutcome(
        text=text,
        is_error=is_error,
        content=content,
        structured=structured,
        images=images,
        error_kind="failed" if is_error else None,
    )
