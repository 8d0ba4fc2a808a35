"""Several simulated servers behind one httpx transport, told apart by host and port.

Each simulator answers for its own ``host:port``; a host in ``refusing`` refuses connections
(``httpx.ConnectError``, before anything is sent), as a server that is down does. The transport
counts connection attempts per host, and requests in flight at once (until each response is
closed), so tests can check caps and "never sent twice".
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import httpx

from lmbridge import Bridge, RetryPolicy
from lmbridge.testing import SimulatedLMStudio

A = "http://server-a:1234"
B = "http://server-b:1234"
C = "http://server-c:1234"


class Counting(httpx.AsyncByteStream):
    def __init__(self, inner: Any, done: Any) -> None:
        self._inner = inner
        self._done = done

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._inner:
            yield chunk

    async def aclose(self) -> None:
        try:
            await self._inner.aclose()
        finally:
            self._done()


class Hosts(httpx.AsyncBaseTransport):
    """Dispatches each request to the simulator of its host."""

    def __init__(self, sims: dict[str, SimulatedLMStudio]) -> None:
        self._transports = {
            httpx.URL(url).netloc.decode(): sim.transport() for url, sim in sims.items()
        }
        self.refusing: set[str] = set()
        self.hanging: set[str] = set()
        self.attempts: Counter[str] = Counter()
        self.in_flight: Counter[str] = Counter()
        self.most_in_flight: Counter[str] = Counter()

    def refuse(self, url: str, refuse: bool = True) -> None:
        host = httpx.URL(url).netloc.decode()
        (self.refusing.add if refuse else self.refusing.discard)(host)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        host = request.url.netloc.decode()
        self.attempts[host] += 1
        if host in self.refusing:
            raise httpx.ConnectError("[Errno 111] Connection refused", request=request)
        if host in self.hanging:  # a host that drops packets: the connect never completes
            await anyio.sleep_forever()
        self.in_flight[host] += 1
        self.most_in_flight[host] = max(self.most_in_flight[host], self.in_flight[host])

        def done() -> None:
            self.in_flight[host] -= 1

        try:
            response = await self._transports[host].handle_async_request(request)
        except BaseException:
            done()
            raise
        if hasattr(response, "_content"):  # a body built whole: the server is done with it
            done()
        else:
            response.stream = Counting(response.stream, done)
        return response


def no_lms(tmp_path: Path) -> str:
    return str(tmp_path / "not-installed" / "lms")


def bridge(hosts: Hosts, urls: list[str], tmp_path: Path, **options: Any) -> Bridge:
    """A Bridge over ``urls`` through ``hosts``, without ``lms``, retries without waiting."""
    options.setdefault("retry_policy", _no_wait_retries(options.pop("max_retries", 2)))
    return Bridge(urls, transport=hosts, lms_path=no_lms(tmp_path), **options)


def _no_wait_retries(max_retries: int) -> RetryPolicy:
    async def no_sleep(_: float) -> None:
        return None

    return RetryPolicy(max_retries=max_retries, sleep=no_sleep)


def chats_to(sim: SimulatedLMStudio) -> list[Any]:
    """The chat requests ``sim`` received (JIT loads and listings left out)."""
    return [
        r
        for r in sim.requests
        if r.path == "/v1/chat/completions" and (r.body or {}).get("max_tokens") != 1
    ]


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now
