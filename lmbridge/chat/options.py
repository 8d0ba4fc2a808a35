"""Keyword options shared by the Bridge's methods, declared once as TypedDicts.

``chat()`` and ``stream()`` take :class:`ChatOptions`, ``complete()`` takes
:class:`SamplingOptions`, ``run_agent()``/``stream_agent()`` take
:class:`~lmbridge.agent.AgentSettings` (sampling options plus the agent's own). All are
keyword-only and optional; a misspelt name is a ``TypeError``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from typing_extensions import TypedDict

from lmbridge.transport.client import TimeoutArg

__all__ = ["ChatOptions", "RequestOptions", "SamplingOptions", "sampling_body"]


class RequestOptions(TypedDict, total=False):
    """How one request is sent.

    Attributes:
        timeout: the read timeout in seconds (the longest wait for the next byte), or an
            ``httpx.Timeout``; default: the Bridge's.
        max_retries: retries of this request (default: the Bridge's, see the retry table).
        extra_body: more JSON fields, sent as they are (they win over lmbridge's own).
    """

    timeout: TimeoutArg
    max_retries: int | None
    extra_body: Mapping[str, Any] | None


class SamplingOptions(RequestOptions, total=False):
    """How the model generates.

    Attributes:
        temperature: sampling temperature.
        max_tokens: the most tokens to generate (``-1``: no limit, on LM Studio).
        top_p: nucleus sampling.
        top_k: top-k sampling (LM Studio, llama.cpp).
        stop: a stop string or several.
        seed: a seed for reproducible sampling.
        ttl: idle seconds after which LM Studio unloads a model this request JIT-loads.
    """

    temperature: float | None
    max_tokens: int | None
    top_p: float | None
    top_k: int | None
    stop: str | Sequence[str] | None
    seed: int | None
    ttl: int | None


class ChatOptions(SamplingOptions, total=False):
    """Options of ``chat()`` and ``stream()`` besides ``response_format``.

    Attributes:
        tools: function tools in OpenAI chat format.
        tool_choice: ``"auto"``, ``"none"``, ``"required"`` or a named function.
    """

    tools: Sequence[Mapping[str, Any]] | None
    tool_choice: str | Mapping[str, Any] | None


_BODY_KEYS = ("temperature", "max_tokens", "top_p", "top_k", "seed", "ttl", "tool_choice")
_TRANSPORT_KEYS = frozenset({"timeout", "max_retries"})
_KNOWN = frozenset({*_BODY_KEYS, *_TRANSPORT_KEYS, "stop", "tools", "extra_body"})


def sampling_body(options: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON fields for ``options`` (``None`` values left out, ``extra_body`` merged last).

    Raises:
        TypeError: an option name none of the TypedDicts declares.
    """
    unknown = set(options) - _KNOWN
    if unknown:
        raise TypeError(f"unknown option(s): {', '.join(sorted(unknown))}")
    body = {key: options[key] for key in _BODY_KEYS if options.get(key) is not None}
    stop = options.get("stop")
    if stop is not None:
        body["stop"] = [stop] if isinstance(stop, str) else list(stop)
    tools = options.get("tools")
    if tools:
        body["tools"] = [dict(tool) for tool in tools]
    body.update(options.get("extra_body") or {})
    return body
