"""Chat messages: accept a string, dicts, or typed messages; send OpenAI chat format."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from lmbridge.chat.results import ChatResult

__all__ = ["Message", "MessagesArg", "normalize_messages"]

Role = Literal["system", "user", "assistant", "tool"]


@dataclass(frozen=True)
class Message:
    """A typed chat message.

    Use the constructors: ``Message.system(...)``, ``Message.user(...)``,
    ``Message.assistant(...)``, ``Message.tool(...)``. ``content`` may be a string or a list of
    content parts (e.g. ``{"type": "image_url", ...}`` for vision models).
    """

    role: Role
    content: str | Sequence[Mapping[str, Any]] | None
    tool_calls: Sequence[Mapping[str, Any]] | None = None
    tool_call_id: str | None = None
    name: str | None = None

    @classmethod
    def system(cls, content: str) -> Message:
        """A system message."""
        return cls("system", content)

    @classmethod
    def user(cls, content: str | Sequence[Mapping[str, Any]]) -> Message:
        """A user message."""
        return cls("user", content)

    @classmethod
    def assistant(
        cls, content: str | None = None, *, tool_calls: Sequence[Mapping[str, Any]] | None = None
    ) -> Message:
        """An assistant message, optionally with the tool calls it made."""
        return cls("assistant", content, tool_calls=tool_calls)

    @classmethod
    def tool(cls, content: str, *, tool_call_id: str, name: str | None = None) -> Message:
        """A tool's result, answering the call with ``tool_call_id``."""
        return cls("tool", content, tool_call_id=tool_call_id, name=name)

    def to_dict(self) -> dict[str, Any]:
        """The message in OpenAI chat format."""
        data: dict[str, Any] = {"role": self.role, "content": self.content}
        if self.tool_calls is not None:
            data["tool_calls"] = [dict(call) for call in self.tool_calls]
        if self.tool_call_id is not None:
            data["tool_call_id"] = self.tool_call_id
        if self.name is not None:
            data["name"] = self.name
        return data


MessageLike = Message | Mapping[str, Any] | ChatResult[Any]
MessagesArg = str | Message | Iterable[MessageLike]
"""A prompt: a string (one user message), one :class:`Message`, or a sequence of messages as
:class:`Message`, dicts in OpenAI chat format, or earlier :class:`~lmbridge.ChatResult` replies."""


def _one(message: MessageLike) -> dict[str, Any]:
    if isinstance(message, Message):
        data = message.to_dict()
    elif isinstance(message, Mapping):
        data = dict(message)
    elif isinstance(message, ChatResult):
        data = message.to_message()
    else:
        raise TypeError(
            f"a message must be a Message, a dict or a ChatResult, not {type(message).__name__}"
        )
    role = data.get("role")
    if role == "developer":
        # LM Studio 0.3.15 rejects "developer" and later versions rewrite it: send what all accept.
        data["role"] = "system"
    elif role not in ("system", "user", "assistant", "tool"):
        raise ValueError(f"unknown message role {role!r}: use system, user, assistant or tool")
    return data


def normalize_messages(messages: MessagesArg) -> list[dict[str, Any]]:
    """Messages in OpenAI chat format, from any accepted form."""
    if isinstance(messages, str):
        return [{"role": "user", "content": messages}]
    if isinstance(messages, Message):
        return [messages.to_dict()]
    if isinstance(messages, Mapping):
        raise TypeError("pass a list of messages, not a single dict")
    result = [_one(message) for message in messages]
    if not result:
        raise ValueError("messages must not be empty")
    return result
