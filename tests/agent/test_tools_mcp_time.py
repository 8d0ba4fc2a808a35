"""MCPToolset and ToolRegistry against a real mcp-server-time over stdio (mcp SDK 2.x or 1.x)."""

from __future__ import annotations

import json

import anyio
import pytest

from lmbridge.agent.tools import MCPToolset, RegisteredTool, ToolDef, ToolError, ToolRegistry
from tests.agent.conftest import MCP_MAJOR, SessionOpener, server_name

TIME_TOOLS = {"get_current_time", "convert_time"}


async def test_time_server_lists_two_tools_and_answers(open_time_session: SessionOpener) -> None:
    async with open_time_session() as session:
        toolset = MCPToolset(session)
        tools = await toolset.list_tools()
        assert {t.name for t in tools} == TIME_TOOLS
        current = next(t for t in tools if t.name == "get_current_time")
        assert current.parameters["type"] == "object"
        assert "timezone" in current.parameters["required"]
        assert "timezone" in current.description.lower()
        # The label is the server's own name where the session knows it (mcp 2.x).
        assert toolset.label == ("mcp-time" if MCP_MAJOR >= 2 else None)
        assert toolset.label == server_name(session)

        registry = await ToolRegistry.build([session])
        outcome = await registry.call("get_current_time", '{"timezone": "Europe/Paris"}')
        assert not outcome.is_error
        assert json.loads(outcome.text)["timezone"] == "Europe/Paris"
        assert outcome.structured is None or outcome.structured["timezone"] == "Europe/Paris"

        bad = await registry.call("get_current_time", {"timezone": "Mars/Olympus_Mons"})
        assert bad.is_error
        assert bad.error_kind == "failed"
        assert "Mars/Olympus_Mons" in bad.text


async def test_unknown_tool_on_time_server_raises_and_becomes_error_outcome(
    open_time_session: SessionOpener,
) -> None:
    async with open_time_session() as session:
        toolset = MCPToolset(session)
        # Under mcp 2.x, mcp-server-time answers an unknown tool with a protocol error (MCPError);
        # under 1.x with an isError result. Either way the registry reports an error outcome.
        if MCP_MAJOR >= 2:
            with pytest.raises(ToolError, match="nope"):
                await toolset.call_tool("nope", {})
        else:
            assert (await toolset.call_tool("nope", {})).is_error
        stale = ToolRegistry(
            [RegisteredTool("nope", ToolDef("nope", "", {"type": "object"}), toolset, "time")]
        )
        reported = await stale.call("nope", "{}")
        assert reported.is_error
        assert reported.error_kind == "failed"
        assert "nope" in reported.text
        # ...and a name the registry does not know never reaches the server at all.
        registry = await ToolRegistry.build([toolset])
        outcome = await registry.call("nope", "{}")
        assert outcome.is_error
        assert outcome.error_kind == "unknown_tool"
        assert "get_current_time" in outcome.text
        assert "convert_time" in outcome.text
        # The session still works after the protocol error.
        ok = await registry.call("convert_time", {
            "source_timezone": "Europe/London", "time": "12:00", "target_timezone": "Asia/Tokyo"
        })  # fmt: skip
        assert not ok.is_error, ok.text


async def test_invalid_json_and_schema_failures_never_reach_the_server(
    open_time_session: SessionOpener,
) -> None:
    async with open_time_session() as session:
        registry = await ToolRegistry.build({"time": session})
        assert registry.get("get_current_time") is not None
        assert registry.get("get_current_time").source == "time"  # type: ignore[union-attr]

        broken = await registry.call("get_current_time", '{"timezone": "Europe/Paris"')
        assert broken.is_error
        assert broken.error_kind == "invalid_arguments"
        assert broken.text.startswith("The arguments were not valid JSON")

        missing = await registry.call("get_current_time", "{}")
        assert missing.is_error
        assert missing.invalid_call
        assert "missing required argument 'timezone'" in missing.text

        wrong_type = await registry.call("get_current_time", '{"timezone": 5}')
        assert wrong_type.is_error
        assert "argument 'timezone' must be string, got integer" in wrong_type.text


async def test_two_time_servers_get_namespaced_names(open_time_session: SessionOpener) -> None:
    async with open_time_session() as first, open_time_session() as second:
        registry = await ToolRegistry.build([first, second])
        # Both report the name "mcp-time" (mcp 2.x), or none (1.x: then they are "mcp1", "mcp2").
        label = "mcp-time" if MCP_MAJOR >= 2 else "mcp"
        assert sorted(registry.names) == [
            f"{label}1__convert_time",
            f"{label}1__get_current_time",
            f"{label}2__convert_time",
            f"{label}2__get_current_time",
        ]
        named = await ToolRegistry.build(
            [MCPToolset(first, name="home"), MCPToolset(second, name="work")]
        )
        assert "work__get_current_time" in named
        route = named.get("work__get_current_time")
        assert route is not None
        assert isinstance(route.toolset, MCPToolset)
        assert route.toolset.session is second
        outcome = await named.call("work__get_current_time", {"timezone": "Asia/Tokyo"})
        assert not outcome.is_error
        assert "Asia/Tokyo" in outcome.text


async def test_concurrent_calls_on_one_session(open_time_session: SessionOpener) -> None:
    async with open_time_session() as session:
        registry = await ToolRegistry.build([session])
        zones = ["Europe/Paris", "Asia/Tokyo", "America/New_York", "Etc/UTC", "Africa/Cairo"]
        results: dict[str, str] = {}

        async def ask(zone: str) -> None:
            outcome = await registry.call("get_current_time", {"timezone": zone})
            assert not outcome.is_error
            results[zone] = json.loads(outcome.text)["timezone"]

        async with anyio.create_task_group() as group:
            for zone in zones:
                group.start_soon(ask, zone)
        assert results == {zone: zone for zone in zones}
