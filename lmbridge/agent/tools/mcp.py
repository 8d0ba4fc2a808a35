"""An MCP client session as a toolset, for both mcp SDK 1.x and 2.x.

The mcp SDK is never imported here: sessions and their results are duck-typed. The two SDK
generations differ in attribute case (``input_schema``/``inputSchema``, ``next_cursor``/
``nextCursor``, ``is_error``/``isError``) and in how ``list_tools`` pages:

* 1.x: ``list_tools(cursor=...)`` (deprecated late in 1.x) or ``list_tools(params=...)``;
* 2.x: ``list_tools(params=PaginatedRequestParams(cursor=...))`` only.

To build a ``PaginatedRequestParams`` without importing mcp, the class is taken from the type
annotation of the session's own ``list_tools(params=...)``, resolved with
:func:`typing.get_type_hints`; so the object always comes from the SDK the session belongs to. A
session whose ``list_tools`` takes only ``cursor=`` gets the cursor keyword.
"""

from __future__ import annotations

import inspect
import logging
import typing
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Protocol

import anyio

from lmbridge.agent.tools.base import BaseToolset, ToolDef, ToolOutcome
from lmbridge.agent.tools.errors import ToolError, ToolInputRequiredError
from lmbridge.agent.tools.mcp_content import mcp_field, outcome_from_mcp_result

__all__ = ["MCPSession", "MCPToolset"]

logger = logging.getLogger("lmbridge.agent.tools")

# A server that keeps handing out fresh cursors must not keep the listing going forever.
_MAX_PAGES = 1000
_INPUT_REQUIRED = (
    "The tool asked for user input, which this agent cannot provide. "
    "Try other arguments or another tool, or tell the user what the tool needs."
)


class MCPSession(Protocol):
    """The part of an mcp ``ClientSession`` (1.x or 2.x) that :class:`MCPToolset` uses."""

    async def list_tools(self) -> Any:
        """List the first page of tools (further pages: see the module docs)."""
        ...

    async def call_tool(self, name: str, arguments: dict[str, Any]) -> Any:
        """Call a tool; returns a ``CallToolResult``."""
        ...


CursorKwargs = Callable[[str], dict[str, Any]]


def _params_class(list_tools: Callable[..., Any]) -> type[Any] | None:
    """The class annotated on ``list_tools``'s ``params`` parameter, if it can be resolved."""
    try:
        hint = typing.get_type_hints(list_tools).get("params")
    except (NameError, TypeError, AttributeError):
        # annotations that do not resolve (TYPE_CHECKING imports): fall back to cursor=
        logger.debug("could not resolve the annotations of %r", list_tools, exc_info=True)
        return None
    for candidate in (hint, *typing.get_args(hint)):
        if isinstance(candidate, type) and candidate is not type(None):
            return candidate
    return None


def _cursor_kwargs_for(list_tools: Callable[..., Any]) -> CursorKwargs:
    """How to pass a cursor to this ``list_tools``: ``params=<its class>(cursor=c)`` or ``cursor=c``."""
    parameters: Mapping[str, inspect.Parameter]
    try:
        parameters = inspect.signature(list_tools).parameters
    except (TypeError, ValueError):  # some builtins and C callables have no signature
        parameters = {}
    if "params" in parameters:
        params_class = _params_class(list_tools)
        if params_class is not None:
            return lambda cursor: {"params": params_class(cursor=cursor)}
    if "cursor" in parameters or any(
        p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()
    ):
        return lambda cursor: {"cursor": cursor}
    raise TypeError(
        f"cannot page the tool list: {list_tools!r} accepts neither cursor= nor a params= "
        "argument with a resolvable type annotation"
    )


def _mcp_error_message(exc: Exception) -> str | None:
    """The model-facing message of an ``McpError`` (1.x) / ``MCPError`` (2.x), else ``None``."""
    error = getattr(exc, "error", None)
    has_error_data = (
        mcp_field(error, "message") is not None and mcp_field(error, "code") is not None
    )
    if type(exc).__name__ not in ("McpError", "MCPError") and not has_error_data:
        return None
    message = mcp_field(error, "message") or str(exc)
    code = mcp_field(error, "code")
    suffix = f" (error {code})" if code is not None else ""
    return f"The MCP server rejected the call: {message}{suffix}"


def _is_input_required(value: object) -> bool:
    """Whether ``value`` is (2.x) an ``InputRequiredResult`` or the error raised in its place."""
    if isinstance(value, RuntimeError):
        return "InputRequiredResult" in str(value)
    return (
        type(value).__name__ == "InputRequiredResult"
        or mcp_field(value, "result_type", "resultType") == "input_required"
    )


