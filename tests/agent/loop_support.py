"""Helpers for the agent-loop tests: transcripts, scripted models, fake MCP sessions, shared servers.

Imported by the ``test_loop_*`` modules as ``loop_support`` (``tests/agent`` is on ``sys.path`` in
pytest's default import mode, as for ``conftest``).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any, NoReturn

import anyio
import anyio.lowlevel
import pytest

from lmbridge.bridge import Bridge
from lmbridge.testing import Reply, SimulatedLMStudio, ToolCallSpec

MODEL = "qwen/qwen3-4b"
REQUIRE_MCP_ENV = "LMBRIDGE_REQUIRE_MCP"


# --- real MCP servers ------------------------------------------------------------------------


def skip_or_fail(reason: str) -> NoReturn:
    """Skip a test whose MCP server is missing, or fail it when ``LMBRIDGE_REQUIRE_MCP=1``.

    CI sets the variable so a missing server cannot silently turn the MCP tests into skips.
    """
    if os.environ.get(REQUIRE_MCP_ENV) == "1":
        pytest.fail(f"{reason} ({REQUIRE_MCP_ENV}=1 forbids skipping)", pytrace=False)
    pytest.skip(reason)


@asynccontextmanager
async def hosted_session(
    opener: Callable[[], AbstractAsyncContextManager[Any]],
) -> AsyncIterator[Any]:
    """An MCP session opened and closed by one background task, so a fixture can share it.

    anyio cancel scopes (inside ``stdio_client`` and ``ClientSession``) must be entered and exited
    in the same task, while pytest-asyncio runs a fixture's setup and teardown in two tasks: a
    dedicated host task does both. Tests run on asyncio (pytest-asyncio), hence ``asyncio`` here.
    """
    ready = anyio.Event()
    stop = anyio.Event()
    box: dict[str, Any] = {}

    async def host() -> None:
        try:
            async with opener() as session:
                box["session"] = session
                ready.set()
                await stop.wait()
        finally:
            ready.set()

    task = asyncio.get_running_loop().create_task(host())
    await ready.wait()
    if "session" not in box:
        await task  # opening failed: raise its error here
        raise RuntimeError("the MCP session host ended before the session opened")
    try:
        yield box["session"]
    finally:
        stop.set()
        await task


# --- the simulated model ---------------------------------------------------------------------


def new_sim(*models: str, jit: bool = True) -> SimulatedLMStudio:
    """A simulator with ``models`` (default: :data:`MODEL`) loaded."""
    return SimulatedLMStudio(loaded=list(models or (MODEL,)), jit=jit)


def new_bridge(sim: SimulatedLMStudio) -> Bridge:
    """A Bridge on the simulator that never finds a real ``lms`` (loads go through REST)."""
    return Bridge(transport=sim.transport(), lms_path=Path("/nonexistent/lmbridge-tests/lms"))


def call(name: str, /, **arguments: Any) -> ToolCallSpec:
    """A tool call the simulated model makes."""
    return ToolCallSpec(name, arguments)


def chat_bodies(sim: SimulatedLMStudio) -> list[dict[str, Any]]:
    """The bodies of the chat requests the simulator received, oldest first."""
    return [r.body for r in sim.requests if r.path == "/v1/chat/completions"]


def tool_names(body: dict[str, Any]) -> list[str]:
    """The tool names a chat request offered the model."""
    return [tool["function"]["name"] for tool in body.get("tools") or ()]


def trailing_tool_messages(messages: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The tool messages at the end of a conversation (the answers to the last tool calls)."""
    tail: list[dict[str, Any]] = []
    for message in reversed(messages):
        if message.get("role") != "tool":
            break
        tail.append(message)
    return tail[::-1]


def echo_tools(*calls: ToolCallSpec, prefix: str = "") -> Callable[[dict[str, Any]], Reply]:
    """A responder: asks for ``calls``, then answers with the tool results it was given.

    The final text is ``prefix`` plus the tool messages' contents joined by `` | ``, which proves
    the model received exactly those results.
    """

    def respond(body: dict[str, Any]) -> Reply:
        messages = body["messages"]
        if messages[-1]["role"] == "user" and isinstance(messages[-1]["content"], list):
            messages = messages[:-1]  # the tools' images, shown to a vision model
        answers = trailing_tool_messages(messages)
        if answers:
            return Reply(prefix + " | ".join(str(m["content"]) for m in answers))
        return Reply(tool_calls=list(calls))

    return respond


def assert_valid_transcript(messages: Sequence[dict[str, Any]]) -> None:
    """Every assistant tool call is answered, right after it, by a tool message with its id.

    After an assistant message with ``tool_calls`` come exactly one tool message per call, in call
    order (then possibly a user message carrying tool images); no tool message appears elsewhere.
    """
    index = 0
    while index < len(messages):
        message = messages[index]
        role = message.get("role")
        assert role in ("system", "user", "assistant", "tool"), message
        assert role != "tool", f"tool message without a preceding tool call at {index}: {message}"
        index += 1
        calls = (message.get("tool_calls") or []) if role == "assistant" else []
        ids = [c["id"] for c in calls]
        assert len(set(ids)) == len(ids), f"duplicate call ids in {message}"
        answers = messages[index : index + len(ids)]
        assert [a.get("role") for a in answers] == ["tool"] * len(ids), (
            f"calls {ids} at {index - 1} are not all answered: {answers}"
        )
        assert [a["tool_call_id"] for a in answers] == ids
        assert all(isinstance(a["content"], str) for a in answers)
        index += len(ids)


