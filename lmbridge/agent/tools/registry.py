"""All tools of an agent under model-facing names, and one robust way to call them.

:meth:`ToolRegistry.run` (and :meth:`ToolRegistry.call`) never raises because a model or a tool misbehaved: every such failure
becomes an error :class:`~lmbridge.agent.tools.ToolOutcome` with a short message for the model.
Only cancellation and ``BaseException``\\ s such as ``KeyboardInterrupt`` propagate.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import anyio

from lmbridge.agent.tools.base import BaseToolset, ToolDef, ToolOutcome, Toolset
from lmbridge.agent.tools.errors import ToolError
from lmbridge.agent.tools.functions import FunctionTool, FunctionToolset
from lmbridge.agent.tools.mcp import MCPSession, MCPToolset
from lmbridge.agent.tools.naming import assign_names, sanitize_name
from lmbridge.agent.tools.schema_check import check_arguments
from lmbridge.chat.assemble import make_tool_call
from lmbridge.chat.results import ToolCall
from lmbridge.errors import ToolListingError

__all__ = ["DEFAULT_MAX_RESULT_CHARS", "RegisteredTool", "ToolRegistry", "ToolSource"]

logger = logging.getLogger("lmbridge.agent.tools")

DEFAULT_MAX_RESULT_CHARS = 20_000
_MAX_MESSAGE_CHARS = 1_000
_MAX_LISTED_NAMES = 50

ToolSource = Toolset | MCPSession | FunctionTool | Callable[..., Any]
"""What :meth:`ToolRegistry.build` accepts: a toolset, an MCP ``ClientSession``, a function, or
one prepared with :func:`function_tool`."""


@dataclass(frozen=True)
class RegisteredTool:
    """One tool in a registry: how the model calls it and where the call goes.

    Attributes:
        name: the model-facing name (unique in the registry).
        tool: the tool as its toolset lists it (``tool.name`` is the toolset's own name for it).
        toolset: the toolset that runs it.
        source: the label of its source (unique in the registry), e.g. an MCP server's name.
    """

    name: str
    tool: ToolDef
    toolset: Toolset
    source: str

    @property
    def original_name(self) -> str:
        """The tool's name inside its toolset."""
        return self.tool.name


def _short(text: str, limit: int = _MAX_MESSAGE_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _looks_like_mcp_session(source: object) -> bool:
    return hasattr(source, "list_tools") and (
        hasattr(source, "initialize")
        or hasattr(source, "send_request")
        or type(source).__module__.split(".")[0] == "mcp"
    )


def _innermost(toolset: object) -> object:
    while isinstance(getattr(toolset, "inner", None), BaseToolset):
        toolset = toolset.inner  # type: ignore[attr-defined]
    return toolset


def _is_function(source: object) -> bool:
    return isinstance(source, FunctionTool) or (
        callable(source) and not hasattr(source, "list_tools")
    )


async def _resolve(source: object, label: str | None) -> tuple[Toolset, Sequence[ToolDef] | None]:
    """The toolset for ``source``, and its tool list when finding out the kind needed it."""
    if isinstance(source, BaseToolset):
        return source, None
    if _is_function(source):
        return FunctionToolset([source], name=label or "py"), None  # type: ignore[list-item]
    if _looks_like_mcp_session(source):
        return MCPToolset(source, name=label), None  # type: ignore[arg-type]
    if isinstance(source, Toolset):
        # A custom toolset and a custom session look alike: what list_tools returns tells.
        try:
            listed = await source.list_tools()
        except Exception as exc:
            raise _listing_error(label or type(source).__name__, exc) from exc
        if isinstance(listed, (list, tuple)) and all(isinstance(t, ToolDef) for t in listed):
            return source, listed
        return MCPToolset(source, name=label), None
    raise TypeError(
        f"not a tool source: {source!r} (expected a toolset, an MCP session or a function)"
    )


class ToolRegistry:
    """The tools of several toolsets under unique model-facing names.

    Build one with :meth:`build`. Names match ``^[a-zA-Z0-9_-]{1,64}$``; tools whose names collide
    are namespaced ``<source>__<tool>``; names over 64 characters are shortened with a stable hash.

    Attributes:
        max_result_chars: the longest result text handed to the model; longer texts are cut and
            end with ``…[truncated: N more characters]``. ``None``: no limit.
    """

    def __init__(
        self,
        tools: Sequence[RegisteredTool],
        *,
        max_result_chars: int | None = DEFAULT_MAX_RESULT_CHARS,
    ) -> None:
        self._routes = {tool.name: tool for tool in tools}
        if len(self._routes) != len(tools):
            raise ValueError("registered tool names must be unique")
        self.max_result_chars = max_result_chars

    @classmethod
    async def build(
        cls,
        sources: Sequence[ToolSource] | Mapping[str, ToolSource],
        *,
        max_result_chars: int | None = DEFAULT_MAX_RESULT_CHARS,
    ) -> ToolRegistry:
        """List the tools of every source and name them.

        Args:
            sources: toolsets, MCP ``ClientSession``\\ s (wrapped in :class:`MCPToolset`) and
                plain functions (gathered into one :class:`FunctionToolset` labelled ``py``). A
                mapping gives each source its label. A session is recognised by its
                ``initialize``/``send_request`` methods; wrap unusual ones in :class:`MCPToolset`.
            max_result_chars: see the class attributes.

        Raises:
            LMBridgeError: listing a source's tools failed (e.g. its MCP server died).
            TypeError: a source is none of the accepted kinds.
        """
        labelled: list[tuple[str | None, Toolset, Sequence[ToolDef] | None]] = []
        if isinstance(sources, Mapping):
            for label, source in sources.items():
                labelled.append((label, *await _resolve(source, label)))
        else:
            functions = [source for source in sources if _is_function(source)]
            for source in sources:
                if not _is_function(source):
                    labelled.append((None, *await _resolve(source, None)))
                elif source is functions[0]:  # all plain functions form one toolset, "py"
                    labelled.append((None, FunctionToolset(functions), None))  # type: ignore[arg-type]
        labels = _unique_labels(labelled)
        listings = await _list_all(labelled, labels)
        pairs = [
            (label, tool, ts)
            for (_, ts, _), label, tools in zip(labelled, labels, listings, strict=True)
            for tool in tools
        ]
        names = assign_names([(label, tool.name) for label, tool, _ in pairs])
        registered = [
            RegisteredTool(name=name, tool=tool, toolset=toolset, source=label)
            for name, (label, tool, toolset) in zip(names, pairs, strict=True)
        ]
        return cls(registered, max_result_chars=max_result_chars)

    # --- what the model sees -------------------------------------------------------------

    @property
    def tools(self) -> list[RegisteredTool]:
        """Every tool, in source order."""
        return list(self._routes.values())

    @property
    def names(self) -> list[str]:
        """Every model-facing name, in source order."""
        return list(self._routes)

    def get(self, name: str) -> RegisteredTool | None:
        """The tool the model calls ``name``, if any."""
        return self._routes.get(name)

    def __len__(self) -> int:
        return len(self._routes)

    def __contains__(self, name: object) -> bool:
        return name in self._routes

    def __iter__(self) -> Iterator[RegisteredTool]:
        return iter(list(self._routes.values()))

    def openai_tools(self) -> list[dict[str, Any]]:
        """The tools in chat-completions form: ``{"type": "function", "function": {...}}``."""
        return [
            {
                "type": "function",
                "function": {
                    "name": t.name,
                    "description": t.tool.description,
                    "parameters": t.tool.parameters,
                },
            }
            for t in self._routes.values()
        ]

    def responses_tools(self) -> list[dict[str, Any]]:
        """The tools in the flat Responses-API form: ``{"type": "function", "name", ...}``."""
        return [{"type": "function", **tool["function"]} for tool in self.openai_tools()]

    # --- calling -------------------------------------------------------------------------

    def _lookup(self, name: str) -> RegisteredTool | None:
        found = self._routes.get(name) or self._routes.get(name.strip())
        if found is None:
            # A model may use a tool's original name (before sanitising): accept it if unambiguous.
            matches = [t for t in self._routes.values() if t.original_name == name.strip()]
            found = matches[0] if len(matches) == 1 else None
        return found

    async def call(
        self,
        name: str,
        arguments: str | Mapping[str, Any] | None,
        *,
        timeout: float | None = None,
    ) -> ToolOutcome:
        """Call the tool the model named, with arguments as the model sent them.

        Args:
            name: the model-facing tool name, as the model sent it.
            arguments: the arguments as the model sent them (a JSON string) or already parsed.
            timeout: as for :meth:`run`.

        Returns:
            As :meth:`run` does for the same call.
        """
        return await self.run(make_tool_call(None, name, arguments), timeout=timeout)

    async def run(self, call: ToolCall, *, timeout: float | None = None) -> ToolOutcome:
        """Run one tool call, whatever the model or the tool does.

        Args:
            call: the call as assembled from the model's reply (its arguments already parsed;
                ``call.error`` says why they did not parse).
            timeout: seconds the tool may take; ``None``: no limit. On timeout the call is
                cancelled (an MCP server is told so) and the session stays usable.

        Returns:
            The tool's outcome. Unknown tools, invalid JSON, arguments failing the tool's schema,
            exceptions, ``isError`` results and timeouts give ``is_error=True`` outcomes whose
            ``text`` tells the model what went wrong and ``error_kind`` says which it was.
        """
        entry = self._lookup(call.name)
        if entry is None and call.error is not None and not call.name.strip():
            # Nothing of the call could be read, not even its name: say why.
            message = f"The tool call could not be read: {call.error}. " + self._available()
            return self._cap(ToolOutcome.from_error(message, kind="invalid_arguments"))
        if entry is None:
            return self._cap(
                ToolOutcome.from_error(self._unknown_message(call.name), kind="unknown_tool")
            )
        if call.error is not None:
            return ToolOutcome.from_error(call.error, kind="invalid_arguments")
        problems = check_arguments(entry.tool.parameters, call.arguments)
        if problems:
            message = f"Invalid arguments for tool '{entry.name}': {'; '.join(problems)}."
            return self._cap(ToolOutcome.from_error(message, kind="invalid_arguments"))
        return self._cap(await self._invoke(entry, call.arguments, timeout))

    def _unknown_message(self, name: str) -> str:
        return f"Unknown tool '{_short(name, 100)}'. " + self._available()

    def _available(self) -> str:
        shown = self.names[:_MAX_LISTED_NAMES]
        more = len(self) - len(shown)
        listing = ", ".join(shown) + (f" and {more} more" if more > 0 else "")
        return f"Available tools: {listing or 'none'}."

    async def _invoke(
        self, entry: RegisteredTool, arguments: dict[str, Any], timeout: float | None
    ) -> ToolOutcome:
        def timed_out() -> ToolOutcome:
            return ToolOutcome.from_error(
                f"The tool '{entry.name}' timed out after {timeout:g} s.", kind="timeout"
            )

        with anyio.move_on_after(timeout) as scope:
            try:
                outcome = await entry.toolset.call_tool(entry.original_name, arguments)
            except ToolError as exc:
                if scope.cancel_called:
                    return timed_out()
                return ToolOutcome.from_error(_short(exc.message), kind=exc.kind)
            except Exception as exc:
                if scope.cancel_called:
                    return timed_out()
                logger.debug("tool %r raised", entry.name, exc_info=True)
                detail = f": {exc}" if str(exc) else ""
                return ToolOutcome.from_error(
                    _short(f"The tool raised {type(exc).__name__}{detail}")
                )
        if scope.cancelled_caught:
            return timed_out()
        if not isinstance(outcome, ToolOutcome):
            return ToolOutcome.from_text(str(outcome))
        if outcome.is_error and outcome.error_kind is None:
            outcome = replace(outcome, error_kind="failed")
        return outcome

    def _cap(self, outcome: ToolOutcome) -> ToolOutcome:
        limit = self.max_result_chars
        if limit is None or len(outcome.text) <= limit:
            return outcome
        more = len(outcome.text) - limit
        return replace(
            outcome, text=f"{outcome.text[:limit]}\n…[truncated: {more} more characters]"
        )


def _unique_labels(
    labelled: Sequence[tuple[str | None, Toolset, Sequence[ToolDef] | None]],
) -> list[str]:
    """One label per source: given, else the toolset's own, else ``mcpN``/``toolsN``; numbered if shared."""
    labels: list[str] = []
    unnamed: dict[str, int] = {}
    for given, toolset, _ in labelled:
        own = getattr(toolset, "label", None)
        label = given or (own if isinstance(own, str) and own else None)
        if label is None:
            kind = "mcp" if isinstance(_innermost(toolset), MCPToolset) else "tools"
            unnamed[kind] = unnamed.get(kind, 0) + 1
            label = f"{kind}{unnamed[kind]}"
        labels.append(sanitize_name(label))
    totals: dict[str, int] = {}
    for label in labels:
        totals[label] = totals.get(label, 0) + 1
    counters: dict[str, int] = {}
    unique = []
    for label in labels:
        if totals[label] > 1:
            counters[label] = counters.get(label, 0) + 1
            label = f"{label}{counters[label]}"
        unique.append(label)
    return unique


async def _list_all(
    labelled: Sequence[tuple[str | None, Toolset, Sequence[ToolDef] | None]], labels: Sequence[str]
) -> list[Sequence[ToolDef]]:
    """Every source's tools, listed concurrently; the first failure is raised, naming its source."""
    results: list[Sequence[ToolDef]] = [listed or () for _, _, listed in labelled]
    failures: dict[int, Exception] = {}

    async def list_one(index: int, toolset: Toolset) -> None:
        try:
            results[index] = await toolset.list_tools()
        except Exception as exc:
            failures[index] = exc

    async with anyio.create_task_group() as group:
        for index, (_, toolset, listed) in enumerate(labelled):
            if listed is None:
                group.start_soon(list_one, index, toolset)
    if failures:
        index = min(failures)
        raise _listing_error(labels[index], failures[index]) from failures[index]
    return results


def _listing_error(source: str, exc: Exception) -> ToolListingError:
    return ToolListingError(
        f"Listing the tools of source {source!r} failed: {type(exc).__name__}: {exc}",
        source=source,
        hint="Is the MCP server still running? Its stderr (errlog) usually says why.",
    )
