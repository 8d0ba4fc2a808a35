"""Async HTTP on one pooled ``httpx.AsyncClient``: timeouts, retries and typed errors."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any, TypeVar, overload

import anyio
import httpx
import pydantic_core
from pydantic import BaseModel

from lmbridge import errors
from lmbridge.transport.classify import error_from_response, overflow_in_ok_body
from lmbridge.transport.loops import LoopWatch
from lmbridge.transport.retry import RETRYABLE_STATUSES, RetryPolicy
from lmbridge.transport.sse import ServerSentEvent, SSEDecoder

__all__ = [
    "DEFAULT_TIMEOUT",
    "HTTPTransport",
    "TimeoutArg",
    "decode_body",
    "merge_timeout",
    "normalize_base_url",
]

#: Connect quickly or fail; wait long for the next byte, since local generation can be slow.
DEFAULT_TIMEOUT = httpx.Timeout(connect=5.0, read=600.0, write=60.0, pool=None)

TimeoutArg = float | httpx.Timeout | None
"""Seconds (the read timeout: the longest wait for the next byte) or an ``httpx.Timeout``."""

_DEFAULT_BASE_URL = "http://localhost:1234"

B = TypeVar("B", bound=BaseModel)


def normalize_base_url(base_url: str | None) -> str:
    """The server's root URL: from the argument, else ``LMBRIDGE_BASE_URL``, else localhost:1234.

    A trailing ``/v1`` (as OpenAI clients expect) and trailing slashes are removed.
    """
    url = (base_url or os.environ.get("LMBRIDGE_BASE_URL") or _DEFAULT_BASE_URL).strip()
    if "://" not in url:
        url = "http://" + url
    url = url.rstrip("/")
    if url.endswith("/v1"):
        url = url[: -len("/v1")]
    return url


def merge_timeout(default: httpx.Timeout, override: TimeoutArg) -> httpx.Timeout:
    """``override`` in full, or as a read timeout on top of ``default``; ``default`` if ``None``."""
    if override is None:
        return default
    if isinstance(override, httpx.Timeout):
        return override
    return httpx.Timeout(
        connect=default.connect, read=float(override), write=default.write, pool=default.pool
    )


@overload
def decode_body(response: httpx.Response, into: type[B], *, model: str | None) -> B: ...
@overload
def decode_body(response: httpx.Response, into: None, *, model: str | None) -> Any: ...
def decode_body(response: httpx.Response, into: type[B] | None, *, model: str | None) -> Any:
    """The response's JSON, validated straight from the bytes into ``into`` when given.

    Raises:
        InvalidResponseError: the body is not JSON, or not of the expected shape.
    """
    # A 200 whose body only says the prompt did not fit is that error (lenient wire types would
    # take it for an empty answer); cheap to rule out: such a body opens with its error field.
    if 200 <= response.status_code < 300 and b'"error"' in response.content[:32]:
        overflow = overflow_in_ok_body(response.content, url=str(response.request.url), model=model)
        if overflow is not None:
            raise overflow
    try:
        if into is None:
            return pydantic_core.from_json(response.content)
        return into.model_validate_json(response.content)
    except ValueError as exc:
        what = "JSON" if into is None else f"a valid {into.__name__}"
        raise errors.InvalidResponseError(
            f"the server's answer is not {what}: {str(exc).splitlines()[0]}",
            url=str(response.request.url),
            model=model,
            status_code=response.status_code,
            body=response.content,
        ) from exc


def _timeout_error(
    exc: httpx.TimeoutException, *, url: str, model: str | None
) -> errors.APITimeoutError:
    """The typed error for a timeout after the connection was made (never retried)."""
    if isinstance(exc, httpx.PoolTimeout):
        return errors.APITimeoutError(
            "no pooled connection became free within the pool timeout",
            url=url,
            model=model,
            hint="Too many requests at once for the pool: raise httpx.Timeout(pool=...) or the "
            "client's limits, or send fewer requests concurrently.",
        )
    if isinstance(exc, httpx.WriteTimeout):
        return errors.APITimeoutError(
            "sending the request took longer than the write timeout", url=url, model=model
        )
    return errors.ReadTimeoutError(
        "no answer from the server within the read timeout", url=url, model=model
    )


async def _read_body(response: httpx.Response, model: str | None) -> bytes:
    """Read the whole body; a failure part way is typed and never retried."""
    url = str(response.request.url)
    try:
        return await response.aread()
    except httpx.TimeoutException as exc:
        raise errors.ReadTimeoutError(
            "the server stopped sending in the middle of its answer", url=url, model=model
        ) from exc
    except httpx.TransportError as exc:
        raise errors.APIConnectionError(
            f"the connection broke while reading the answer ({type(exc).__name__}: {exc})",
            url=url,
            model=model,
            hint="The server may have crashed or unloaded the model mid-answer; its log says "
            "why. The request is not sent again automatically: it may have run.",
        ) from exc


class HTTPTransport:
    """Sends requests to one server, retrying what is safe to retry, raising typed errors.

    One instance is shared by all tasks of a :class:`~lmbridge.Bridge`; it holds no per-request
    state. Paths are absolute (``"/v1/chat/completions"``, ``"/api/v0/models"``).

    Args:
        base_url: the server's root URL (see :func:`normalize_base_url`).
        api_token: sent as ``Authorization: Bearer ...``; never shown in reprs or errors.
        timeout: the default timeouts.
        retry: the retry policy.
        http_client: an ``httpx.AsyncClient`` to use as-is (it is not closed by :meth:`aclose`).
        transport: an ``httpx`` transport for the client lmbridge creates (e.g. the simulator's).
    """

    def __init__(
        self,
        *,
        base_url: str | None = None,
        api_token: str | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        http_client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        limits: httpx.Limits | None = None,
    ) -> None:
        self.base_url = normalize_base_url(base_url)
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self._headers = {"Accept": "application/json", "Content-Type": "application/json"}
        if api_token:
            self._headers["Authorization"] = f"Bearer {api_token}"
        self._owns_client = http_client is None
        self._closed = False
        self._limits = limits or httpx.Limits(max_connections=100, max_keepalive_connections=32)
        self._client = http_client or self._new_client(transport)
        # Only a pool httpx builds inside a client of ours can be replaced with a fresh one.
        self._renewable = http_client is None and transport is None
        self._loops = LoopWatch()

    def _new_client(self, transport: httpx.AsyncBaseTransport | None) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=transport, timeout=self.timeout, limits=self._limits)

    def __repr__(self) -> str:
        return f"HTTPTransport(base_url={self.base_url!r})"

    @property
    def http_client(self) -> httpx.AsyncClient:
        """The underlying ``httpx.AsyncClient``."""
        return self._client

    @property
    def closed(self) -> bool:
        """Whether :meth:`aclose` was called: every later request raises ``BridgeClosedError``."""
        return self._closed

    def check_open(self) -> None:
        """Raise :class:`~lmbridge.errors.BridgeClosedError` if :meth:`aclose` was called."""
        if self._closed:
            raise errors.BridgeClosedError(
                f"this Bridge to {self.base_url} is closed: it sends no more requests",
                url=self.base_url,
            )

    async def aclose(self) -> None:
        """Close the connection pool, unless the client was supplied by the user."""
        self._closed = True
        if self._owns_client:
            await self._client.aclose()

    def url(self, path: str) -> str:
        """The full URL of ``path`` (``"/v1/chat/completions"``) on this server."""
        return self.base_url + path

    # --- requests ----------------------------------------------------------------------------

    def _build(self, method: str, path: str, body: Any, timeout: TimeoutArg) -> httpx.Request:
        content = None if body is None else pydantic_core.to_json(body)
        return self._client.build_request(
            method,
            self.url(path),
            content=content,
            headers=self._headers,
            timeout=merge_timeout(self.timeout, timeout),
        )

    async def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        model: str | None = None,
        timeout: TimeoutArg = None,
        max_retries: int | None = None,
    ) -> httpx.Response:
        """Send a request and return the response with its body read (status < 400)."""
        async with self._send(method, path, body, model, timeout, max_retries, stream=False) as r:
            return r

    async def get_json(self, path: str, *, timeout: float | None = None) -> Any:
        """``GET`` a path and return its JSON."""
        response = await self.request("GET", path, timeout=timeout)
        return decode_body(response, None, model=None)

    async def post_json(
        self,
        path: str,
        body: Mapping[str, Any],
        *,
        timeout: float | None = None,
        model: str | None = None,
    ) -> Any:
        """``POST`` a JSON body and return the JSON answer."""
        response = await self.request("POST", path, body=body, model=model, timeout=timeout)
        return decode_body(response, None, model=model)

    @asynccontextmanager
    async def stream_events(
        self,
        path: str,
        body: Any,
        *,
        model: str | None = None,
        timeout: TimeoutArg = None,
        max_retries: int | None = None,
    ) -> AsyncIterator[AsyncIterator[list[ServerSentEvent]]]:
        """Open a server-sent-event stream; yields an async iterator of event batches.

        Each batch holds the events one network read completed (batches save an ``await`` per
        event on the hot path).

        Retries happen only before the first byte of the body. Leaving the block — normally, by
        ``break``, by an error or by cancellation — closes the response, which returns the
        connection to the pool (or discards it, if the body was not read to the end).
        """
        async with self._send("POST", path, body, model, timeout, max_retries, stream=True) as r:
            yield self._events(r, model)

    async def _events(
        self, response: httpx.Response, model: str | None
    ) -> AsyncIterator[list[ServerSentEvent]]:
        decoder = SSEDecoder()
        url = str(response.request.url)
        try:
            async for chunk in response.aiter_bytes():
                events = decoder.feed(chunk)
                if events:
                    yield events
        except httpx.TimeoutException as exc:
            raise errors.ReadTimeoutError(
                "the server stopped sending in the middle of the stream", url=url, model=model
            ) from exc
        except httpx.TransportError as exc:
            raise errors.StreamError(
                f"the connection broke in the middle of the stream ({type(exc).__name__}: {exc})",
                url=url,
                model=model,
            ) from exc
        events = decoder.flush()
        if events:
            yield events

    @asynccontextmanager
    async def _send(
        self,
        method: str,
        path: str,
        body: Any,
        model: str | None,
        timeout: TimeoutArg,
        max_retries: int | None,
        *,
        stream: bool,
    ) -> AsyncIterator[httpx.Response]:
        # Checked here, on the one path every request takes, so that models.* calls made after
        # close fail the same way as chat(); the client's own RuntimeError names no cause.
        self.check_open()
        if self._loops.moved_on() and self._renewable:
            # The pool's connections belong to an event loop that has ended (a second
            # asyncio.run()): they cannot be closed or used, so start a new pool.
            self._client = self._new_client(None)
        retries_left = self.retry.max_retries if max_retries is None else max_retries
        waits = self.retry.backoff_waits()
        request = self._build(method, path, body, timeout)
        url = str(request.url)
        while True:
            failure: errors.LMBridgeError
            server_wait: float | None = None
            try:
                response = await self._client.send(request, stream=True)
            except httpx.ConnectTimeout as exc:
                failure = errors.ConnectTimeoutError(
                    f"could not connect to {self.base_url} in time", url=url, model=model
                )
                cause: BaseException = exc
            except httpx.ConnectError as exc:
                failure = errors.APIConnectionError(
                    f"could not reach {self.base_url}: {exc or type(exc).__name__}",
                    url=url,
                    model=model,
                )
                cause = exc
            except httpx.RemoteProtocolError as exc:
                failure = errors.APIConnectionError(
                    f"{self.base_url} closed the connection without answering: {exc}",
                    url=url,
                    model=model,
                    hint="The server may have crashed or unloaded the model mid-request; its log "
                    "says why. Generation requests are not sent again automatically.",
                )
                cause = exc
                if method != "GET":
                    # A generation may have run (or still run) on the server: sending it again
                    # would run it again. Only reads are safe to repeat.
                    raise failure from exc
            except httpx.TimeoutException as exc:
                raise _timeout_error(exc, url=url, model=model) from exc
            except httpx.TransportError as exc:
                raise errors.APIConnectionError(
                    f"the connection to {self.base_url} failed: {exc or type(exc).__name__}",
                    url=url,
                    model=model,
                ) from exc
            else:
                try:
                    if response.status_code < 400:
                        if not stream:
                            await _read_body(response, model)
                        yield response
                        return
                    content = await _read_body(response, model)
                finally:
                    with anyio.CancelScope(shield=True):
                        await response.aclose()
                failure = error_from_response(
                    response.status_code, response.headers, content, url=url, model=model
                )
                cause = failure
                if response.status_code not in RETRYABLE_STATUSES:
                    raise failure
                server_wait = self.retry.server_wait(response.headers)
            if retries_left <= 0:
                if failure is cause:
                    raise failure
                raise failure from cause
            retries_left -= 1
            await self.retry.sleep(server_wait if server_wait is not None else next(waits))