# --- fake MCP sessions -----------------------------------------------------------------------


@dataclass
class PageParams:
    """Stands in for mcp 2.x ``PaginatedRequestParams`` (the toolset builds it from the hint)."""

    cursor: str | None = None


@dataclass
class FakeServer:
    """Tools served by the fake sessions, split into pages.

    Each tool answers ``"<name>: <arguments>"``; a tool named in ``failing`` answers ``isError``
    with a structured error, and every call is recorded in ``calls``.
    """

    pages: list[list[str]]
    failing: set[str] = field(default_factory=set)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    cursors: list[str | None] = field(default_factory=list)

    def page(self, cursor: str | None) -> tuple[list[str], str | None]:
        self.cursors.append(cursor)
        index = 0 if cursor is None else int(cursor.removeprefix("page-"))
        following = f"page-{index + 1}" if index + 1 < len(self.pages) else None
        return self.pages[index], following

    def answer(self, name: str, arguments: dict[str, Any]) -> tuple[str, bool, dict[str, Any]]:
        self.calls.append((name, arguments))
        if name in self.failing:
            return f"{name} failed on purpose", True, {"error": name}
        return f"{name}: {sorted(arguments.items())}", False, {"tool": name, **arguments}


_SCHEMA = {"type": "object", "properties": {"x": {"type": "integer"}}}


class FakeSession2x:
    """An mcp 2.x-shaped ``ClientSession``: snake_case fields, ``list_tools(params=...)``."""

    def __init__(self, server: FakeServer) -> None:
        self.server = server

    async def initialize(self) -> None:
        """Sessions are recognised by having it; nothing to do."""

    async def list_tools(self, params: PageParams | None = None) -> Any:
        names, following = self.server.page(params.cursor if params else None)
        tools = [
            SimpleNamespace(name=n, description=f"The {n} tool.", input_schema=_SCHEMA)
            for n in names
        ]
        return SimpleNamespace(tools=tools, next_cursor=following)

    async def call_tool(self, name: str, arguments: dict[str, Any]) -> Any:
        await anyio.lowlevel.checkpoint()
        text, is_error, structured = self.server.answer(name, arguments)
        return SimpleNamespace(
            content=[SimpleNamespace(type="text", text=text)],
            is_error=is_error,
            structured_content=structured,
        )


class FakeSession1x:
    """An mcp 1.x-shaped ``ClientSession``: camelCase fields, ``list_tools(cursor=...)``."""

    def __init__(self, server: FakeServer) -> None:
        self.server = server

    async def initialize(self) -> None:
        """Sessions are recognised by having it; nothing to do."""

    async def list_tools(self, cursor: str | None = None) -> Any:
        names, following = self.server.page(cursor)
        tools = [
            SimpleNamespace(name=n, description=f"The {n} tool.", inputSchema=_SCHEMA)
            for n in names
        ]
        return SimpleNamespace(tools=tools, nextCursor=following)

    async def call_tool(self, name: str, arguments: dict[str, Any]) -> Any:
        await anyio.lowlevel.checkpoint()
        text, is_error, structured = self.server.answer(name, arguments)
        return SimpleNamespace(
            content=[SimpleNamespace(type="text", text=text)],
            isError=is_error,
            structuredContent=structured,
        )


class AdvertisingSession:
    """A real session whose tool list also shows tools the server does not have.

    Models a stale tool list (the server dropped a tool after it was listed): calls go to the
    real server, which must answer the unknown name its own way.
    """

    def __init__(self, session: Any, extra: Sequence[str]) -> None:
        self.session = session
        self.extra = list(extra)

    async def initialize(self) -> None:
        """Already initialised by its owner."""

    async def list_tools(self) -> Any:
        listed = await self.session.list_tools()
        ghosts = [
            SimpleNamespace(name=n, description="Gone.", input_schema={"type": "object"})
            for n in self.extra
        ]
        return SimpleNamespace(tools=[*listed.tools, *ghosts], next_cursor=None)

    async def call_tool(self, name: str, arguments: dict[str, Any]) -> Any:
        return await self.session.call_tool(name, arguments)


class WatchedSession:
    """A real session that reports when a call starts and whether it was cancelled."""

    def __init__(self, session: Any) -> None:
        self.session = session
        self.started = anyio.Event()
        self.cancelled = anyio.Event()

    async def initialize(self) -> None:
        """Already initialised by its owner."""

    async def list_tools(self) -> Any:
        return await self.session.list_tools()

    async def call_tool(self, name: str, arguments: dict[str, Any]) -> Any:
        self.started.set()
        try:
            return await self.session.call_tool(name, arguments)
        except anyio.get_cancelled_exc_class():
            self.cancelled.set()
            raise


def raw_is_error(result: Any) -> bool:
    """``isError`` of a raw ``CallToolResult`` from mcp 2.x (``is_error``) or 1.x (``isError``)."""
    value = getattr(result, "is_error", None)
    if value is None:
        value = getattr(result, "isError", False)
    return bool(value)
