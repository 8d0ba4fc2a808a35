"""Async HTTP on one pooled ``httpx.AsyncClient``: timeouts, retries and typed errors."""

from __future__ import annotations

import base64
import os
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any, Literal

import anyio
import httpx
import pydantic_core

from lmbridge import errors
from lmbridge.events import CircuitChanged, EventEmitter
from lmbridge.transport.bodies import decode_body, not_an_event_stream, read_body
from lmbridge.transport.breaker import Circuit, CircuitBreaker, ServerState
from lmbridge.transport.classify import error_from_response
from lmbridge.transport.failures import attempt_failure
from lmbridge.transport.limits import ConcurrencyLimit, Slot
from lmbridge.transport.loops import LoopWatch
from lmbridge.transport.observe import log_exchange, retry_event
from lmbridge.transport.retry import RETRYABLE_STATUSES, RetryPolicy
from lmbridge.transport.sse import ServerSentEvent, SSEDecoder

__all__ = [
    "DEFAULT_MAX_BODY_BYTES",
    "DEFAULT_TIMEOUT",
    "HTTPTransport",
    "TimeoutArg",
    "decode_body",
    "merge_timeout",
    "normalize_base_url",
]

#: Connect quickly or fail; wait long for the next byte, since local generation can be slow.
DEFAULT_TIMEOUT = httpx.Timeout(connect=5.0, read=600.0, write=60.0, pool=None)

#: The largest non-streamed answer read (32 MiB): far above any completion or listing, far below
#: what would hurt. Streams are bounded per event instead (see the SSE decoder).
DEFAULT_MAX_BODY_BYTES = 32 * 1024 * 1024

TimeoutArg = float | httpx.Timeout | None
"""Seconds (the read timeout: the longest wait for the next byte) or an ``httpx.Timeout``."""

_DEFAULT_BASE_URL = "http://localhost:1234"

_BREAKER_STATES: dict[ServerState, Literal["closed", "open", "half_open"]] = {
    "up": "closed",
    "down": "open",
    "probing": "half_open",
}


def normalize_base_url(base_url: str | None) -> str:
    """The server's root URL: from the argument, else ``LMBRIDGE_BASE_URL`` (its first URL, when
    it lists several), else localhost:1234.

    A trailing ``/v1`` (as OpenAI clients expect) and trailing slashes are removed.
    """
    # The variable may list several servers (comma-separated): one URL means the first.
    from_env = (os.environ.get("LMBRIDGE_BASE_URL") or "").split(",")[0]
    url = (base_url or from_env or _DEFAULT_BASE_URL).strip()
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


