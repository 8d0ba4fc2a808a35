"""Recovering tool calls a server left in the message text.

When a server cannot parse a model's tool call it leaves the markup in ``content`` and sends no
``tool_calls``. This module finds such calls so the agent loop can still run them (or tell the
model its call was malformed). Shapes recognised:

* ``<tool_call>{"name": ..., "arguments": {...}}</tool_call>`` (Hermes/Qwen), one or several,
  including an unterminated last one (the closing tag was a stop string);
* ``[TOOL_REQUEST]{...}[END_TOOL_REQUEST]`` (LM Studio), also unterminated;
* ``[TOOL_CALLS][{...}, ...]`` (Mistral);
* a whole message that is one JSON object (or array of them), possibly in a fenced code block,
  naming a known tool: ``{"name": ..., "arguments": ...}``, ``{"tool": ..., "parameters": ...}``,
  ``{"type": "function", "function": {...}}``.

Markup is recognised anywhere; a bare JSON message only when it names a known tool, so ordinary JSON
answers are left alone. Reasoning (``<think>``) should be separated from the text first.
Pure functions: no I/O.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from lmbridge.jsonparse import JSONParseError, decode_prefix

__all__ = ["RecoveredCall", "recover_tool_calls"]

_OPENERS = re.compile(r"<tool_call>|\[TOOL_REQUEST\]|\[TOOL_CALLS\]", re.IGNORECASE)
_CLOSERS = {"<tool_call>": "</tool_call>", "[tool_request]": "[END_TOOL_REQUEST]"}
_FENCE = re.compile(r"^```[\w-]*[ \t]*\n?(.*?)\n?```$", re.DOTALL)
_NAME_KEYS = ("name", "tool", "tool_name")
_ARGUMENT_KEYS = ("arguments", "parameters", "args", "input")
_CALL_KEYS = {*_NAME_KEYS, *_ARGUMENT_KEYS, "type", "id", "function"}
_NAME_IN_BROKEN = re.compile(r'"(?:name|tool|tool_name)"\s*:\s*"([^"\\]*)"')
_ARGUMENTS_IN_BROKEN = re.compile(r'"(?:arguments|parameters|args|input)"\s*:\s*')
_BLANK_LINES = re.compile(r"\n{3,}")


@dataclass(frozen=True)
class RecoveredCall:
    """A tool call found in the text.

    Attributes:
        name: the tool name the model wrote (``""`` if it could not be found).
        arguments: the arguments as JSON text (``"{}"`` when the call had none). When the call
            could not be parsed, the raw text the model wrote for them, so the parse error can
            be reported to the model.
        raw: the markup as it appeared in the text.
        error: why the call could not be parsed, or ``None``.
    """

    name: str
    arguments: str
    raw: str
    error: str | None = None


def _unfence(text: str) -> str:
    match = _FENCE.match(text.strip())
    return match.group(1).strip() if match else text.strip()


def _call_from_value(value: Any, raw: str) -> RecoveredCall:
    if not isinstance(value, dict):
        return RecoveredCall("", json.dumps(value), raw, "the tool call is not a JSON object")
    function = value.get("function")
    if isinstance(function, dict):
        value = {**value, **function}
    candidates = [value.get(key) for key in _NAME_KEYS]
    if isinstance(function, str):
        candidates.append(function)
    name = next((c for c in candidates if isinstance(c, str) and c), "")
    arguments = next((value[k] for k in _ARGUMENT_KEYS if value.get(k) is not None), None)
    if arguments is None:
        arguments_text = "{}"
    elif isinstance(arguments, str):
        arguments_text = arguments  # already JSON text (double-encoded arguments)
    else:
        arguments_text = json.dumps(arguments, ensure_ascii=False)
    return RecoveredCall(name, arguments_text, raw, None if name else "the tool call names no tool")


def _broken_call(payload: str, raw: str, error: JSONParseError) -> RecoveredCall:
    name = _NAME_IN_BROKEN.search(payload)
    arguments_at = _ARGUMENTS_IN_BROKEN.search(payload)
    arguments = payload
    if arguments_at:
        arguments = payload[arguments_at.end() :].rstrip()
        if arguments.endswith("}") and arguments.count("}") > arguments.count("{"):
            arguments = arguments[:-1].rstrip()
    message = f"the tool call is not valid JSON: {error.msg} at position {error.pos}"
    return RecoveredCall(name.group(1) if name else "", arguments, raw, message)


def _decode_values(payload: str) -> tuple[list[Any], int, JSONParseError | None]:
    """JSON values at the start of ``payload``.

    Returns:
        ``(values, end, error)``: ``end`` is where parsing stopped (the start of the broken value
        when ``error`` is set).
    """
    values: list[Any] = []
    index = len(payload) - len(payload.lstrip())
    while index < len(payload) and payload[index] in "{[":
        try:
            value, index = decode_prefix(payload, index)
        except JSONParseError as exc:  # broken or nested too deep: reported to the model
            return values, index, exc
        values.append(value)
        index += len(payload[index:]) - len(payload[index:].lstrip())
    return values, index, None


def _calls_from_payload(payload: str, raw: str) -> list[RecoveredCall]:
    values, consumed, error = _decode_values(payload)
    calls: list[RecoveredCall] = []
    for value in values:
        items = value if isinstance(value, list) else [value]
        calls.extend(_call_from_value(item, raw) for item in items)
    if error is not None:
        calls.append(_broken_call(payload[consumed:], raw, error))
    elif not values and payload.strip():
        calls.append(
            RecoveredCall(
                "", payload.strip(), raw, "the tool call is not a JSON object with a tool name"
            )
        )
    return calls


def _tagged_calls(text: str) -> tuple[list[RecoveredCall], list[tuple[int, int]]]:
    """Calls inside markup, and the spans of text the markup covers."""
    calls: list[RecoveredCall] = []
    spans: list[tuple[int, int]] = []
    lowered = text.lower()
    position = 0
    while opener := _OPENERS.search(text, position):
        next_opener = _OPENERS.search(text, opener.end())
        limit = next_opener.start() if next_opener else len(text)
        closer = _CLOSERS.get(opener.group().lower())
        close_at = lowered.find(closer.lower(), opener.end(), limit) if closer else -1
        if close_at >= 0:
            payload, end = text[opener.end() : close_at], close_at + len(closer or "")
            fenced = _unfence(payload)
        else:
            # Unterminated: the call runs to the next opener or the end; prose after the
            # JSON stays in the text.
            payload = text[opener.end() : limit]
            fenced = _unfence(payload)
            if fenced == payload.strip():
                _, consumed, error = _decode_values(payload)
                if error is None and consumed:
                    payload = payload[:consumed]
                    fenced = payload.strip()
            end = opener.end() + len(payload)
        spans.append((opener.start(), end))
        calls.extend(_calls_from_payload(fenced, text[opener.start() : end]))
        position = end
    return calls, spans


def _bare_calls(text: str, known_tools: Collection[str]) -> list[RecoveredCall]:
    """Calls from a message that is nothing but call-shaped JSON naming known tools."""
    payload = _unfence(text)
    if not payload.startswith(("{", "[")):
        return []
    values, consumed, error = _decode_values(payload)
    if error is not None or consumed != len(payload) or not values:
        return []
    items = [item for value in values for item in (value if isinstance(value, list) else [value])]
    calls = []
    for item in items:
        if not isinstance(item, dict) or not set(item) <= _CALL_KEYS:
            return []
        call = _call_from_value(item, text.strip())
        if call.name not in known_tools:
            return []
        calls.append(call)
    return calls


def recover_tool_calls(text: str, known_tools: Collection[str]) -> tuple[list[RecoveredCall], str]:
    """Find tool calls written into ``text``.

    Args:
        text: the message content (reasoning already separated out).
        known_tools: the tool names the model was offered; a bare JSON message counts as a call
            only if it names one of them. Calls in explicit markup are returned whatever their
            name (the loop reports unknown names to the model).

    Returns:
        ``(calls, remaining_text)``: the calls in order, and the text with their markup removed.
        A call that could not be parsed is still returned, with ``error`` set.
    """
    calls, spans = _tagged_calls(text)
    if not calls and not spans:
        calls = _bare_calls(text, known_tools)
        return calls, ("" if calls else text)
    pieces, position = [], 0
    for start, end in spans:
        pieces.append(text[position:start])
        position = end
    pieces.append(text[position:])
    remaining = _BLANK_LINES.sub("\n\n", "".join(pieces)).strip()
    return calls, remaining
