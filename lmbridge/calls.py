"""The path every model call takes below the Bridge: the model guard, observed.

:meth:`ModelCalls.guarded` runs a request with its model loaded, heals one "not loaded" answer
and retries once; :meth:`ModelCalls.post` sends a JSON request that way inside a
:func:`~lmbridge.chat.observed.observe_call` (events, span, timing). The Bridge builds one and
calls down into it; it calls nothing back up.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from contextlib import AsyncExitStack
from typing import Any, TypeVar

from pydantic import BaseModel

from lmbridge.chat.observed import Operation, observe_call
from lmbridge.events import EventEmitter, Timing
from lmbridge.lifecycle.guard import guarded
from lmbridge.lifecycle.models import ModelManager
from lmbridge.lifecycle.types import RequestKind
from lmbridge.transport.client import HTTPTransport, decode_body

__all__ = ["ModelCalls"]

T = TypeVar("T")
B = TypeVar("B", bound=BaseModel)

_OPERATIONS: dict[str, Operation] = {
    "/v1/embeddings": "embeddings",
    "/v1/completions": "text_completion",
    "/v1/responses": "responses",
}


class ModelCalls:
    """Sends requests that name a model: loaded first, healed once, observed.

    Args:
        http: the transport.
        models: the model manager that prepares, heals and diagnoses.
        events: where the calls are reported.
    """

    def __init__(self, *, http: HTTPTransport, models: ModelManager, events: EventEmitter) -> None:
        self._http = http
        self._models = models
        self._events = events

    async def guarded(
        self,
        model: str,
        kind: RequestKind,
        call: Callable[[str], Awaitable[T]],
        *,
        hold: AsyncExitStack | None = None,
    ) -> T:
        """Run ``call(name)`` with the model loaded; heal one "not loaded" answer, retry once.

        ``name`` is the identifier to send (``"gemma"`` resolved to the key LM Studio knows).
        The request counts as running on its model (the swap scheduler does not unload it) until
        ``call`` returns, or with ``hold`` until ``hold`` closes (a stream, while it is read).
        See :func:`lmbridge.lifecycle.guard.guarded`.
        """
        return await guarded(self._models, model, kind, call, hold=hold)

    async def post(
        self,
        path: str,
        body: Mapping[str, Any],
        into: type[B],
        *,
        model: str,
        kind: RequestKind,
        options: Mapping[str, Any],
    ) -> tuple[str, B, Timing]:
        """POST ``body`` for ``model`` under the model guard, observed: the name sent, the
        answer, and the call's timing."""

        async def send(name: str) -> tuple[str, B]:
            call.sending(name)
            response = await self._http.request(
                "POST",
                path,
                body={**body, "model": name},
                model=name,
                timeout=options.get("timeout"),
                max_retries=options.get("max_retries"),
            )
            call.first_token()  # the whole answer: its first token reached us now
            return name, decode_body(response, into, model=name)

        operation = _OPERATIONS.get(path, "chat")
        async with observe_call(
            self._events, operation=operation, model=model, path=path, body=body
        ) as call:
            name, answer = await self.guarded(model, kind, send)
            return name, answer, call.answered(answer)
