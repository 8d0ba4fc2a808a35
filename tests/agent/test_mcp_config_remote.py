"""Remote ``mcp.json`` entries (``url``), opened over streamable HTTP: a real server-everything
started in its ``streamableHttp`` mode beside a stdio server, under mcp 1.x and 2.x alike."""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import AsyncIterator

import anyio
import pytest
from anyio.abc import Process

from lmbridge.agent.tools import ToolRegistry
from lmbridge.errors import MCPServerStartError
from lmbridge.mcp_config import open_mcp_sessions


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def wait_listening(port: int, process: Process) -> None:
    with anyio.fail_after(30):
        while True:
            assert process.returncode is None, "server-everything exited during start-up"
            try:
                stream = await anyio.connect_tcp("127.0.0.1", port)
            except OSError:
                await anyio.sleep(0.1)
                continue
            await stream.aclose()
            return


@pytest.fixture
async def everything_url(everything_path: str) -> AsyncIterator[str]:
    port = free_port()
    process = await anyio.open_process(
        [everything_path, "streamableHttp"],
        env={**os.environ, "PORT": str(port)},
        stdout=None,
        stderr=None,
    )
    try:
        await wait_listening(port, process)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        process.terminate()
        with anyio.move_on_after(5):
            await process.wait()
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_remote_and_stdio_entries_open_together(everything_url: str) -> None:
    config = {
        "mcpServers": {
            "remote": {"url": everything_url},
            "time": {"command": sys.executable, "args": ["-m", "mcp_server_time"]},
        }
    }
    async with open_mcp_sessions(config) as sessions:
        assert list(sessions) == ["remote", "time"]
        registry = await ToolRegistry.build(sessions)
        echoed = await registry.call("echo", {"message": "over http"})
        assert not echoed.is_error
        assert "over http" in echoed.text
        now = await registry.call("get_current_time", {"timezone": "UTC"})
        assert not now.is_error


async def test_an_unreachable_remote_server_is_a_start_error() -> None:
    url = f"http://127.0.0.1:{free_port()}/mcp"
    config = {"mcpServers": {"gone": {"url": url}}}
    with pytest.raises(MCPServerStartError, match="'gone'") as caught:
        async with open_mcp_sessions(config, startup_timeout=10):
            pytest.fail("must not open")
    assert caught.value.servers == ["gone"]
    assert "url" in (caught.value.hint or "")
