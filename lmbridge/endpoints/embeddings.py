"""``bridge.embed()``: embeddings, batched, each batch routed on its own."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import anyio
from typing_extensions import Unpack

from lmbridge.chat.observed import timed
from lmbridge.chat.requests import RequestOptions, embedding_body
from lmbridge.chat.results import EmbeddingResult, embedding_result
from lmbridge.chat.wire import EmbeddingResponse, Usage
from lmbridge.endpoints.wiring import Wiring
from lmbridge.servers import Server

__all__ = ["EMBED_CONCURRENCY", "EmbeddingCalls"]

EMBED_CONCURRENCY = 4
"""The most embedding batches in flight at once (a local server runs few requests in parallel)."""

_EMBEDDINGS = "/v1/embeddings"


class EmbeddingCalls(Wiring):
    """``embed()`` (a base of :class:`~lmbridge.Bridge`)."""

    async def embed(
        self,
        model: str,
        input: str | Sequence[str],
        *,
        encoding_format: Literal["float", "base64"] = "float",
        dimensions: int | None = None,
        batch_size: int | None = None,
        **options: Unpack[RequestOptions],
    ) -> EmbeddingResult:
        """Embed one text or several (``POST /v1/embeddings``); vectors come back in input order.

        ``encoding_format="base64"`` moves less data; the vectors are decoded either way.
        ``batch_size``: send at most this many texts per request (default: all in one); the
        batches go concurrently, at most :data:`EMBED_CONCURRENCY` at once, and the vectors come
        back in input order with the usage summed. ``options``: ``timeout``, ``max_retries``,
        ``extra_body`` (see :class:`~lmbridge.RequestOptions`).
        """
        texts = [input] if isinstance(input, str) else list(input)
        if batch_size is not None and (isinstance(batch_size, bool) or batch_size < 1):
            raise ValueError("batch_size must be a positive int (or None: one request)")
        size = batch_size or max(len(texts), 1)
        batches = [texts[i : i + size] for i in range(0, len(texts), size)] or [texts]
        results: list[EmbeddingResult | None] = [None] * len(batches)
        failures: list[Exception] = []
        limiter = anyio.CapacityLimiter(EMBED_CONCURRENCY)

        async def one(index: int, batch: list[str]) -> None:
            async with limiter:
                try:
                    results[index] = await self._embed_batch(
                        model, batch, encoding_format, dimensions, options
                    )
                except Exception as exc:  # raised below as itself, not in an ExceptionGroup
                    failures.append(exc)

        async with anyio.create_task_group() as group:
            for index, batch in enumerate(batches):
                group.start_soon(one, index, batch)
        if failures:
            raise failures[0]
        return _merge([r for r in results if r is not None])

    async def _embed_batch(
        self,
        model: str,
        texts: list[str],
        encoding_format: Literal["float", "base64"],
        dimensions: int | None,
        options: Mapping[str, Any],
    ) -> EmbeddingResult:
        body = embedding_body(
            model,
            texts,
            encoding_format=encoding_format,
            dimensions=dimensions,
            extra_body=options.get("extra_body"),
        )

        async def on(server: Server) -> EmbeddingResult:
            name, answer, timing = await server.calls.post(
                _EMBEDDINGS, body, EmbeddingResponse, model=model, kind="embedding", options=options
            )
            url = server.http.url(_EMBEDDINGS)
            result = embedding_result(answer, count=len(texts), sent_model=name, url=url)
            self._mismatch.check(name, answer.model)
            return timed(result, timing, server=server.url)

        return await self._router.run(model, on)


def _merge(results: list[EmbeddingResult]) -> EmbeddingResult:
    """One result from the batches' results, in batch order, usage summed."""
    if len(results) == 1:
        return results[0]
    usages = [r.usage for r in results if r.usage is not None]
    usage = None
    if usages:
        usage = Usage(
            prompt_tokens=sum(u.prompt_tokens for u in usages),
            completion_tokens=sum(u.completion_tokens for u in usages),
            total_tokens=sum(u.total_tokens for u in usages),
        )
    first = results[0]
    return EmbeddingResult(
        vectors=[vector for r in results for vector in r.vectors],
        model=first.model,
        sent_model=first.sent_model,
        usage=usage,
        raw=None,
        server=first.server,  # batches may be spread over servers: the first one's
    )
