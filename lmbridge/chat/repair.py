"""Structured output a small model can satisfy: a reply that does not validate is asked again.

The failed reply stays in the conversation as the assistant's turn and the validation error
follows as a user message, so the model sees what it wrote and what was wrong with it: small
models fix a wrong type or a missing field far more often than they get it right from scratch.
After ``validation_retries`` re-asks, :class:`~lmbridge.StructuredOutputError` carries every
attempt. A reply cut at the token limit is not asked again (the same limit would cut it again):
its error says to raise ``max_tokens``.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from lmbridge.chat.results import ChatResult, MismatchWarnings, ResponseResult
from lmbridge.chat.structured import ResponseFormat, finish_chat, parse_structured
from lmbridge.errors import (
    StructuredAttempt,
    StructuredOutputError,
    StructuredOutputIgnoredError,
)

__all__ = [
    "DEFAULT_VALIDATION_RETRIES",
    "StructuredRetry",
    "check_retries",
    "feedback_messages",
    "validated_response",
]

DEFAULT_VALIDATION_RETRIES = 1
"""Re-asks after a reply that does not validate, unless ``validation_retries`` says otherwise."""

_FEEDBACK = (
    "Your reply does not match the required JSON schema:\n{error}\n"
    "Reply again with only the corrected JSON, matching the schema exactly."
)
_ERROR_CHARS = 1000

AskChat = Callable[[dict[str, Any]], Awaitable[ChatResult[Any]]]
"""Sends a chat body (not streamed) and returns the unparsed result."""


def check_retries(value: object) -> int:
    """``validation_retries``, checked before anything is sent."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"validation_retries must be an int, not {type(value).__name__}")
    if value < 0:
        raise ValueError("validation_retries must be >= 0")
    return value


def describe(error: StructuredOutputError) -> str:
    """What was wrong, for the model and for the attempt record: every field error, one a line."""
    cause = error.__cause__
    if isinstance(cause, ValidationError):
        lines = []
        for item in cause.errors(include_url=False):
            where = ".".join(str(part) for part in item["loc"]) or "(the whole reply)"
            lines.append(f"- {where}: {item['msg']}")
        text = "\n".join(lines)
    elif isinstance(cause, json.JSONDecodeError):
        text = f"- not valid JSON: {cause.msg} (line {cause.lineno}, column {cause.colno})"
    else:
        text = f"- {error.message}"
    return text[:_ERROR_CHARS]


def feedback_messages(raw_text: str, error: str) -> list[dict[str, Any]]:
    """The failed reply as the assistant's turn, then the error as the user's."""
    return [
        {"role": "assistant", "content": raw_text},
        {"role": "user", "content": _FEEDBACK.format(error=error)},
    ]


def _truncated(
    attempts: Sequence[StructuredAttempt], *, model: str | None, url: str | None, field: str
) -> StructuredOutputError:
    last = attempts[-1]
    return StructuredOutputError(
        f"the reply was cut at the token limit before the JSON was complete "
        f"({len(last.raw_text)} characters written)",
        raw_text=last.raw_text,
        attempts=attempts,
        truncated=True,
        model=model,
        url=url,
        hint=f"Raise {field} (or leave it unset) so the whole object fits.",
    )


def _exhausted(
    attempts: Sequence[StructuredAttempt], *, model: str | None, url: str | None
) -> StructuredOutputError:
    last = attempts[-1]
    tries = f"{len(attempts)} attempt" + ("s" if len(attempts) > 1 else "")
    return StructuredOutputError(
        f"the reply does not match the requested response_format after {tries}: "
        + last.error.splitlines()[0].lstrip("- "),
        raw_text=last.raw_text,
        attempts=attempts,
        model=model,
        url=url,
    )


