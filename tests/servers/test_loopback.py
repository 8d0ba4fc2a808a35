"""Several servers (#12) over real loopback ports: simulators served by uvicorn, and a port
where nothing listens (a real refused connection)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from lmbridge import Bridge, SyncBridge
from lmbridge.testing import Reply, SimulatedLMStudio
from tests.servers.support import no_lms

pytest.importorskip("uvicorn")

QWEN = "qwen/qwen3-4b"


def closed_port() -> str:
    """A loopback URL where nothing listens (the port was free a moment ago)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


async def test_two_simulators_on_loopback_ports_and_one_port_that_refuses(
    tmp_path: Path,
) -> None:
    a, b = SimulatedLMStudio(loaded=[QWEN]), SimulatedLMStudio(loaded=[QWEN])
    a.responder(QWEN, lambda body: Reply("from a", delay=0.01))
    b.responder(QWEN, lambda body: Reply("from b", delay=0.01))
    dead = closed_port()
    async with a.serve() as url_a, b.serve() as url_b:
        urls = [dead, url_a, url_b]
        async with Bridge(urls, lms_path=no_lms(tmp_path), max_retries=0) as bridge:
            import anyio

            servers: list[str | None] = []

            async def one() -> None:
                servers.append((await bridge.chat(QWEN, "hi")).server)

            async with anyio.create_task_group() as group:
                for _ in range(20):
                    group.start_soon(one)
            states = [s.state for s in bridge.servers]
            agent = await bridge.run_agent(QWEN, "hi")
    assert set(servers) == {url_a, url_b}
    assert len(servers) == 20
    assert states[1:] == ["up", "up"]
    assert agent.stop_reason == "completed"
    chats = [r for r in a.requests + b.requests if r.path == "/v1/chat/completions"]
    assert len(chats) == 21  # 20 chats and one agent round, each sent once


def test_the_sync_bridge_shows_its_servers(tmp_path: Path) -> None:
    dead = closed_port()
    with SyncBridge([dead, "http://127.0.0.1:9"], lms_path=no_lms(tmp_path)) as bridge:
        assert [s.url for s in bridge.servers] == [dead, "http://127.0.0.1:9"]
        assert [s.state for s in bridge.servers] == ["up", "up"]
