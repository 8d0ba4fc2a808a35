"""A prompt longer than the loaded context: answered the ways LM Studio has answered it.

LM Studio checks the prompt against the instance's loaded ``context_length`` (not the model's
trained maximum). Versions and settings differ in how they say no; each style reproduces one:

- ``"error"``: 400 ``{"error": "Trying to keep the first N tokens when context the overflows.
  However, the model is loaded with context length of only M tokens, ..."}`` (a string);
- ``"error_object"``: 400 with the same message in an error object (0.4 shape);
- ``"error_in_200"``: a **200** whose body is only ``{"error": "..."}``;
- ``"empty_stream"``: a stream that ends without a word (no content, no finish reason, no
  ``[DONE]``), as bug reports describe; a non-streamed request gets the 200 error body;
- ``"off"``: no check at all (the reply is generated whatever the prompt's size).

The prompt's size is the simulator's deterministic estimate (about four characters a token).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Literal

from lmbridge.testing.context import SimContext
from lmbridge.testing.exchange import (
    SSE_HEADERS,
    SimResponse,
    SimStream,
    error_response,
    json_response,
)
from lmbridge.testing.failures import SimError
from lmbridge.testing.request_text import prompt_tokens
from lmbridge.testing.state import SimInstance

__all__ = ["OverflowStyle", "overflow_answer", "overflow_message"]

OverflowStyle = Literal["error", "error_object", "error_in_200", "empty_stream", "off"]


def overflow_message(tokens: int, context_length: int) -> str:
    """LM Studio's wording for a prompt that does not fit the loaded context."""
    return (
        f"Trying to keep the first {tokens} tokens when context the overflows. However, the model "
        f"is loaded with context length of only {context_length} tokens, which is not enough. "
        "Try to load the model with a larger context length, or provide a shorter input"
    )


async def _nothing() -> AsyncIterator[bytes]:
    return
    yield b""  # pragma: no cover - makes this an async generator


def overflow_answer(
    context: SimContext, inst: SimInstance, body: dict[str, Any]
) -> SimResponse | None:
    """The answer to a prompt over ``inst``'s context length, or ``None`` when it fits."""
    style = context.settings.context_overflow
    tokens = prompt_tokens(body)
    if style == "off" or tokens <= inst.context_length:
        return None
    message = overflow_message(tokens, inst.context_length)
    if style == "error":
        return error_response(SimError(400, {"error": message}))
    if style == "error_object":
        return error_response(SimError.bad_request(message))
    if style == "empty_stream" and body.get("stream"):
        return SimResponse(200, list(SSE_HEADERS), SimStream(_nothing()))
    return json_response({"error": message})
