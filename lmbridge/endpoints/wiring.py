"""What every call of the facade shares: the attributes it reads, images, validation re-asks,
and opening a routed event stream.

The facade's calls beyond chat live beside this module (``embeddings``, ``completions``,
``responses``); :class:`~lmbridge.Bridge` inherits them all through
:class:`~lmbridge.endpoints.EndpointCalls`, so they are Bridge methods that run through the same
routing, model guard and transport as ``chat()``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AsyncExitStack
from typing import Any, TypeVar

from lmbridge import errors
from lmbridge.chat.assemble import result_from_completion
from lmbridge.chat.images import attach_images, resolve_images
from lmbridge.chat.observed import timed
from lmbridge.chat.repair import DEFAULT_VALIDATION_RETRIES, StructuredRetry, check_retries
from lmbridge.chat.requests import MessagesArg, normalize_messages
from lmbridge.chat.results import ChatResult, MismatchWarnings
from lmbridge.chat.structured import ResponseFormat
from lmbridge.chat.wire import ChatCompletion
from lmbridge.lifecycle.vision import check_vision, vision_error_from_server
from lmbridge.servers import BridgeModels, Router, Server
from lmbridge.transport.client import HTTPTransport
from lmbridge.transport.sse import ServerSentEvent

__all__ = ["CHAT", "Events", "Wiring"]

T = TypeVar("T")

CHAT = "/v1/chat/completions"

Events = AsyncIterator[list[ServerSentEvent]]


class Wiring:
    """The facade's shared parts (a base of :class:`~lmbridge.Bridge`)."""

    _http: HTTPTransport
    models: BridgeModels
    _mismatch: MismatchWarnings
    _router: Router

    # --- images -------------------------------------------------------------------------------

    async def check_vision(self, model: str) -> None:
        """Check, from the model listing, that ``model`` accepts images.

        ``chat``/``stream``/``run_agent`` call it before sending images. A listing that does
        not say (``/v1/models`` only: llama.cpp, vLLM) passes; the server answers.

        Raises:
            WrongModelTypeError: the listing says it cannot see; ``vision_models`` names the
                loaded vision models (or, when none is loaded, the downloaded ones).
        """
        await check_vision(self.models, model)

    async def _with_images(
        self, model: str, messages: MessagesArg, options: Mapping[str, Any]
    ) -> tuple[list[dict[str, Any]], bool]:
        """The messages with ``images`` attached and every image encoded; whether any is sent.

        The model is checked for vision first, so nothing is read or downloaded for a model
        that cannot see.
        """
        normalized, has_images = attach_images(normalize_messages(messages), options.get("images"))
        if not has_images:
            return normalized, False
        await self.check_vision(model)
        return await resolve_images(normalized), True

    async def _images_refused(self, call: Awaitable[T], model: str, images: bool) -> T:
        """``await call``; a server's "this model takes no images" becomes a clear error."""
        try:
            return await call
        except errors.APIStatusError as exc:
            clear = vision_error_from_server(exc, model) if images else None
            if clear is None:
                raise
            raise clear from exc

    # --- structured output --------------------------------------------------------------------

    def _validation(
        self,
        server: Server,
        model: str,
        body: Mapping[str, Any],
        response_format: ResponseFormat | None,
        options: Mapping[str, Any],
    ) -> StructuredRetry:
        """The validation (and re-asks, on ``server``) of one chat request's replies."""
        retries = check_retries(options.get("validation_retries", DEFAULT_VALIDATION_RETRIES))
        url = server.http.url(CHAT)

        async def ask(again: dict[str, Any]) -> ChatResult[Any]:
            name, completion, timing = await server.calls.post(
                CHAT, again, ChatCompletion, model=model, kind="llm", options=options
            )
            result = result_from_completion(completion, sent_model=name, url=url)
            return timed(result, timing, server=server.url)

        return StructuredRetry(
            response_format=response_format,
            retries=retries if response_format is not None else 0,
            body=body,
            ask=ask,
            url=url,
            mismatch=self._mismatch,
        )

    async def _open_events(
        self,
        stack: AsyncExitStack,
        path: str,
        body: Mapping[str, Any],
        model: str,
        options: Mapping[str, Any],
        *,
        pin: Server | None = None,
        prepare: Callable[[Server, dict[str, Any]], Awaitable[dict[str, Any]]] | None = None,
    ) -> tuple[Server, str, Events]:
        """Open an SSE stream for ``model`` under the model guard on the server the router
        chooses (the next one if it cannot be reached), closed with ``stack``; ``prepare``
        makes the body for that server (e.g. fits it into its loaded context window)."""

        async def open_on(server: Server) -> tuple[Server, str, Events]:
            sent = body if prepare is None else await prepare(server, dict(body))
            async with AsyncExitStack() as attempt:

                async def open_stream(name: str) -> tuple[str, Events]:
                    opening = server.http.stream_events(
                        path,
                        {**sent, "model": name},
                        model=name,
                        timeout=options.get("timeout"),
                        max_retries=options.get("max_retries"),
                    )
                    return name, await attempt.enter_async_context(opening)

                name, events = await server.calls.guarded(model, "llm", open_stream, hold=attempt)
                stack.push_async_exit(attempt.pop_all())
            return server, name, events

        return await self._router.run(model, open_on, hold=stack, pin=pin)
