"""Request bodies and results for the Responses API (``/v1/responses``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from lmbridge.chat.assemble import make_tool_call
from lmbridge.chat.results import ResponseResult
from lmbridge.chat.structured import ResponseFormat, response_format_body
from lmbridge.chat.validate import check_option_values
from lmbridge.chat.wire import ResponseObject

__all__ = ["build_responses_body", "flatten_tool", "result_from_response"]


def flatten_tool(tool: Mapping[str, Any]) -> dict[str, Any]:
    """A function tool in the flat shape ``/v1/responses`` requires.

    The chat format nests name and parameters under ``function``; LM Studio answers that with
    400 ``Required`` at ``tools.0.name``.
    """
    function = tool.get("function")
    if tool.get("type") == "function" and isinstance(function, Mapping):
        flat = {"type": "function", **function}
        return flat
    return dict(tool)


def build_responses_body(
    model: str,
    input: str | Sequence[Mapping[str, Any]],
    *,
    previous_response_id: str | None,
    instructions: str | None,
    tools: Sequence[Mapping[str, Any]] | None,
    reasoning_effort: str | None,
    temperature: float | None,
    max_output_tokens: int | None,
    extra_body: Mapping[str, Any] | None,
    response_format: ResponseFormat | None = None,
) -> dict[str, Any]:
    """The JSON body of a ``/v1/responses`` request.

    A ``response_format`` goes in ``text.format``, flat as this endpoint wants it
    (``{"type": "json_schema", "name", "schema", "strict"}``).

    Raises:
        TypeError, ValueError: ``temperature`` or ``max_output_tokens`` of the wrong type or out
            of range.
    """
    check_option_values({"temperature": temperature, "max_output_tokens": max_output_tokens})
    body: dict[str, Any] = {
        "model": model,
        "input": input if isinstance(input, str) else [dict(item) for item in input],
    }
    if previous_response_id is not None:
        body["previous_response_id"] = previous_response_id
    if instructions is not None:
        body["instructions"] = instructions
    if tools:
        body["tools"] = [flatten_tool(tool) for tool in tools]
    if reasoning_effort is not None:
        body["reasoning"] = {"effort": reasoning_effort}
    if temperature is not None:
        body["temperature"] = temperature
    if max_output_tokens is not None:
        body["max_output_tokens"] = max_output_tokens
    if response_format is not None:
        body["text"] = {"format": _text_format(response_format)}
    if extra_body:
        body.update(extra_body)
    return body


def _text_format(fmt: ResponseFormat) -> dict[str, Any]:
    chat_form = response_format_body(fmt)
    spec = chat_form.get("json_schema")
    if chat_form.get("type") == "json_schema" and isinstance(spec, Mapping):
        return {"type": "json_schema", **spec}
    return chat_form


def _texts(item: Mapping[str, Any], *kinds: str) -> list[str]:
    parts = item.get("content") or item.get("summary") or []
    if isinstance(parts, str):
        return [parts]
    if not isinstance(parts, list):
        return []  # a server's odd shape is ignored, like unknown item types
    return [
        str(part.get("text", ""))
        for part in parts
        if isinstance(part, Mapping) and part.get("type") in kinds
    ]


def result_from_response(response: ResponseObject, *, sent_model: str) -> ResponseResult:
    """A :class:`ResponseResult` from a validated response object."""
    text: list[str] = []
    reasoning: list[str] = []
    calls = []
    for item in response.output:
        kind = item.get("type")
        if kind == "message":
            text.extend(_texts(item, "output_text", "text"))
        elif kind == "reasoning":
            reasoning.extend(_texts(item, "reasoning_text", "summary_text", "text"))
        elif kind == "function_call":
            calls.append(
                make_tool_call(
                    item.get("call_id") or item.get("id"),
                    str(item.get("name", "")),
                    item.get("arguments"),
                )
            )
    return ResponseResult(
        id=response.id,
        text="".join(text),
        reasoning="".join(reasoning) or None,
        tool_calls=calls,
        output=response.output,
        usage=response.usage,
        model=response.model,
        sent_model=sent_model,
        raw=response,
    )
