"""Reading a body within the cap, and what a body that is not what was asked for means."""

from __future__ import annotations

from typing import Any, TypeVar, overload

import httpx
from pydantic import BaseModel

from lmbridge import errors
from lmbridge.jsonparse import JSONParseError, parse_json
from lmbridge.transport.classify import error_from_ok_answer, error_only

__all__ = ["decode_body", "not_an_event_stream", "read_body", "too_large"]

B = TypeVar("B", bound=BaseModel)


def too_large(
    response: httpx.Response, limit: int, model: str | None, start: bytes = b""
) -> errors.ResponseTooLargeError:
    """The error for a body past ``limit``; ``start`` is what was read, for the excerpt."""
    return errors.ResponseTooLargeError(
        f"the server's answer is larger than max_body_bytes={limit}; reading stopped there",
        limit=limit,
        url=str(response.request.url),
        model=model,
        status_code=response.status_code,
        body=start,
    )


async def read_body(response: httpx.Response, model: str | None, limit: int) -> bytes:
    """Read the whole body, at most ``limit`` bytes; a failure part way is typed, never retried.

    A body that keeps coming never trips the read timeout (bytes keep arriving), so the cap is
    what ends it: memory never grows past ``limit``.
    """
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large(response, limit, model)
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in response.aiter_bytes():  # decoded: a gzip bomb is capped too
            size += len(chunk)
            if size > limit:
                raise too_large(response, limit, model, b"".join(chunks)[:4096])
            chunks.append(chunk)
    except httpx.TimeoutException as exc:
        raise errors.ReadTimeoutError(
            "the server stopped sending in the middle of its answer",
            url=str(response.request.url),
            model=model,
        ) from exc
    except httpx.TransportError as exc:
        raise errors.APIConnectionError(
            f"the connection broke while reading the answer ({type(exc).__name__}: {exc})",
            url=str(response.request.url),
            model=model,
            hint="The server may have crashed or unloaded the model mid-answer; its log says "
            "why. The request is not sent again automatically: it may have run.",
        ) from exc
    content = b"".join(chunks)
    # httpx keeps a read body here; decode_body() and callers read it as response.content.
    response._content = content
    return content


def not_an_event_stream(
    response: httpx.Response, content: bytes, model: str | None
) -> errors.LMBridgeError:
    """The error for a stream request answered with a JSON document instead of events.

    A document holding only an error is that error (classified like an error status); anything
    else is an :class:`~lmbridge.InvalidResponseError` that keeps the body.
    """
    url = str(response.request.url)
    error = error_only(content)
    if error is not None:
        return error_from_ok_answer(response.status_code, content, error, url=url, model=model)
    return errors.InvalidResponseError(
        "the server answered a stream request with a JSON document, not an event stream",
        url=url,
        model=model,
        status_code=response.status_code,
        body=content,
    )


@overload
def decode_body(response: httpx.Response, into: type[B], *, model: str | None) -> B: ...
@overload
def decode_body(response: httpx.Response, into: None, *, model: str | None) -> Any: ...
def decode_body(response: httpx.Response, into: type[B] | None, *, model: str | None) -> Any:
    """The response's JSON, validated straight from the bytes into ``into`` when given.

    Raises:
        APIStatusError: the answer (2xx) holds only an error object: it is classified as the
            error status it implies (e.g. :class:`~lmbridge.ModelNotLoadedError`).
        InvalidResponseError: the body is not JSON (nesting too deep included), or not of the
            expected shape.
    """
    content = response.content
    error = error_only(content)
    if error is not None:
        url = str(response.request.url)
        raise error_from_ok_answer(response.status_code, content, error, url=url, model=model)
    try:
        if into is None:
            return parse_json(content)
        # pydantic's own JSON parser limits nesting too: a deep body is a ValidationError.
        return into.model_validate_json(content)
    except (JSONParseError, ValueError) as exc:
        what = "JSON" if into is None else f"a valid {into.__name__}"
        raise errors.InvalidResponseError(
            f"the server's answer is not {what}: {str(exc).splitlines()[0]}",
            url=str(response.request.url),
            model=model,
            status_code=response.status_code,
            body=content,
        ) from exc
