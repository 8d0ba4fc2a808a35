"""Small toolsets that wrap another toolset: filter, prefix, require approval.

Each is itself a toolset, so they compose: ``ApprovalToolset(PrefixedToolset(FilteredToolset(...)))``.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import replace
from typing import Any

from lmbridge.agent.tools.base import BaseToolset, ToolDef, ToolOutcome, Toolset
from lmbridge.agent.tools.errors import ToolDeniedError, UnknownToolError

__all__ = ["ApprovalCallback", "ApprovalToolset", "FilteredToolset", "PrefixedToolset"]

ApprovalCallback = Callable[[str, dict[str, Any]], "bool | Awaitable[bool]"]
"""``approve(tool_name, arguments)``: return (or await to) ``True`` to allow the call."""


class _Wrapper(BaseToolset):
    def __init__(self, inner: Toolset) -> None:
        self.inner = inner

    @property
    def label(self) -> str | None:
        """The wrapped toolset's label."""
        label = getattr(self.inner, "label", None)
        return label if isinstance(label, str) else None


class FilteredToolset(_Wrapper):
    """Only the tools of ``inner`` that ``allow`` lets through.

    Args:
        inner: the toolset to filter.
        allow: the tool names to keep, or a predicate on each :class:`ToolDef`.
    """

    def __init__(self, inner: Toolset, allow: Collection[str] | Callable[[ToolDef], bool]) -> None:
        super().__init__(inner)
        self._allow = allow

    def _allowed(self, tool: ToolDef) -> bool:
        return self._allow(tool) if callable(self._allow) else tool.name in self._allow

    async def list_tools(self) -> Sequence[ToolDef]:
        """The inner tools that pass the filter."""
        return [tool for tool in await self.inner.list_tools() if self._allowed(tool)]

    async def call_tool(self, name: str, arguments: dict[str, Any]) -> ToolOutcome:
        """Call ``name`` if it passes the filter.

        Raises:
            UnknownToolError: the tool is filtered out (or does not exist).
        """
        if name not in {tool.name for tool in await self.list_tools()}:
            raise UnknownToolError(f"There is no tool named '{name}'.")
        return await self.inner.call_tool(name, arguments)


class PrefixedToolset(_Wrapper):
    """The tools of ``inner`` renamed ``<prefix>_<name>``.

    Args:
        inner: the toolset to rename.
        prefix: prepended to every tool name, with an underscore.
    """

    def __init__(self, inner: Toolset, prefix: str) -> None:
        super().__init__(inner)
        self._prefix = f"{prefix}_"

    async def list_tools(self) -> Sequence[ToolDef]:
        """The inner tools, renamed."""
        return [replace(t, name=self._prefix + t.name) for t in await self.inner.list_tools()]

    async def call_tool(self, name: str, arguments: dict[str, Any]) -> ToolOutcome:
        """Call the inner tool whose prefixed name is ``name``.

        Raises:
            UnknownToolError: ``name`` does not carry the prefix.
        """
        if not name.startswith(self._prefix):
            raise UnknownToolError(f"There is no tool named '{name}'.")
        return await self.inner.call_tool(name.removeprefix(self._prefix), arguments)


class ApprovalToolset(_Wrapper):
    """Asks ``approve(tool_name, arguments)`` before every call of ``inner``'s tools.

    Args:
        inner: the toolset whose calls need approval.
        approve: a sync or async callback; a false answer denies the call.
    """

    def __init__(self, inner: Toolset, approve: ApprovalCallback) -> None:
        super().__init__(inner)
        self._approve = approve

    async def list_tools(self) -> Sequence[ToolDef]:
        """The inner tools, unchanged."""
        return await self.inner.list_tools()

    async def call_tool(self, name: str, arguments: dict[str, Any]) -> ToolOutcome:
        """Call ``name`` once ``approve`` allows it.

        Raises:
            ToolDeniedError: ``approve`` said no; the message tells the model the user denied it.
        """
        answer = self._approve(name, arguments)
        if inspect.isawaitable(answer):
            answer = await answer
        if not answer:
            raise ToolDeniedError(
                f"The user denied this call to '{name}'. Do not retry it with the same "
                "arguments; continue without it or ask the user."
            )
        return await self.inner.call_tool(name, arguments)
