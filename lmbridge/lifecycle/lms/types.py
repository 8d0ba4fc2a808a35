"""Typed views of what the ``lms`` CLI prints.

``lms ls --json`` and ``lms ps --json`` print camelCase JSON; these models expose it as snake_case
attributes. Unknown fields are ignored and most fields are optional, because the CLI's output grew
over the versions (``status``, ``queued`` and ``parallel`` only exist since lms 0.3.27).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, TypeAdapter
from pydantic.alias_generators import to_camel

__all__ = [
    "LmsInstance",
    "LmsLoadOutcome",
    "LmsModel",
    "LmsQuantization",
    "LmsServerStatus",
    "instance_list_adapter",
    "model_list_adapter",
]


class _LmsJson(BaseModel):
    """Shared configuration: camelCase on the wire, snake_case in Python, extras ignored."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="ignore",
        frozen=True,
        # Built on first use: `import lmbridge` and a Bridge that never runs `lms` pay nothing.
        defer_build=True,
    )


class LmsQuantization(_LmsJson):
    """A model file's quantization, e.g. ``name="Q4_K_M", bits=4``.

    Attributes:
        name: the quantization's name as LM Studio spells it.
        bits: bits per weight, when known.
    """

    name: str | None = None
    bits: float | None = None


class LmsModel(_LmsJson):
    """A downloaded model, one element of ``lms ls --json``.

    Attributes:
        type: ``"llm"`` or ``"embedding"``.
        model_key: the key to load it by, e.g. ``"qwen/qwen3-4b"``.
        display_name: the human name, e.g. ``"Qwen3 4B"``.
        publisher: who published it.
        path: the model file's path relative to the models folder.
        size_bytes: the file size.
        params_string: the parameter count as text, e.g. ``"4B"``.
        architecture: e.g. ``"qwen3"``.
        quantization: the quantization, when known.
        max_context_length: the longest context the model supports.
        vision: whether it accepts images (``None`` for embedding models and old CLIs).
        trained_for_tool_use: whether it was trained for tool calls (``None`` when not said).
        format: ``"gguf"``, ``"mlx"``, ...
        device_identifier: the LM Link device holding it, ``None`` for this machine (and for CLIs
            before LM Link).
    """

    type: str
    model_key: str
    display_name: str | None = None
    publisher: str | None = None
    path: str | None = None
    size_bytes: int | None = None
    params_string: str | None = None
    architecture: str | None = None
    quantization: LmsQuantization | None = None
    max_context_length: int | None = None
    vision: bool | None = None
    trained_for_tool_use: bool | None = None
    format: str | None = None
    device_identifier: str | None = None


class LmsInstance(LmsModel):
    """A loaded model instance, one element of ``lms ps --json``.

    Every instance listed is loaded: ``idle`` means loaded and free, the other statuses mean loaded
    and busy. A model that is still loading is not listed at all.

    Attributes:
        identifier: the name requests use, e.g. ``"qwen/qwen3-4b"`` or ``"qwen/qwen3-4b:2"``.
        ttl_ms: the idle time-to-live in milliseconds, ``None`` when the instance never expires.
        last_used_time: when it was last used (epoch milliseconds), if ever.
        context_length: the context length it was loaded with.
        status: ``"idle"``, ``"processingPrompt"``, ``"generating"`` or ``"computingEmbedding"``;
            ``None`` when the CLI does not report it (lms before 0.3.27).
        queued: requests queued, including the one running; ``None`` when not reported.
        parallel: parallel request slots; ``None`` for embedding models and old CLIs.
    """

    identifier: str
    ttl_ms: int | None = None
    last_used_time: float | None = None
    context_length: int | None = None
    status: str | None = None
    queued: int | None = None
    parallel: int | None = None


class LmsServerStatus(_LmsJson):
    """What ``lms server status --json`` says.

    Attributes:
        running: whether LM Studio's HTTP server is running.
        port: the port it listens on, when running.
    """

    running: bool
    port: int | None = None


@dataclass(frozen=True)
class LmsLoadOutcome:
    """What ``lms load`` reported on success. Any field is ``None`` when the CLI did not print it.

    Attributes:
        identifier: the identifier the new instance answers to.
        load_seconds: how long the load took, as the CLI measured it.
        size_text: the model's size as printed, e.g. ``"4.37 GiB"``.
        device: the LM Link device it was loaded on, when not this machine.
    """

    identifier: str | None
    load_seconds: float | None
    size_text: str | None
    device: str | None = None


@functools.cache
def instance_list_adapter() -> TypeAdapter[list[LmsInstance]]:
    """The validator of ``lms ps --json`` (built on first use, not at import)."""
    return TypeAdapter(list[LmsInstance])


@functools.cache
def model_list_adapter() -> TypeAdapter[list[LmsModel]]:
    """The validator of ``lms ls --json`` (built on first use, not at import)."""
    return TypeAdapter(list[LmsModel])
