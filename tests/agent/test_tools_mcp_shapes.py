"""MCPToolset with test doubles of both SDK shapes: 1.x camelCase, 2.x snake_case, plain dicts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import anyio
import pytest

from lmbridge.agent.tools import (
    MCPToolset,
    ToolError,
    ToolInputRequiredError,
    ToolRegistry,
)

SCHEMA = {"type": "object", "properties": {"x": {"type": "string"}}}

# --- 1.x shapes (camelCase) ---------------------------------------------------------------


@dataclass
class Tool1:
    name: str
    description: str | None = None
    inputSchema: dict[str, Any] = field(default_factory=lambda: dict(SCHEMA))


@dataclass
class ListToolsResult1:
    tools: list[Tool1]
    nextCursor: str | None = None


@dataclass
class Text:
    text: str
    type: str = "text"


@dataclass
class Image1:
    data: str
    mimeType: str
    type: str = "image"


@dataclass
class CallToolResult1:
    content: list[Any]
    structuredContent: Any = None
    isError: bool = False


@dataclass
class ErrorData:
    code: int
    message: str


class McpError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.error = ErrorData(code, message)


class Session1:
    """Pages like mcp 1.x (``cursor=``)."""

    def __init__(self, pages: dict[str | None, ListToolsResult1]) -> None:
        self.pages = pages
        self.cursors: list[str | None] = []
        self.result: Any = CallToolResult1([Text("ok")])
        self.calls: list[tuple[str, dict[str, Any]]] = []

    async def list_tools(self, cursor: str | None = None) -> ListToolsResult1:
        self.cursors.append(cursor)
        return self.pages[cursor]

    async def call_tool(self, name: str, arguments: dict[str, Any] | None = None) -> Any:
        self.calls.append((name, dict(arguments or {})))
        if isinstance(self.result, BaseException):
            raise self.result
        return self.result


# --- 2.x shapes (snake_case) --------------------------------------------------------------


@dataclass
class PaginatedRequestParams:
    cursor: str | None = None


@dataclass
class Tool2:
    name: str
    description: str | None = None
    input_schema: dict[str, Any] = field(default_factory=lambda: dict(SCHEMA))


@dataclass
class ListToolsResult2:
    tools: list[Tool2]
    next_cursor: str | None = None


@dataclass
class CallToolResult2:
    content: list[Any]
    structured_content: Any = None
    is_error: bool = False


@dataclass
class InputRequiredResult:
    input_requests: dict[str, Any]
    result_type: str = "input_required"


@dataclass
class Implementation:
    name: str


class Session2:
    """Pages like mcp 2.x (``params=PaginatedRequestParams(cursor=...)``)."""

    def __init__(
        self, pages: dict[str | None, ListToolsResult2], server: str | None = None
    ) -> None:
        self.pages = pages
        self.params: list[PaginatedRequestParams | None] = []
        self.result: Any = CallToolResult2([Text("ok")])
        self.server_info = Implementation(server) if server else None

    async def list_tools(self, *, params: PaginatedRequestParams | None = None) -> ListToolsResult2:
        self.params.append(params)
        return self.pages[params.cursor if params else None]

    async def call_tool(self, name: str, arguments: dict[str, Any] | None = None) -> Any:
        if isinstance(self.result, BaseException):
            raise self.result
        return self.result


def three_pages_1() -> dict[str | None, ListToolsResult1]:
    return {
        None: ListToolsResult1([Tool1("a"), Tool1("b")], nextCursor="p2"),
        "p2": ListToolsResult1([Tool1("c")], nextCursor="p3"),
        "p3": ListToolsResult1([Tool1("d", description="last")]),
    }


def three_pages_2() -> dict[str | None, ListToolsResult2]:
    return {
        None: ListToolsResult2([Tool2("a"), Tool2("b")], next_cursor="p2"),
        "p2": ListToolsResult2([Tool2("c")], next_cursor="p3"),
        "p3": ListToolsResult2([Tool2("d", description="last")]),
    }


async def test_pages_through_a_1x_session_with_cursor_keyword() -> None:
    session = Session1(three_pages_1())
    tools = await MCPToolset(session).list_tools()
    assert [t.name for t in tools] == ["a", "b", "c", "d"]
    assert tools[3].description == "last"
    assert tools[0].parameters == SCHEMA
    assert session.cursors == [None, "p2", "p3"]


async def test_pages_through_a_2x_session_with_params_object() -> None:
    session = Session2(three_pages_2())
    tools = await MCPToolset(session).list_tools()
    assert [t.name for t in tools] == ["a", "b", "c", "d"]
    assert session.params[0] is None
    assert [type(p).__name__ for p in session.params[1:]] == ["PaginatedRequestParams"] * 2
    assert [p.cursor for p in session.params[1:] if p] == ["p2", "p3"]


async def test_a_repeated_cursor_ends_the_listing() -> None:
    pages = {
        None: ListToolsResult1([Tool1("a")], nextCursor="again"),
        "again": ListToolsResult1([Tool1("b"), Tool1("a")], nextCursor="again"),
    }
    session = Session1(pages)
    tools = await MCPToolset(session).list_tools()
    assert [t.name for t in tools] == ["a", "b"]  # and no duplicate "a"
    assert session.cursors == [None, "again"]


async def test_tool_list_is_cached_until_refresh() -> None:
    session = Session1({None: ListToolsResult1([Tool1("a")])})
    toolset = MCPToolset(session)
    await toolset.list_tools()
    await toolset.list_tools()
    assert session.cursors == [None]
    session.pages[None] = ListToolsResult1([Tool1("a"), Tool1("z")])
    assert [t.name for t in await toolset.refresh()] == ["a", "z"]
    assert [t.name for t in await toolset.list_tools()] == ["a", "z"]
    assert session.cursors == [None, None]


async def test_missing_or_partial_schemas_become_object_schemas() -> None:
    pages: dict[str | None, dict[str, list[object]]] = {
        None: {"tools": [{"name": "bare"}, {"name": "typed", "inputSchema": {"type": "object"}}]}
    }

    class DictSession(Session1):
        async def list_tools(self, cursor: str | None = None) -> Any:
            return pages[cursor]

    tools = await MCPToolset(DictSession({})).list_tools()
    assert [t.parameters for t in tools] == [
        {"type": "object", "properties": {}},
        {"type": "object", "properties": {}},
    ]


async def test_label_comes_from_name_then_server_info() -> None:
    assert MCPToolset(Session2({}), name="mine").label == "mine"
    assert MCPToolset(Session2({}, server="srv")).label == "srv"
    assert MCPToolset(Session1({})).label is None
    tools = await MCPToolset(Session2(three_pages_2(), server="srv")).list_tools()
    assert {t.source for t in tools} == {"srv"}


async def test_results_of_both_shapes_convert_alike() -> None:
    one, two = Session1({}), Session2({})
    one.result = CallToolResult1([Text("hi"), Text("there")], isError=True)
    two.result = CallToolResult2([Text("hi"), Text("there")], is_error=True)
    for session in (one, two):
        outcome = await MCPToolset(session).call_tool("t", {"x": "1"})
        assert outcome.text == "hi\nthere"
        assert outcome.is_error
        assert outcome.error_kind == "failed"
    assert one.calls == [("t", {"x": "1"})]


async def test_structured_content_alone_becomes_json_text() -> None:
    session = Session2({})
    session.result = CallToolResult2([], structured_content={"temp": 21.5, "city": "Zürich"})
    outcome = await MCPToolset(session).call_tool("t", {})
    assert outcome.text == '{"temp": 21.5, "city": "Zürich"}'
    assert outcome.structured == {"temp": 21.5, "city": "Zürich"}


async def test_every_content_kind_is_described() -> None:
    session = Session1({})
    session.result = {
        "content": [
            {"type": "image", "data": "aGVsbG8=", "mimeType": "image/png"},
            {"type": "audio", "data": "AAAA", "mime_type": "audio/wav"},
            {"type": "resource", "resource": {"uri": "file:///a.txt", "text": "A text"}},
            {
                "type": "resource",
                "resource": {"uri": "file:///b", "blob": "AAAA", "mimeType": "x/y"},
            },
            {"type": "resource_link", "uri": "file:///c", "name": "c", "description": "a file"},
            {"type": "hologram", "depth": 3},
        ],
        "isError": False,
    }
    outcome = await MCPToolset(session).call_tool("t", {})
    assert outcome.text.splitlines() == [
        "[image: image/png, 5 bytes]",
        "[audio: audio/wav, 3 bytes]",
        "[resource: file:///a.txt]",
        "A text",
        "[resource: file:///b, x/y, 3 bytes]",
        "[resource link: c <file:///c>: a file]",
        "[hologram content]",
    ]
    assert outcome.images == [("image/png", "aGVsbG8=")]
    assert [p["type"] for p in outcome.content] == [
        "image", "audio", "resource", "resource", "resource_link", "hologram",
    ]  # fmt: skip
    assert outcome.content[-1]["value"] == {"type": "hologram", "depth": 3}


async def test_error_result_without_text_still_says_something() -> None:
    session = Session2({})
    session.result = CallToolResult2([], is_error=True)
    outcome = await MCPToolset(session).call_tool("t", {})
    assert outcome.is_error
    assert outcome.text == "The tool reported an error without details."


@pytest.mark.parametrize(
    "error",
    [
        McpError(-32602, "Unknown tool: t"),
        type("MCPError", (McpError,), {})(-32602, "Unknown tool: t"),
        type("SomethingElse", (McpError,), {})(-32602, "Unknown tool: t"),
    ],
    ids=["1.x McpError", "2.x MCPError", "any error with .error data"],
)
async def test_protocol_errors_become_tool_errors(error: Exception) -> None:
    session = Session1({})
    session.result = error
    with pytest.raises(ToolError, match=r"rejected the call: Unknown tool: t \(error -32602\)"):
        await MCPToolset(session).call_tool("t", {})


async def test_other_exceptions_propagate_and_the_registry_reports_them() -> None:
    session = Session1({None: ListToolsResult1([Tool1("t")])})
    session.result = ConnectionResetError("the server went away")
    toolset = MCPToolset(session)
    with pytest.raises(ConnectionResetError):
        await toolset.call_tool("t", {})
    outcome = await (await ToolRegistry.build([toolset])).call("t", {})
    assert outcome.is_error
    assert outcome.text == "The tool raised ConnectionResetError: the server went away"


@pytest.mark.parametrize(
    "answer",
    [
        InputRequiredResult({"name": {"method": "elicitation/create"}}),
        RuntimeError("Server returned InputRequiredResult; pass allow_input_required=True ..."),
    ],
    ids=["returned", "raised by the 2.x SDK"],
)
async def test_input_required_is_a_readable_tool_error(answer: Any) -> None:
    session = Session2({None: ListToolsResult2([Tool2("ask")])})
    session.result = answer
    with pytest.raises(ToolInputRequiredError):
        await MCPToolset(session).call_tool("ask", {})
    outcome = await (await ToolRegistry.build([MCPToolset(session)])).call("ask", {})
    assert outcome.is_error
    assert "asked for user input, which this agent cannot provide" in outcome.text


async def test_a_session_that_cannot_page_says_why() -> None:
    class Opaque:
        async def list_tools(self, *, params: Unresolvable | None = None) -> Any:  # type: ignore[name-defined]  # noqa: F821
            return ListToolsResult2([Tool2("a")], next_cursor="more")

        async def call_tool(self, name: str, arguments: dict[str, Any]) -> Any:
            return CallToolResult2([])

    with pytest.raises(TypeError, match="cannot page the tool list"):
        await MCPToolset(Opaque()).list_tools()


async def test_concurrent_listing_lists_once() -> None:
    session = Session1({None: ListToolsResult1([Tool1("a")])})
    toolset = MCPToolset(session)
    async with anyio.create_task_group() as group:
        for _ in range(5):
            group.start_soon(toolset.list_tools)
    assert session.cursors == [None]
