"""Building a Bridge's servers from its arguments: one transport, model manager, call path and
context guard per URL, sharing the event emitter and the ``lms`` runner."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import httpx

from lmbridge.calls import ModelCalls
from lmbridge.context import ContextGuard
from lmbridge.events import EventEmitter
from lmbridge.lifecycle.lms import LmsCli
from lmbridge.lifecycle.models import ModelManager
from lmbridge.lifecycle.scheduler import MemoryPolicy
from lmbridge.servers.config import for_server
from lmbridge.servers.server import Server
from lmbridge.transport.breaker import CircuitBreaker
from lmbridge.transport.client import HTTPTransport
from lmbridge.transport.retry import RetryPolicy

__all__ = ["build_servers"]


def build_servers(
    urls: Sequence[str],
    *,
    api_token: str | Mapping[str, str] | None,
    circuit_breaker: bool | CircuitBreaker,
    max_concurrency: int | Mapping[str, int] | None,
    lms: LmsCli,
    events: EventEmitter,
    timeout: httpx.Timeout,
    retry: RetryPolicy,
    http_client: httpx.AsyncClient | None,
    transport: httpx.AsyncBaseTransport | None,
    max_body_bytes: int | None,
    auto_load: bool,
    listing_ttl: float,
    confirm_ttl: float,
    load_timeout: float,
    on_insufficient_memory: MemoryPolicy,
    evict_foreign: bool,
) -> list[Server]:
    """One :class:`Server` per URL (see :class:`~lmbridge.Bridge` for the arguments).

    Raises:
        ValueError: a mapping (tokens, caps) names a URL that is not among ``urls``.
    """
    tokens = for_server(api_token, urls, name="api_token")
    caps = for_server(max_concurrency, urls, name="max_concurrency")
    if isinstance(circuit_breaker, CircuitBreaker):
        breaker: CircuitBreaker | None = circuit_breaker
    elif isinstance(circuit_breaker, bool):
        breaker = CircuitBreaker() if circuit_breaker else None
    else:
        raise TypeError(
            f"circuit_breaker must be True, False or a CircuitBreaker, not {circuit_breaker!r}"
        )
    servers = []
    for url, token, cap in zip(urls, tokens, caps, strict=True):
        http = HTTPTransport(
            base_url=url,
            api_token=token,
            timeout=timeout,
            retry=retry,
            http_client=http_client,
            transport=transport,
            max_body_bytes=max_body_bytes,
            events=events,
            breaker=breaker,
            max_concurrency=cap,
        )
        models = ModelManager(
            rest=http,
            lms=lms,
            auto_load=auto_load,
            listing_ttl=listing_ttl,
            confirm_ttl=confirm_ttl,
            load_timeout=load_timeout,
            events=events,
            on_insufficient_memory=on_insufficient_memory,
            evict_foreign=evict_foreign,
        )
        calls = ModelCalls(http=http, models=models, events=events)
        context = ContextGuard(http=http, models=models)
        servers.append(Server(http=http, models=models, calls=calls, context=context))
    return servers