class HTTPTransport:
    """Sends requests to one server, retrying what is safe to retry, raising typed errors.

    One instance is shared by all tasks of a :class:`~lmbridge.Bridge`; it holds no per-request
    state. Paths are absolute (``"/v1/chat/completions"``, ``"/api/v0/models"``).

    Args:
        base_url: the server's root URL (see :func:`normalize_base_url`).
        api_token: sent as ``Authorization: Bearer ...``; never shown in reprs or errors (it is
            registered for redaction: a server that echoes it gets it replaced by ``***``).
        timeout: the default timeouts.
        retry: the retry policy.
        http_client: an ``httpx.AsyncClient`` to use as-is (it is not closed by :meth:`aclose`).
        transport: an ``httpx`` transport for the client lmbridge creates (e.g. the simulator's).
        max_body_bytes: the largest non-streamed body read; a longer one raises
            :class:`~lmbridge.ResponseTooLargeError` (``None``: :data:`DEFAULT_MAX_BODY_BYTES`).
        events: where retries are reported (a silent emitter when not given).
        breaker: when this server's circuit breaker opens (``None``: never); see
            :mod:`~lmbridge.transport.breaker`.
        max_concurrency: the most requests in flight at once (streams count while open); more
            wait in order (``None``: no cap).

    Attributes:
        circuit: the server's circuit breaker state.
        limit: the requests in flight and waiting, and the cap.
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
        max_body_bytes: int | None = None,
        events: EventEmitter | None = None,
        breaker: CircuitBreaker | None = None,
        max_concurrency: int | None = None,
    ) -> None:
        self.events = events or EventEmitter()
        if max_body_bytes is None:
            max_body_bytes = DEFAULT_MAX_BODY_BYTES
        if isinstance(max_body_bytes, bool) or not isinstance(max_body_bytes, int):
            raise TypeError(f"max_body_bytes must be an int, not {type(max_body_bytes).__name__}")
        if max_body_bytes < 1:
            raise ValueError(f"max_body_bytes must be at least 1, not {max_body_bytes}")
        url = httpx.URL(normalize_base_url(base_url))
        # A user and password in the URL go into Basic auth (as httpx would send them) and out
        # of the URL, which errors, reprs and httpx's own request log all show.
        self._auth: httpx.Auth | httpx._client.UseClientDefault = httpx.USE_CLIENT_DEFAULT
        if url.userinfo:
            self._auth = httpx.BasicAuth(url.username, url.password)
            # A server may echo the password, or the header that carries it: redact both.
            credentials = f"{url.username}:{url.password}".encode()
            errors.register_secret(url.password)
            errors.register_secret(base64.b64encode(credentials).decode())
        self.base_url = str(url.copy_with(userinfo=b"")) if url.userinfo else str(url)
        self.max_body_bytes = max_body_bytes
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self._headers = {"Accept": "application/json", "Content-Type": "application/json"}
        if api_token:
            self._headers["Authorization"] = f"Bearer {api_token}"
            errors.register_secret(api_token)
        self._owns_client = http_client is None
        self._closed = False
        # 8 kept connections (httpx keeps 20): httpcore's pool checks every kept connection (a
        # poll() each, and a scan of the others) for every request, so 20 cost 64 concurrent
        # calls ~10% of their throughput on loopback and 32 half of it (bench/compare.py); a
        # reconnection after a larger burst costs far less than one generation.
        self._limits = limits or httpx.Limits(max_connections=100, max_keepalive_connections=8)
        # Our own client carries the headers itself, so a request merges none (#18); a client
        # supplied by the user gets them per request.
        self._request_headers = None if http_client is None else self._headers
        self._urls: dict[str, httpx.URL] = {}  # parsed once per path: parsing costs ~10 µs
        # The client lmbridge makes is made at the first request: making one builds an SSL
        # context from certifi's bundle (~30-60 ms), which Bridge() itself does not need (#18).
        self._made: httpx.AsyncClient | None = http_client
        self._transport = transport
        # Only a pool httpx builds inside a client of ours can be replaced with a fresh one.
        self._renewable = http_client is None and transport is None
        self._loops = LoopWatch()
        self.circuit = Circuit(breaker, server=self.base_url)
        self.limit = ConcurrencyLimit(max_concurrency)

    def _new_client(self, transport: httpx.AsyncBaseTransport | None) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=transport, timeout=self.timeout, limits=self._limits, headers=self._headers
        )

    @property
    def _client(self) -> httpx.AsyncClient:
        client = self._made
        if client is None:
            client = self._made = self._new_client(self._transport)
        return client

    @_client.setter
    def _client(self, client: httpx.AsyncClient) -> None:
        self._made = client

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
        if self._owns_client and self._made is not None:
            await self._made.aclose()

    def url(self, path: str) -> str:
        """The full URL of ``path`` (``"/v1/chat/completions"``) on this server."""
        return self.base_url + path

    async def _circuit_moved(self, previous: ServerState, model: str | None, reason: str) -> None:
        """Tell observers that the breaker went from ``previous`` to its state now."""
        await self.events.emit(
            CircuitChanged(
                model=model,
                server=self.base_url,
                state=_BREAKER_STATES[self.circuit.state],
                previous=_BREAKER_STATES[previous],
                reason=reason,
            )
        )

    # --- requests ----------------------------------------------------------------------------

    def _build(self, method: str, path: str, body: Any, timeout: TimeoutArg) -> httpx.Request:
        content = None if body is None else pydantic_core.to_json(body)
        url = self._urls.get(path)
        if url is None:
            url = httpx.URL(self.url(path))
            if len(self._urls) < 256:  # paths naming models vary: keep the cache bounded
                self._urls[path] = url
        return self._client.build_request(
            method,
            url,
            content=content,
            headers=self._request_headers,
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
        send = self._send(method, path, body, model, timeout, max_retries, stream=False)
        async with send as (response, _):
            return response

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
        send = self._send("POST", path, body, model, timeout, max_retries, stream=True)
        async with send as (r, slot):
            if r.headers.get("content-type", "").startswith("application/json"):
                # Known before the body: raised here, so a "not loaded" is healed like any other.
                content = await read_body(r, model, self.max_body_bytes)
                raise not_an_event_stream(r, content, model)
            yield self._events(r, model, slot)

    async def _events(
        self, response: httpx.Response, model: str | None, slot: Slot
    ) -> AsyncIterator[list[ServerSentEvent]]:
        decoder = SSEDecoder()
        url = str(response.request.url)
        # The body while no event came (up to the cap): without a content type, a JSON document
        # sent instead of events is only recognised at its end.
        kept: list[bytes] | None = []
        kept_size = 0
        try:
            async for chunk in response.aiter_bytes():
                events = decoder.feed(chunk)
                if kept is not None:
                    kept_size += len(chunk)
                    kept = None if events or kept_size > self.max_body_bytes else kept
                    if kept is not None:
                        kept.append(chunk)
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
        # The body is read: the server is done with this request, whatever the caller still
        # does inside the stream's block (e.g. validating, or asking again).
        slot.release()
        events = decoder.flush()
        if events:
            yield events
        elif kept and b"".join(kept).lstrip().startswith(b"{"):
            raise not_an_event_stream(response, b"".join(kept), model)

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
    ) -> AsyncIterator[tuple[httpx.Response, Slot]]:
        # Checked here, on the one path every request takes, so that models.* calls made after
        # close fail the same way as chat(); the client's own RuntimeError names no cause.
        self.check_open()
        if self._loops.moved_on() and self._renewable:
            # The pool's connections belong to an event loop that has ended (a second
            # asyncio.run()): they cannot be closed or used, so start a new pool.
            self._client = self._new_client(None)
        async with self.limit.slot() as slot:
            retries_left = self.retry.max_retries if max_retries is None else max_retries
            waits = self.retry.backoff_waits()
            request = self._build(method, path, body, timeout)
            url = str(request.url)
            attempt = 0
            while True:
                server_wait: float | None = None
                failure: errors.LMBridgeError
                cause: BaseException
                attempt += 1
                # Before every attempt: a breaker that opened during this request's retries
                # stops them (and, with several servers, sends the request elsewhere).
                probe = self.circuit.admit(url=url, model=model)
                if probe:
                    await self._circuit_moved("down", model, "the cooldown is over: probing")
                began = time.perf_counter()
                try:
                    response = await self._client.send(request, stream=True, auth=self._auth)
                except httpx.TransportError as exc:
                    log_exchange(request, path, None, began)
                    read = attempt_failure(
                        exc, method=method, base_url=self.base_url, url=url, model=model
                    )
                    state = self.circuit.state
                    if read.unreachable:
                        self.circuit.failed()
                    elif probe:
                        self.circuit.succeeded()  # it answered something: it is up
                    if self.circuit.state != state:
                        await self._circuit_moved(state, model, read.error.message)
                    failure, cause = read.error, exc
                    if not read.retryable:
                        raise failure from exc
                except BaseException:
                    if probe:
                        self.circuit.abandon()
                    raise
                else:
                    self.circuit.succeeded()
                    if probe:
                        await self._circuit_moved("probing", model, "the server answered")
                    try:
                        if response.status_code < 400:
                            if not stream:
                                await read_body(response, model, self.max_body_bytes)
                            yield response, slot
                            return
                        content = await read_body(response, model, self.max_body_bytes)
                    finally:
                        if not response.is_closed:  # a body read to its end closed it already
                            with anyio.CancelScope(shield=True):
                                await response.aclose()
                        log_exchange(request, path, response, began)
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
                wait = server_wait if server_wait is not None else next(waits)
                await self.events.emit(
                    retry_event(
                        failure, method=method, path=path, model=model, attempt=attempt, wait=wait
                    )
                )
                await self.retry.sleep(wait)
