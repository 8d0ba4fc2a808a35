"""Tool-side failures, reported back to the model.

These are deliberately NOT :class:`lmbridge.errors.LMBridgeError` subclasses: an ``LMBridgeError`` is
something the *program* must handle, while a ``ToolError`` is something the *model* should read and
react to (pick another tool, fix its arguments, give up gracefully). Their messages are therefore
short, plain sentences addressed to the model. :meth:`ToolRegistry.call
<lmbridge.agent.tools.ToolRegistry.call>` turns every one of them into an error
:class:`~lmbridge.agent.tools.ToolOutcome` instead of raising.
"""

from __future__ import annotations

from typing import ClassVar, Literal

__all__ = [
    "ToolArgumentsError",
    "ToolDeniedError",
    "ToolError",
    "ToolErrorKind",
    "ToolInputRequiredError",
    "ToolTimeoutError",
    "UnknownToolError",
]

ToolErrorKind = Literal["unknown_tool", "invalid_arguments", "denied", "timeout", "failed"]
"""Why a tool call failed: the first two mean the *call* was invalid (the model's fault)."""


class ToolError(Exception):
    """A tool could not do what the model asked; the message is meant for the model.

    Not an ``LMBridgeError``: it goes back to the model as the tool's result.

    Attributes:
        message: the text the model will read.
        kind: the category of failure (see :data:`ToolErrorKind`).
    """

    kind: ClassVar[ToolErrorKind] = "failed"

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


class UnknownToolError(ToolError):
    """The model named a tool that does not exist (not an ``LMBridgeError``; goes to the model)."""

    kind: ClassVar[ToolErrorKind] = "unknown_tool"


class ToolArgumentsError(ToolError):
    """The arguments were not valid for the tool (not an ``LMBridgeError``; goes to the model)."""

    kind: ClassVar[ToolErrorKind] = "invalid_arguments"


class ToolDeniedError(ToolError):
    """The user (an approval callback) refused the call (not an ``LMBridgeError``; goes to the model)."""

    kind: ClassVar[ToolErrorKind] = "denied"


class ToolTimeoutError(ToolError):
    """The tool took longer than allowed (not an ``LMBridgeError``; goes to the model)."""

    kind: ClassVar[ToolErrorKind] = "timeout"


class ToolInputRequiredError(ToolError):
    """The tool asked for user input, which an agent loop cannot provide.

    Raised for an MCP 2.x ``InputRequiredResult``. Not an ``LMBridgeError``; goes to the model.
    """
