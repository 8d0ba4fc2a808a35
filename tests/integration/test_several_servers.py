"""One Bridge over the two real llama-servers: requests spread over both, and when one goes away
mid-run no request that had not been sent is lost, none is sent twice, and its breaker opens.

The shared servers are never stopped (other tests use them): each is reached through a loopback
TCP proxy of this test's own. Stopping a proxy is the server going away: its listening socket
closes (new connections are refused, as by a stopped server) and the connections through it are
cut (a request in flight there fails, as it would). Each proxy records which requests it
forwarded, read from a marker in each prompt, so the test knows where every request went.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from contextlib import asynccontextmanager, suppress
from typing import TYPE_CHECKING

import pytest

from lmbridge import (
    APIConnectionError,
    Bridge,
    ChatResult,
    CircuitBreaker,
    CircuitChanged,
    Event,
    LMBridgeError,
)
from tests.integration.bridge_support import DETERMINISTIC, REQUEST_TIMEOUT_S, SLOW_MACHINE_S

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

pytestmark = pytest.mark.timeout(2 * SLOW_MACHINE_S + 60)

TOKENS = 8  # a few tokens each: the replies' words do not matter, only where they ran
_MARKER = re.compile(rb"lmbridge-it-(\d+)-(\d+)")


def prompt(wave: int, index: int) -> str:
    """A prompt carrying the marker the proxies read (`lmbridge-it-<wave>-<index>`)."""
    return f"Say hello. (lmbridge-it-{wave}-{index})"


class Proxy:
    """A loopback TCP proxy in front of one server; :meth:`stop` makes the server "go away".

    Attributes:
        url: the proxy's base URL, which the Bridge is given instead of the server's.
        seen: the markers of every request forwarded to the server, in order (a marker twice
            would be a request sent twice).
    """

    def __init__(self, target: str) -> None:
        host, _, port = target.removeprefix("http://").partition(":")
        self._target = (host, int(port))
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self.url = ""
        self.seen: list[tuple[int, int]] = []

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        """Refuse new connections and cut the open ones, as a server that stopped would."""
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._connections):
            writer.transport.abort()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with suppress(asyncio.CancelledError, OSError):
                await task

    def seen_in(self, wave: int) -> list[int]:
        return [index for w, index in self.seen if w == wave]

    async def _accept(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._connections.add(client_w)
        server_w: asyncio.StreamWriter | None = None
        try:
            server_r, server_w = await asyncio.open_connection(*self._target)
            self._connections.add(server_w)
            await asyncio.gather(
                self._pump(client_r, server_w, record=True), self._pump(server_r, client_w)
            )
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            for writer in (client_w, server_w):
                if writer is not None:
                    self._connections.discard(writer)
                    writer.transport.abort()
            self._tasks.discard(task)

    async def _pump(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, record: bool = False
    ) -> None:
        buffer = b""
        while chunk := await reader.read(65536):
            if record:
                # A marker may straddle two reads: keep the tail that could hold its start.
                buffer += chunk
                for match in _MARKER.finditer(buffer):
                    self.seen.append((int(match[1]), int(match[2])))
                last = buffer.rfind(b")")
                buffer = buffer[last + 1 :][-64:] if last >= 0 else buffer[-64:]
            writer.write(chunk)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()


@asynccontextmanager
async def proxy_to(target: str) -> AsyncIterator[Proxy]:
    proxy = Proxy(target)
    await proxy.start()
    try:
        yield proxy
    finally:
        await proxy.stop()


async def ask(bridge: Bridge, model: str, wave: int, index: int) -> ChatResult[object] | Exception:
    try:
        return await bridge.chat(model, prompt(wave, index), max_tokens=TOKENS, **DETERMINISTIC)
    except LMBridgeError as error:
        return error


async def test_a_bridge_over_both_servers_survives_one_going_away(
    llama_url: str, llama_auth_url: str, api_key: str, model_name: str, missing_lms: Path
) -> None:
    events: list[Event] = []
    async with (
        proxy_to(llama_url) as main,
        proxy_to(llama_auth_url) as auth,
        Bridge(
            [main.url, auth.url],
            api_token={auth.url: api_key},  # the main server takes none
            lms_path=missing_lms,
            timeout=REQUEST_TIMEOUT_S,
            # One request at a time per server: the rest wait inside the Bridge, so when the
            # main server goes away some of its requests have certainly not been sent.
            max_concurrency=1,
            circuit_breaker=CircuitBreaker(failures=2, cooldown=600),
            event_hooks=[events.append],
        ) as bridge,
    ):
        # 1. Gathered chats spread over both servers; each ran once, where its result says.
        first = await asyncio.gather(*(ask(bridge, model_name, 1, i) for i in range(6)))
        assert all(isinstance(r, ChatResult) for r in first), first
        servers = [r.server for r in first if isinstance(r, ChatResult)]
        assert set(servers) == {main.url, auth.url}, Counter(servers)
        by_proxy: dict[str | None, list[int]] = {
            main.url: main.seen_in(1),
            auth.url: auth.seen_in(1),
        }
        for index, result in enumerate(first):
            assert isinstance(result, ChatResult)
            assert by_proxy[result.server].count(index) == 1
        assert sorted(by_proxy[main.url] + by_proxy[auth.url]) == list(range(6))
        assert [s.state for s in bridge.servers] == ["up", "up"]

        # 2. The main server goes away while its share of a gather is in flight and queued.
        count = 8

        async def stop_main_mid_run() -> None:
            while len(main.seen_in(2)) < 2:  # one answered, the next one sent
                await asyncio.sleep(0.005)
            await main.stop()

        stopper = asyncio.create_task(stop_main_mid_run())
        second = await asyncio.gather(*(ask(bridge, model_name, 2, i) for i in range(count)))
        await asyncio.wait_for(stopper, timeout=SLOW_MACHINE_S)

        sightings = Counter(main.seen_in(2) + auth.seen_in(2))
        assert all(n == 1 for n in sightings.values()), f"sent twice: {sightings}"
        failed = {i: r for i, r in enumerate(second) if not isinstance(r, ChatResult)}
        for index, result in enumerate(second):
            if isinstance(result, ChatResult):
                seen_at = main if result.server == main.url else auth
                assert index in seen_at.seen_in(2), (index, result.server)
        # Only the one request in flight at the main server when it went away may fail (it
        # may have run): everything that had not been sent was answered by the other server.
        assert len(failed) <= 1, failed
        for index, error in failed.items():
            assert isinstance(error, APIConnectionError) and error.sent, repr(error)
            assert error.server == main.url
            assert index not in auth.seen_in(2)
        moved = [i for i, r in enumerate(second) if isinstance(r, ChatResult)]
        assert len(moved) >= count - 1
        assert any(r.server == auth.url for r in second if isinstance(r, ChatResult))

        # 3. Its breaker opened: it is shown down, observers were told, and it is skipped.
        states = {s.url: s.state for s in bridge.servers}
        assert states == {main.url: "down", auth.url: "up"}, states
        opened = [e for e in events if isinstance(e, CircuitChanged) and e.state == "open"]
        assert [(e.server, e.previous) for e in opened] == [(main.url, "closed")]

        third = await asyncio.gather(*(ask(bridge, model_name, 3, i) for i in range(4)))
        assert all(isinstance(r, ChatResult) and r.server == auth.url for r in third), third
        assert main.seen_in(3) == [] and sorted(auth.seen_in(3)) == list(range(4))
