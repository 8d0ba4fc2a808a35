"""``bridge.complete()`` and ``bridge.stream_complete()``: raw text continuation."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from typing_extensions import Unpack

from lmbridge.chat.observed import timed
from lmbridge.chat.requests import SamplingOptions, sampling_body
from lmbridge.chat.results import CompletionResult, completion_result
from lmbridge.chat.text_streams import CompletionStream
from lmbridge.chat.wire import TextCompletion
from lmbridge.endpoints.wiring import Wiring
from lmbridge.servers import Server

__all__ = ["CompletionCalls"]

_COMPLETIONS = "/v1/completions"


class CompletionCalls(Wiring):
    """``complete()`` and ``stream_complete()`` (a base of :class:`~lmbridge.Bridge`)."""

    async def complete(
        self, model: str, prompt: str, **options: Unpack[SamplingOptions]
    ) -> CompletionResult:
        """Continue raw text with no chat template (``POST /v1/completions``).

        Takes the sampling options of :meth:`chat` (see :class:`~lmbridge.SamplingOptions`).
        """
        body: dict[str, Any] = {"model": model, "prompt": prompt, **sampling_body(options)}

        async def on(server: Server) -> CompletionResult:
            name, answer, timing = await server.calls.post(
                _COMPLETIONS, body, TextCompletion, model=model, kind="llm", options=options
            )
            self._mismatch.check(name, answer.model)
            result = completion_result(answer, sent_model=name, url=server.http.url(_COMPLETIONS))
            return timed(result, timing, server=server.url)

        return await self._router.run(model, on)

    @asynccontextmanager
    async def stream_complete(
        self, model: str, prompt: str, **options: Unpack[SamplingOptions]
    ) -> AsyncIterator[CompletionStream]:
        """Stream :meth:`complete`: ``async with bridge.stream_complete(model, prompt) as s``.

        Iterate ``s`` for :class:`~lmbridge.TextDelta` and :class:`~lmbridge.UsageReport`
        events, then ``await s.result()`` for the :class:`~lmbridge.CompletionResult`. Leaving
        the block early, breaking out of the loop or cancelling the task closes the response.
        """
        body: dict[str, Any] = {"model": model, "prompt": prompt, **sampling_body(options)}
        body.update(stream=True, stream_options={"include_usage": True})
        async with AsyncExitStack() as stack:
            server, name, events = await self._open_events(
                stack, _COMPLETIONS, body, model, options
            )
            stream = CompletionStream(
                events,
                sent_model=name,
                url=server.http.url(_COMPLETIONS),
                mismatch=self._mismatch,
                server=server.url,
            )
            try:
                yield stream
            finally:
                await stream.aclose()