def _normalise_schema(schema: Any) -> dict[str, Any]:
    """An object schema the chat API accepts, even when a server sends none or a partial one."""
    result: dict[str, Any] = dict(schema) if isinstance(schema, dict) else {}
    result.setdefault("type", "object")
    if result["type"] == "object":
        result.setdefault("properties", {})
    return result


class MCPToolset(BaseToolset):
    """The tools of one MCP ``ClientSession`` (mcp SDK 1.x or 2.x).

    The tool list is fetched on first use, through every page, and cached: call :meth:`refresh`
    after the server's tools change. Calls may run concurrently (the SDK multiplexes requests on
    one session). The toolset never opens or closes the session: its owner does.

    Args:
        session: an initialised ``mcp.ClientSession``, or anything with the same ``list_tools``
            and ``call_tool``.
        name: the label for this server's tools (used to namespace colliding tool names);
            defaults to the server's own name when the session knows it (mcp 2.x).
    """

    def __init__(self, session: MCPSession, *, name: str | None = None) -> None:
        self._session = session
        self._name = name
        self._tools: list[ToolDef] | None = None
        self._lock = anyio.Lock()
        self._cursor_kwargs: CursorKwargs | None = None

    @property
    def session(self) -> MCPSession:
        """The wrapped session."""
        return self._session

    @property
    def label(self) -> str | None:
        """The ``name`` given, else the server's name if the session knows it, else ``None``."""
        if self._name:
            return self._name
        info = getattr(self._session, "server_info", None)
        if info is None:
            info = mcp_field(getattr(self._session, "initialize_result", None), "server_info")
        name = mcp_field(info, "name")
        return name if isinstance(name, str) and name else None

    async def list_tools(self) -> Sequence[ToolDef]:
        """The server's tools, listed once (through every page) and then cached."""
        async with self._lock:
            if self._tools is None:
                self._tools = await self._fetch_all()
            return list(self._tools)

    async def refresh(self) -> Sequence[ToolDef]:
        """List the server's tools again, replacing the cached list."""
        async with self._lock:
            self._tools = await self._fetch_all()
            return list(self._tools)

    async def call_tool(self, name: str, arguments: dict[str, Any]) -> ToolOutcome:
        """Call ``name`` on the server.

        Returns:
            The converted result; a result the server flags ``isError`` is an error outcome.

        Raises:
            ToolError: the server answered with a protocol error (e.g. an unknown tool).
            ToolInputRequiredError: the tool asked for user input (mcp 2.x).
        """
        try:
            result = await self._session.call_tool(name, arguments)
        except Exception as exc:
            message = _mcp_error_message(exc)
            if message is not None:
                raise ToolError(message) from exc
            if _is_input_required(exc):
                raise ToolInputRequiredError(_INPUT_REQUIRED) from exc
            raise
        if _is_input_required(result):
            raise ToolInputRequiredError(_INPUT_REQUIRED)
        return outcome_from_mcp_result(result)

    async def _fetch_all(self) -> list[ToolDef]:
        label = self.label or ""
        tools: dict[str, ToolDef] = {}
        seen: set[str] = set()
        cursor: str | None = None
        for _ in range(_MAX_PAGES):
            page = await self._list_page(cursor)
            for tool in mcp_field(page, "tools", default=None) or ():
                definition = ToolDef(
                    name=str(mcp_field(tool, "name")),
                    description=str(
                        mcp_field(tool, "description") or mcp_field(tool, "title") or ""
                    ),
                    parameters=_normalise_schema(mcp_field(tool, "input_schema", "inputSchema")),
                    source=label,
                )
                tools.setdefault(definition.name, definition)
            cursor = mcp_field(page, "next_cursor", "nextCursor")
            if cursor is None:
                break
            if cursor in seen:
                logger.warning("MCP server %r repeated the tools/list cursor %r", label, cursor)
                break
            seen.add(cursor)
        else:
            logger.warning("MCP server %r: stopped listing tools after %d pages", label, _MAX_PAGES)
        return list(tools.values())

    def _list_page(self, cursor: str | None) -> Awaitable[Any]:
        list_tools: Callable[..., Awaitable[Any]] = self._session.list_tools
        if cursor is None:
            return list_tools()
        if self._cursor_kwargs is None:
            self._cursor_kwargs = _cursor_kwargs_for(list_tools)
        return list_tools(**self._cursor_kwargs(cursor))
