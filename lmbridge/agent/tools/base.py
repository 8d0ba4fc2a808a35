"""The toolset protocol: what a tool looks like, what a call returns, and how to list and call.

A *toolset* is anything with two async methods, ``list_tools()`` and ``call_tool(name, arguments)``.
MCP sessions, Python functions and wrappers (filter, prefix, approval) all become toolsets, and a
:class:`~lmbridge.agent.tools.ToolRegistry` merges several of them under model-facing names.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from lmbridge.agent.tools.errors import ToolError, ToolErrorKind

__all__ = ["BaseToolset", "ContentPart", "ImagePart", "ToolDef", "ToolOutcome", "Toolset"]

ContentPart = dict[str, Any]
"""One JSON-serialisable piece of a tool result, for transcripts and events.

Shapes: ``{"type": "text", "text"}``, ``{"type": "image" | "audio", "mime_type", "data"}`` (base64),
``{"type": "resource", "uri", "mime_type", "text" | "blob"}``,
``{"type": "resource_link", "uri", "name", "mime_type", "description"}``, and for anything else
``{"type": <its type>, "value": <its fields>}``.
"""

ImagePart = tuple[str, str]
"""An image as ``(mime_type, base64_data)``, ready for a vision model's ``image_url`` data URL."""


@dataclass(frozen=True)
class ToolDef:
    """A tool as a toolset describes it.

    Attributes:
        name: the name inside its toolset (the registry may expose it under another name).
        description: what the tool does, for the model.
        parameters: JSON schema of the arguments object.
        source: a short label of where the tool comes from (an MCP server name, ``"py"``, ...).
    """

    name: str
    description: str
    parameters: dict[str, Any]
    source: str = ""


@dataclass(frozen=True)
class ToolOutcome:
    """What a tool call produced.

    Attributes:
        text: the result as the model will read it (for an error, the error message).
        is_error: whether the call failed (the model should see it failed).
        content: the result's parts, structured, for transcripts and events (see :data:`ContentPart`).
        structured: the tool's structured (JSON) result, if it gave one.
        images: images in the result as ``(mime_type, base64_data)``, so a vision model can get them.
        error_kind: why the call failed, or ``None`` if it did not (see :data:`ToolErrorKind`).
    """

    text: str
    is_error: bool = False
    content: list[ContentPart] = field(default_factory=list)
    structured: Any | None = None
    images: list[ImagePart] = field(default_factory=list)
    error_kind: ToolErrorKind | None = None

    @classmethod
    def from_text(cls, text: str) -> ToolOutcome:
        """A successful outcome holding just ``text``."""
        return cls(text=text, content=[{"type": "text", "text": text}])

    @classmethod
    def from_error(
        cls, error: ToolError | str, *, kind: ToolErrorKind | None = None
    ) -> ToolOutcome:
        """An error outcome from a :class:`ToolError` or a message.

        Args:
            error: the error, or the message for the model.
            kind: the failure category; defaults to the error's ``kind`` (or ``"failed"``).
        """
        if isinstance(error, ToolError):
            message, error_kind = error.message, kind or error.kind
        else:
            message, error_kind = error, kind or "failed"
        return cls(
            text=message,
            is_error=True,
            content=[{"type": "text", "text": message}],
            error_kind=error_kind,
        )

    @property
    def invalid_call(self) -> bool:
        """True when the *call* was at fault (unknown tool or invalid arguments), not the tool."""
        return self.error_kind in ("unknown_tool", "invalid_arguments")

    def to_message(self, tool_call_id: str) -> dict[str, Any]:
        """The chat-completions ``tool`` message answering the call ``tool_call_id``."""
        return {"role": "tool", "tool_call_id": tool_call_id, "content": self.text}


@runtime_checkable
class Toolset(Protocol):
    """Anything that lists tools and calls them.

    ``call_tool`` returns a :class:`ToolOutcome`; when it fails it raises a
    :class:`~lmbridge.agent.tools.ToolError` subclass whose message is meant for the model.
    """

    async def list_tools(self) -> Sequence[ToolDef]:
        """The tools this toolset offers."""
        ...

    async def call_tool(self, name: str, arguments: dict[str, Any]) -> ToolOutcome:
        """Call the tool ``name`` (as listed) with already-parsed ``arguments``."""
        ...


class BaseToolset(ABC):
    """Optional base class of lmbridge's own toolsets; subclass it for custom ones.

    Besides the two :class:`Toolset` methods it carries a ``label`` naming where the tools come
    from, which :class:`~lmbridge.agent.tools.ToolRegistry` uses to namespace colliding names.
    """

    @property
    def label(self) -> str | None:
        """A short name for this toolset's source (``None``: let the registry choose one)."""
        return None

    @abstractmethod
    async def list_tools(self) -> Sequence[ToolDef]:
        """The tools this toolset offers."""

    @abstractmethod
    async def call_tool(self, name: str, arguments: dict[str, Any]) -> ToolOutcome:
        """Call the tool ``name`` (as listed) with already-parsed ``arguments``."""
