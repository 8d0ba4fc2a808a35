"""What the Bridge asks before and after a chat: fit the prompt, then say how full the window got.

:meth:`ContextGuard.prepare_chat` measures the prompt against the loaded window and, with
``fit="error"``/``"trim"``, raises or trims before anything is sent; the
:class:`~lmbridge.chat.window.PromptWindow` it returns finishes the result (``result.context``,
calibration). One guard per Bridge, so the "can this server count?" probe happens once per server.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import replace
from types import TracebackType
from typing import Any

from lmbridge import errors
from lmbridge.chat.fitting import fit_messages
from lmbridge.chat.requests import MessagesArg, normalize_messages
from lmbridge.chat.tokens import TokenCount
from lmbridge.chat.window import (
    Calibration,
    FitMode,
    PromptWindow,
    prompt_chars,
    reply_reserve,
)
from lmbridge.context.counter import TokenCounter
from lmbridge.context.responses import input_as_messages, messages_as_input
from lmbridge.context.windows import ContextWindows
from lmbridge.lifecycle.models import ModelManager
from lmbridge.transport.client import HTTPTransport

__all__ = ["ContextGuard"]

_FIT_MODES = (None, "error", "trim")


def check_fit(fit: object) -> FitMode | None:
    """``fit`` checked: ``None``, ``"error"`` or ``"trim"``."""
    if fit not in _FIT_MODES:
        raise ValueError(f"fit must be None, 'error' or 'trim', not {fit!r}")
    return fit  # type: ignore[return-value]


class ContextGuard:
    """Token counts, loaded windows and fitting, for one Bridge."""

    def __init__(self, *, http: HTTPTransport, models: ModelManager) -> None:
        self._models = models
        self.calibration = Calibration()
        self._counter = TokenCounter(http, self.calibration)
        self._windows = ContextWindows(models=models, http=http)

    async def count_tokens(
        self, model: str, messages: MessagesArg, tools: Sequence[Mapping[str, Any]] | None
    ) -> TokenCount:
        """See :meth:`Bridge.count_tokens <lmbridge.Bridge.count_tokens>`."""
        name = await self._models.prepare(model, kind="llm")
        tokens, exact = await self._counter.count(name, normalize_messages(messages), tools)
        window = await self._windows.get(name)
        return TokenCount(tokens, exact, window.context_length, window.max_context_length)

    async def prepare_chat(
        self, model: str, body: dict[str, Any], fit: object, *, url: str
    ) -> tuple[dict[str, Any], PromptWindow]:
        """The body to send (trimmed with ``fit="trim"``) and its window.

        Raises:
            ContextLengthExceededError: with ``fit`` set, the prompt plus the reply's reserve
                cannot fit the loaded window (``"trim"``: even after trimming).
        """
        mode = check_fit(fit)
        if mode is None:
            # Nothing to check before sending: no listing, no load here (the request's own
            # guard loads, inside its observed call); the window is settled after the answer.
            name, context_length = model, self._windows.remembered(model)
        else:
            name = await self._models.prepare(model, kind="llm")
            context_length = (await self._windows.get(name)).context_length
        messages: list[dict[str, Any]] = body["messages"]
        tools = body.get("tools")
        reserve = reply_reserve(body.get("max_tokens"), context_length)
        tokens: int | None = None
        if mode is not None and context_length is not None:

            async def count(candidate: list[dict[str, Any]]) -> int:
                return (await self._counter.count(name, candidate, tools))[0]

            if mode == "error":
                tokens = await count(messages)
                if tokens + reserve > context_length:
                    raise errors.ContextLengthExceededError(
                        f"the prompt needs {tokens} tokens plus {reserve} for the reply, but the "
                        f"context window holds {context_length}; nothing was sent",
                        url=url,
                        model=name,
                        prompt_tokens=tokens,
                        context_length=context_length,
                    )
            else:
                fitted = await fit_messages(
                    messages,
                    count=count,
                    context_length=context_length,
                    reserve=reserve,
                    model=name,
                    url=url,
                )
                messages, tokens = fitted.messages, fitted.tokens
                body = {**body, "messages": messages}
        chars = prompt_chars(messages, tools)
        if tokens is None:
            tokens = self.calibration.estimate(name, chars)
        window = PromptWindow(name, chars, tokens, context_length, reserve, self.calibration)
        return body, window

    async def prepare_response(
        self, model: str, body: dict[str, Any], fit: object, *, url: str
    ) -> dict[str, Any]:
        """``/v1/responses``: the body with its ``input`` fitted (estimated counts only).

        Only the new ``input`` (and ``instructions``) is measured: a ``previous_response_id``'s
        history is on the server, out of reach.
        """
        if check_fit(fit) is None:
            return body
        proxies = input_as_messages(body.get("input"), body.get("instructions"))
        chat_body = {"messages": proxies, "max_tokens": body.get("max_output_tokens")}
        fitted, _ = await self.prepare_chat(model, chat_body, fit, url=url)
        if len(fitted["messages"]) == len(proxies):
            return body
        return {**body, "input": messages_as_input(body.get("input"), fitted["messages"])}

    async def settle(self, window: PromptWindow, sent_model: str) -> PromptWindow:
        """``window`` with the loaded context length, once the request was sent as
        ``sent_model``: from what is known without asking the server again (the listing the
        request path read, or an earlier look-up), so a plain chat costs no extra request."""
        if window.context_length is not None:
            return window
        context_length = self._windows.known(sent_model)
        if context_length is None:
            return window
        return replace(window, model=sent_model, context_length=context_length)

    def fitted(
        self, model: str, body: dict[str, Any], fit: object, *, url: str
    ) -> AbstractAsyncContextManager[tuple[dict[str, Any], PromptWindow]]:
        """:meth:`prepare_chat`, then watch the request: when the server says the prompt did not
        fit, fill in the figures its error left out and look the window up again next time (the
        model may have been reloaded with another context length since)."""
        return _Fitted(self, model, body, fit, url)


class _Fitted:
    """:meth:`ContextGuard.fitted`: a class, not a generator, as it wraps every chat (#18)."""

    __slots__ = ("_args", "_guard", "_window")

    def __init__(
        self, guard: ContextGuard, model: str, body: dict[str, Any], fit: object, url: str
    ) -> None:
        self._guard = guard
        self._args = (model, body, fit, url)
        self._window: PromptWindow | None = None

    async def __aenter__(self) -> tuple[dict[str, Any], PromptWindow]:
        model, body, fit, url = self._args
        body, window = await self._guard.prepare_chat(model, body, fit, url=url)
        self._window = window
        return body, window

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        window = self._window
        if isinstance(error, errors.ContextLengthExceededError) and window is not None:
            if error.context_length is None:
                error.context_length = window.context_length
            if error.prompt_tokens is None:
                error.prompt_tokens = window.prompt_tokens
            self._guard._windows.forget(window.model)
