"""``response_format``: pydantic models and JSON schemas in, parsed replies out."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from lmbridge.chat.results import ChatResult, MismatchWarnings
from lmbridge.errors import StructuredOutputError
from lmbridge.jsonparse import JSONParseError, parse_json

__all__ = ["ResponseFormat", "finish_chat", "parse_structured", "response_format_body"]

ResponseFormat = type[BaseModel] | Mapping[str, Any]
"""A pydantic model class, a JSON schema, or an OpenAI ``response_format`` dict."""


def response_format_body(fmt: ResponseFormat) -> dict[str, Any]:
    """The ``response_format`` to send.

    A pydantic model class or a bare JSON schema becomes ``json_schema`` (strict). A request for
    ``json_object`` is sent as ``json_schema`` with ``{"type": "object"}``, because LM Studio
    rejects ``json_object`` with HTTP 400.
    """
    if isinstance(fmt, type) and issubclass(fmt, BaseModel):
        return {
            "type": "json_schema",
            "json_schema": {
                "name": fmt.__name__,
                "strict": True,
                "schema": fmt.model_json_schema(),
            },
        }
    kind = fmt.get("type")
    if kind == "json_object":
        return {
            "type": "json_schema",
            "json_schema": {"name": "json_object", "schema": {"type": "object"}},
        }
    if kind in ("json_schema", "text"):
        return dict(fmt)
    return {
        "type": "json_schema",
        "json_schema": {"name": "response", "strict": True, "schema": dict(fmt)},
    }


def parse_structured(fmt: ResponseFormat, text: str, *, model: str | None, url: str | None) -> Any:
    """Parse a reply into the requested format; a failure keeps the raw text on the error."""
    if isinstance(fmt, Mapping) and fmt.get("type") == "text":
        return None
    candidate = _strip_fence(text)
    try:
        if isinstance(fmt, type) and issubclass(fmt, BaseModel):
            return fmt.model_validate_json(candidate)  # pydantic limits nesting itself
        return parse_json(candidate)
    except (ValidationError, JSONParseError) as exc:
        first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise StructuredOutputError(
            f"the reply does not match the requested response_format: {first_line}",
            raw_text=text,
            model=model,
            url=url,
        ) from exc


def finish_chat(
    result: ChatResult[Any],
    *,
    response_format: ResponseFormat | None,
    url: str,
    mismatch: MismatchWarnings,
) -> ChatResult[Any]:
    """The last step of every chat reply, streamed or not: warn of a model mismatch, then parse
    the text into ``response_format`` (not when the model called tools instead of answering).
    """
    mismatch.check(result.sent_model, result.model)
    if response_format is None or result.tool_calls:
        return result
    parsed = parse_structured(response_format, result.text, model=result.sent_model, url=url)
    return dataclasses.replace(result, parsed=parsed)


def _strip_fence(text: str) -> str:
    """Remove a Markdown code fence some models wrap JSON in."""
    stripped = text.strip()
    if stripped.startswith("```") and stripped.endswith("```"):
        body = stripped[3:-3]
        newline = body.find("\n")
        return body[newline + 1 :] if newline >= 0 else body
    return stripped
