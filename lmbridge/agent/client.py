"""What the agent loop needs from the client that sends its rounds: a small protocol.

The loop depends on these members, not on :class:`~lmbridge.Bridge`, so ``agent/`` never
imports the facade above it (the Bridge satisfies the protocol as it is, and passes itself).
Tests and other front ends can drive the loop with anything of this shape.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from lmbridge.chat.requests import ChatOptions, MessagesArg
    from lmbridge.chat.streams import ChatStream
    from lmbridge.chat.tokens import TokenCount

__all__ = ["AgentClient", "ModelState"]


class ModelState(Protocol):
    """The model checks the loop makes (``bridge.models`` is one)."""

    async def prepare(self, model: str, *, kind: Literal["llm"]) -> str:
        """Make sure ``model`` can serve a chat (loading it if allowed); the name to send."""
        ...

    def invalidate(self) -> None:
        """Forget what is known about loaded models, so the next request checks again."""
        ...


class AgentClient(Protocol):
    """Sends the loop's rounds (:class:`~lmbridge.Bridge` is one)."""

    @property
    def models(self) -> ModelState:
        """The model checks."""
        ...

    def stream(
        self, model: str, messages: MessagesArg, **options: Unpack[ChatOptions]
    ) -> AbstractAsyncContextManager[ChatStream[Any]]:
        """Stream one reply of ``model`` to ``messages``."""
        ...

    async def count_tokens(
        self,
        model: str,
        messages: MessagesArg,
        *,
        tools: Sequence[Mapping[str, Any]] | None = None,
    ) -> TokenCount:
        """The transcript's tokens and the model's loaded window (for ``fit``)."""
        ...

    async def check_vision(self, model: str) -> None:
        """Raise :class:`~lmbridge.WrongModelTypeError` if ``model`` cannot see images."""
        ...
