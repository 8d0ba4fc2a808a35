"""Openers for real MCP servers over stdio, for the agent tool tests.

Fixtures hand out *openers* (async context manager factories) rather than sessions: an MCP session
must be entered and exited in one task, which a test body guarantees and a fixture's setup and
teardown do not.

* ``mcp-server-time`` (PyPI, installed by the dev extra) runs as ``python -m mcp_server_time``.
* ``@modelcontextprotocol/server-everything`` (npm) is found through ``LMBRIDGE_MCP_EVERYTHING`` or
  at ``~/.cache/lmbridge/npm/node_modules/.bin/mcp-server-everything``; install it with
  ``npm install --prefix ~/.cache/lmbridge/npm --no-audit --no-fund
  @modelcontextprotocol/server-everything@2026.8.31``. Tests needing it skip when it is absent.
"""

from __future__ import annotations

import importlib.metadata
import os
import sys
import tempfile
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.agent.loop_support import skip_or_fail

EVERYTHING_DEFAULT = Path.home() / ".cache/lmbridge/npm/node_modules/.bin/mcp-server-everything"
EVERYTHING_INSTALL = (
    "npm install --prefix ~/.cache/lmbridge/npm --no-audit --no-fund "
    "@modelcontextprotocol/server-everything@2026.8.31"
)

SessionOpener = Callable[[], AbstractAsyncContextManager[Any]]

# The tests run under mcp 2.x (the dev extra) and, to check the 1.x shapes for real, under 1.x:
# `pip install mcp==1.30.0 mcp-server-time pytest pytest-asyncio hypothesis` in a venv and run
# this directory with PYTHONPATH pointing at the repository.
try:
    MCP_MAJOR = int(importlib.metadata.version("mcp").split(".")[0])
except importlib.metadata.PackageNotFoundError:  # the mcp extra is not installed
    MCP_MAJOR = 0


def server_name(session: Any) -> str | None:
    """The server's name as the session reports it: mcp 2.x sessions know it, 1.x ones do not."""
    info = getattr(session, "server_info", None)
    return getattr(info, "name", None)


def everything_command() -> str | None:
    """The server-everything executable, or ``None`` when it is not installed."""
    path = Path(os.environ.get("LMBRIDGE_MCP_EVERYTHING") or EVERYTHING_DEFAULT)
    return str(path) if path.is_file() else None


@asynccontextmanager
async def open_stdio_session(
    command: str, args: list[str], env: dict[str, str] | None = None
) -> AsyncIterator[Any]:
    """Start an MCP server over stdio and yield its initialised ``ClientSession``."""
    from mcp import ClientSession, StdioServerParameters, stdio_client

    params = StdioServerParameters(command=command, args=args, env=env)
    with tempfile.TemporaryFile(mode="w+") as errlog:
        async with stdio_client(params, errlog=errlog) as (read, write):  # noqa: SIM117
            async with ClientSession(read, write) as session:
                await session.initialize()
                yield session


def time_server_args() -> tuple[str, list[str]]:
    """Command and arguments that run mcp-server-time with this interpreter."""
    return sys.executable, ["-m", "mcp_server_time"]


@pytest.fixture
def open_time_session() -> SessionOpener:
    """Opens a session with a fresh mcp-server-time (2 tools)."""
    pytest.importorskip("mcp", reason="the mcp SDK is not installed (pip install 'lmbridge[mcp]')")
    command, args = time_server_args()
    return lambda: open_stdio_session(command, args)


@pytest.fixture
def everything_path() -> str:
    """The server-everything executable; skips the test when it is not installed."""
    command = everything_command()
    if command is None:
        skip_or_fail(
            "server-everything is not installed: set LMBRIDGE_MCP_EVERYTHING or run "
            + EVERYTHING_INSTALL
        )
    return command


@pytest.fixture
def open_everything_session(everything_path: str) -> SessionOpener:
    """Opens a session with a fresh server-everything (13 tools)."""
    pytest.importorskip("mcp", reason="the mcp SDK is not installed (pip install 'lmbridge[mcp]')")
    return lambda: open_stdio_session(everything_path, ["stdio"])
