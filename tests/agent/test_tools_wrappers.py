"""Filter, prefix and approval wrappers, alone and composed."""

from __future__ import annotations

from typing import Any

import pytest

from lmbridge.agent.tools import (
    ApprovalToolset,
    FilteredToolset,
    FunctionToolset,
    PrefixedToolset,
    ToolDeniedError,
    ToolRegistry,
    UnknownToolError,
)


def read_file(path: str) -> str:
    """Read a file."""
    return f"contents of {path}"


def write_file(path: str, text: str) -> str:
    """Write a file."""
    return f"wrote {len(text)} characters to {path}"


def delete_file(path: str) -> str:
    """Delete a file."""
    return f"deleted {path}"


def files() -> FunctionToolset:
    return FunctionToolset([read_file, write_file, delete_file], name="fs")


async def test_filter_by_names() -> None:
    toolset = FilteredToolset(files(), {"read_file", "write_file"})
    assert [t.name for t in await toolset.list_tools()] == ["read_file", "write_file"]
    assert (await toolset.call_tool("read_file", {"path": "a"})).text == "contents of a"
    with pytest.raises(UnknownToolError, match="delete_file"):
        await toolset.call_tool("delete_file", {"path": "a"})
    assert toolset.label == "fs"


async def test_filter_by_predicate() -> None:
    toolset = FilteredToolset(files(), lambda tool: not tool.name.startswith("delete"))
    assert [t.name for t in await toolset.list_tools()] == ["read_file", "write_file"]
    with pytest.raises(UnknownToolError):
        await toolset.call_tool("delete_file", {"path": "a"})


async def test_prefix_renames_and_routes_back() -> None:
    toolset = PrefixedToolset(files(), "disk")
    assert [t.name for t in await toolset.list_tools()] == [
        "disk_read_file", "disk_write_file", "disk_delete_file",
    ]  # fmt: skip
    assert (await toolset.call_tool("disk_read_file", {"path": "x"})).text == "contents of x"
    with pytest.raises(UnknownToolError):
        await toolset.call_tool("read_file", {"path": "x"})


async def test_approval_sync_and_async() -> None:
    asked: list[tuple[str, dict[str, Any]]] = []

    def approve(name: str, arguments: dict[str, Any]) -> bool:
        asked.append((name, arguments))
        return name != "delete_file"

    toolset = ApprovalToolset(files(), approve)
    assert (await toolset.call_tool("read_file", {"path": "a"})).text == "contents of a"
    with pytest.raises(ToolDeniedError, match="The user denied this call to 'delete_file'"):
        await toolset.call_tool("delete_file", {"path": "a"})
    assert asked == [("read_file", {"path": "a"}), ("delete_file", {"path": "a"})]

    async def deny_all(name: str, arguments: dict[str, Any]) -> bool:
        return False

    with pytest.raises(ToolDeniedError):
        await ApprovalToolset(files(), deny_all).call_tool("read_file", {"path": "a"})


async def test_denied_call_never_runs_and_reaches_the_model_as_an_error() -> None:
    ran: list[str] = []

    def launch(target: str) -> str:
        ran.append(target)
        return "launched"

    registry = await ToolRegistry.build(
        [ApprovalToolset(FunctionToolset([launch]), lambda n, a: False)]
    )
    outcome = await registry.call("launch", '{"target": "moon"}')
    assert outcome.is_error
    assert outcome.error_kind == "denied"
    assert "denied" in outcome.text
    assert ran == []


async def test_wrappers_compose() -> None:
    approved: list[str] = []

    def approve(name: str, arguments: dict[str, Any]) -> bool:
        approved.append(name)
        return True

    toolset = ApprovalToolset(
        PrefixedToolset(FilteredToolset(files(), {"write_file"}), "disk"), approve
    )
    assert [t.name for t in await toolset.list_tools()] == ["disk_write_file"]
    outcome = await toolset.call_tool("disk_write_file", {"path": "p", "text": "abc"})
    assert outcome.text == "wrote 3 characters to p"
    assert approved == ["disk_write_file"]
    registry = await ToolRegistry.build([toolset])
    assert registry.names == ["disk_write_file"]
    assert registry.tools[0].source == "fs"