class StructuredRetry:
    """Validates a chat reply against ``response_format``, asking again when it does not.

    One object per request, given to the stream too: a streamed reply is the first attempt, and
    its re-asks (from ``result()``) are sent without streaming.

    Args:
        response_format: what the reply must parse into (``None``: nothing to validate).
        retries: re-asks after a reply that does not validate.
        body: the request body the first attempt was sent with.
        ask: sends a re-ask body and returns its unparsed result.
        url: the endpoint, for errors.
        mismatch: told which model answered each attempt.
    """

    def __init__(
        self,
        *,
        response_format: ResponseFormat | None,
        retries: int,
        body: Mapping[str, Any],
        ask: AskChat,
        url: str,
        mismatch: MismatchWarnings,
    ) -> None:
        self._format = response_format
        self._retries = retries
        self._body = {k: v for k, v in body.items() if k not in ("stream", "stream_options")}
        self._ask = ask
        self._url = url
        self._mismatch = mismatch

    async def finish(self, result: ChatResult[Any]) -> ChatResult[Any]:
        """The result parsed into ``response_format``, after as many re-asks as allowed.

        Raises:
            StructuredOutputError: no attempt validated (``attempts`` holds each), or one was cut
                at the token limit (``truncated``).
        """
        attempts: list[StructuredAttempt] = []
        messages = list(self._body.get("messages", []))
        while True:
            try:
                return finish_chat(
                    result, response_format=self._format, url=self._url, mismatch=self._mismatch
                )
            except StructuredOutputError as exc:
                error = describe(exc)
                attempts.append(StructuredAttempt(result.text, error, result.finish_reason))
                model = result.sent_model
                if result.truncated:
                    raise _truncated(
                        attempts, model=model, url=self._url, field="max_tokens"
                    ) from exc
                if len(attempts) > self._retries:
                    raise _exhausted(attempts, model=model, url=self._url) from exc
            messages = [*messages, *feedback_messages(result.text, error)]
            result = await self._ask({**self._body, "messages": messages})


def _looks_like_json(text: str) -> bool:
    stripped = text.strip()
    if stripped.startswith("```"):
        stripped = stripped.lstrip("`").partition("\n")[2].strip() or stripped.strip("`")
    return stripped.startswith(("{", "["))


AskResponse = Callable[[list[dict[str, Any]]], Awaitable[ResponseResult]]
"""Sends the extra input items of a ``/v1/responses`` re-ask and returns the unparsed result."""


async def validated_response(
    result: ResponseResult,
    *,
    response_format: ResponseFormat,
    retries: int,
    ask: AskResponse,
    url: str,
) -> ResponseResult:
    """A ``/v1/responses`` result parsed into ``response_format``, re-asking like ``chat()``.

    Raises:
        StructuredOutputIgnoredError: the reply is prose, not JSON at all: the server ignored the
            schema (LM Studio's bug #2403); asking again would not help.
        StructuredOutputError: no attempt validated, or one was cut at ``max_output_tokens``.
    """
    attempts: list[StructuredAttempt] = []
    extra: list[dict[str, Any]] = []
    while True:
        model = result.sent_model
        try:
            parsed = parse_structured(response_format, result.text, model=model, url=url)
            return dataclasses.replace(result, parsed=parsed)
        except StructuredOutputError as exc:
            error = describe(exc)
            cut = result.raw is not None and result.raw.status == "incomplete"
            attempts.append(StructuredAttempt(result.text, error, "length" if cut else None))
            if cut:
                raise _truncated(attempts, model=model, url=url, field="max_output_tokens") from exc
            if not _looks_like_json(result.text):
                raise StructuredOutputIgnoredError(
                    "the server answered a structured request with plain text: it ignored the "
                    "JSON schema",
                    raw_text=result.text,
                    attempts=attempts,
                    model=model,
                    url=url,
                ) from exc
            if len(attempts) > retries:
                raise _exhausted(attempts, model=model, url=url) from exc
        extra = [*extra, *feedback_messages(result.text, error)]
        result = await ask(extra)
