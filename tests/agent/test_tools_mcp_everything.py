"""MCPToolset and ToolRegistry against a real server-everything over stdio (mcp SDK 2.x or 1.x)."""

from __future__ import annotations

from lmbridge.agent.tools import MCPToolset, ToolRegistry
from tests.agent.conftest import SessionOpener, server_name

EVERYTHING_TOOLS = {
    "echo",
    "get-annotated-message",
    "get-env",
    "get-resource-links",
    "get-resource-reference",
    "get-structured-content",
    "get-sum",
    "get-tiny-image",
    "gzip-file-as-resource",
    "toggle-simulated-logging",
    "toggle-subscriber-updates",
    "trigger-long-running-operation",
    "simulate-research-query",
}


async def test_everything_server_lists_thirteen_tools(
    open_everything_session: SessionOpener,
) -> None:
    async with open_everything_session() as session:
        toolset = MCPToolset(session)
        tools = await toolset.list_tools()
        assert {t.name for t in tools} == EVERYTHING_TOOLS
        assert toolset.label == server_name(session)  # "mcp-servers/everything" under mcp 2.x
        registry = await ToolRegistry.build([toolset])
        # The label is sanitised only where it is used in names; these names need no namespace.
        assert set(registry.names) == EVERYTHING_TOOLS
        assert all(t["type"] == "function" for t in registry.openai_tools())

        # An unknown tool is an isError *result* on this server (not an exception).
        unknown = await toolset.call_tool("no-such-tool", {})
        assert unknown.is_error
        assert "no-such-tool" in unknown.text

        total = await registry.call("get-sum", {"a": 2, "b": 40})
        assert not total.is_error
        assert "42" in total.text

        # Arguments the light check lets through but the server's validation rejects.
        rejected = await toolset.call_tool("echo", {"message": 5})
        assert rejected.is_error


async def test_tiny_image_is_described_and_kept(open_everything_session: SessionOpener) -> None:
    async with open_everything_session() as session:
        registry = await ToolRegistry.build([session])
        outcome = await registry.call("get-tiny-image", "")
        assert not outcome.is_error
        lines = outcome.text.splitlines()
        assert len(lines) == 3
        assert lines[1].startswith("[image: image/png, ")
        assert lines[1].endswith(" bytes]")
        assert [part["type"] for part in outcome.content] == ["text", "image", "text"]
        assert len(outcome.images) == 1
        mime, data = outcome.images[0]
        assert mime == "image/png"
        assert data.startswith("iVBOR")  # base64 of the PNG signature


async def test_resources_and_structured_content(open_everything_session: SessionOpener) -> None:
    async with open_everything_session() as session:
        registry = await ToolRegistry.build([session])
        links = await registry.call("get-resource-links", {"count": 2})
        assert not links.is_error
        assert links.text.count("[resource link: ") == 2
        assert [p["type"] for p in links.content].count("resource_link") == 2

        reference = await registry.call("get-resource-reference", {"resourceType": "Text"})
        assert not reference.is_error
        assert "[resource: " in reference.text
        assert any(p["type"] == "resource" for p in reference.content)

        structured = await registry.call("get-structured-content", {"location": "Chicago"})
        assert not structured.is_error
        assert isinstance(structured.structured, dict)


async def test_timeout_cancels_the_call_and_the_session_survives(
    open_everything_session: SessionOpener,
) -> None:
    async with open_everything_session() as session:
        registry = await ToolRegistry.build([session])
        outcome = await registry.call(
            "trigger-long-running-operation", {"duration": 30, "steps": 3}, timeout=1
        )
        assert outcome.is_error
        assert outcome.error_kind == "timeout"
        assert outcome.text == "The tool 'trigger-long-running-operation' timed out after 1 s."
        after = await registry.call("echo", {"message": "still here"}, timeout=10)
        assert not after.is_error
        assert "still here" in after.text
