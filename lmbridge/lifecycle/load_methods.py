"""Which load method applies which load option, loading through LM Studio's native chat, and
the typed error for a load the server refused (:func:`load_failure`).

The options of :meth:`~lmbridge.lifecycle.models.ModelManager.ensure_loaded` are not all applied by
every method: ``lms load`` takes ``ttl``, ``context_length``, ``gpu``, ``identifier`` and
``parallel`` (lmstudio-ai/lms ``src/subcommands/load.ts``); ``POST /api/v1/models/load`` takes
``context_length``, ``eval_batch_size``, ``flash_attention``, ``num_experts`` and
``offload_kv_cache_to_gpu`` (1_developer/2_rest/load.md); a JIT request only ``ttl``. An option
is never dropped: the loader picks a method that applies every option given, or raises
:func:`no_method_error`, which names the method that could.

LM Studio's native ``POST /api/v1/chat`` loads a model that is not loaded and streams
``model_load.progress`` events meanwhile (1_developer/2_rest/streaming-events.md):
:func:`load_via_chat` uses it to load with real progress when ``lms`` is not usable.
"""

from __future__ import annotations

import re
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Any

from lmbridge.errors import (
    APIStatusError,
    InsufficientMemoryError,
    LMBridgeError,
    LmsArgumentError,
    LmsNotFoundError,
    ModelNotLoadedError,
)
from lmbridge.jsonparse import JSONParseError, parse_json
from lmbridge.lifecycle.lms.runner import ProgressCallback, report_progress

if TYPE_CHECKING:
    from lmbridge.lifecycle.server import RestAPI

__all__ = [
    "CHAT_OPTIONS",
    "JIT_OPTIONS",
    "LMS_OPTIONS",
    "REST_OPTIONS",
    "ChatLoadRefused",
    "load_failure",
    "load_via_chat",
    "no_method_error",
]

LMS_OPTIONS = frozenset({"ttl", "context_length", "gpu", "identifier", "parallel"})
REST_OPTIONS = frozenset(
    {
        "context_length",
        "eval_batch_size",
        "flash_attention",
        "num_experts",
        "offload_kv_cache_to_gpu",
    }
)
JIT_OPTIONS = frozenset({"ttl"})
CHAT_OPTIONS = frozenset({"ttl"})  # the native chat loads like a JIT request
_METHODS = (
    ("`lms load`", LMS_OPTIONS),
    ("LM Studio's REST load (POST /api/v1/models/load, LM Studio 0.4+)", REST_OPTIONS),
)
_NATIVE_CHAT = "/api/v1/chat"
# Every out-of-memory wording seen (reference, section 9): 0.4.4 says "Not enough resources".
OUT_OF_MEMORY = re.compile(
    r"insufficient|requires approximately|out of memory|not enough (?:\w+ )?(?:memory|resources)",
    re.I,
)
REQUIRED_GB = re.compile(r"requires approximately\s+(\d+(?:\.\d+)?)\s*GB", re.I)


class ChatLoadRefused(Exception):
    """The native chat answered "not loaded" instead of loading (JIT loading is off): the REST
    load, which does not depend on JIT, is left. The server's error is the ``__cause__``."""


def no_method_error(key: str, given: list[str], *, lms_problem: str | None) -> Exception:
    """The error for options no usable method applies, naming the method that would."""
    for method, supported in _METHODS:
        if set(given) <= supported:
            message = (
                f"Loading {key!r} with {', '.join(given)} needs {method}, which is not usable here."
            )
            if method == "`lms load`":
                return LmsNotFoundError(
                    message + (f" {lms_problem}" if lms_problem else ""), model=key
                )
            return LmsArgumentError(
                message,
                model=key,
                hint="Use LM Studio 0.4 or later, or leave these options out.",
            )
    by_method = "; ".join(
        f"{method}: {', '.join(sorted(set(given) & supported)) or 'none of them'}"
        for method, supported in _METHODS
    )
    return LmsArgumentError(
        f"No one load method applies all of {', '.join(given)} to {key!r} ({by_method}).",
        model=key,
        hint="Split them: e.g. `parallel` needs `lms load`, `flash_attention` the REST load.",
    )


async def load_via_chat(
    rest: RestAPI, key: str, *, ttl: int | None, on_progress: ProgressCallback | None
) -> float | None:
    """Load ``key`` with a 1-token native chat, reporting ``model_load.progress`` in ``0..1``.

    Returns:
        The load time LM Studio reported (``None`` when the model needed no load).

    Raises:
        ModelNotLoadedError: the stream reported an error (e.g. the load failed).
        InsufficientMemoryError: the error says the model does not fit.
        NotFoundError: the server has no native chat (LM Studio before 0.4).
        ChatLoadRefused: it answered "not loaded" instead of loading (JIT loading is off).
    """
    body: dict[str, Any] = {
        "model": key,
        "input": "Hi",
        "max_output_tokens": 1,
        "stream": True,
        "store": False,
    }
    if ttl is not None:
        body["ttl"] = ttl
    last = 0.0
    async with AsyncExitStack() as stack:
        try:
            batches = await stack.enter_async_context(
                rest.stream_events(_NATIVE_CHAT, body, model=key)
            )
        except ModelNotLoadedError as exc:
            raise ChatLoadRefused(exc.message) from exc
        async for batch in batches:
            for event in batch:
                data = _data(event.data)
                if event.event == "model_load.progress":
                    progress = data.get("progress")
                    if isinstance(progress, (int, float)) and last < progress < 1.0:
                        last = float(progress)
                        await report_progress(on_progress, last)
                elif event.event == "error":
                    raise _stream_error(key, data)
                elif event.event == "model_load.end":
                    seconds = data.get("load_time_seconds")
                    # Loaded: the 1-token answer is not needed (leaving closes the stream).
                    return float(seconds) if isinstance(seconds, (int, float)) else None
                elif event.event == "chat.end":
                    return None
    return None


def _data(text: str) -> dict[str, Any]:
    try:
        parsed = parse_json(text)
    except JSONParseError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _stream_error(key: str, data: dict[str, Any]) -> ModelNotLoadedError | InsufficientMemoryError:
    error = data.get("error")
    message = str((error.get("message") if isinstance(error, dict) else error) or "no reason given")
    text = f"LM Studio could not load {key!r} through its native chat: {message}"
    if OUT_OF_MEMORY.search(message):
        required = REQUIRED_GB.search(message)
        return InsufficientMemoryError(
            text, required_gb=float(required.group(1)) if required else None, model=key
        )
    return ModelNotLoadedError(text, model=key, body=str(data))


def load_failure(key: str, exc: APIStatusError, *, via: str) -> LMBridgeError:
    """The typed error for a load the server refused: out of memory (with the figure the message
    gives, and the URL), or not loaded."""
    message = f"LM Studio could not load {key!r} through {via}: {exc.message}"
    if OUT_OF_MEMORY.search(exc.message):
        required = REQUIRED_GB.search(exc.message)
        return InsufficientMemoryError(
            message,
            required_gb=float(required.group(1)) if required else None,
            model=key,
            url=exc.url,
        )
    return ModelNotLoadedError(
        message, model=key, url=exc.url, status_code=exc.status_code, body=exc.body
    )
