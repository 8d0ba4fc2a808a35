"""OpenAI-compatible routes: ``/v1/models``, ``/v1/chat/completions``, ``/v1/completions``,
``/v1/embeddings`` (also reused by the ``/api/v0`` variants)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Literal

import anyio

from lmbridge.testing.context import SimContext
from lmbridge.testing.embeddings import embedding_inputs, encode_base64, pseudo_vector
from lmbridge.testing.exchange import (
    SimRequest,
    SimResponse,
    error_response,
    json_response,
    sse_data,
)
from lmbridge.testing.failures import SimError
from lmbridge.testing.overflow import overflow_answer
from lmbridge.testing.request_text import estimate_tokens, prompt_tokens
from lmbridge.testing.script import Reply, apply_limits
from lmbridge.testing.serving import (
    admit,
    error_payload,
    pick_reply,
    response_model_name,
    stream_response,
)
from lmbridge.testing.state import SimInstance
from lmbridge.testing.wire_chat import (
    ChatFrame,
    chat_body,
    chat_chunks,
    completion_body,
    completion_chunks,
)
from lmbridge.testing.wire_models import openai_model_row

__all__ = ["BodyExtras", "chat_completions", "completions", "embeddings", "generate", "list_models"]

BodyExtras = Callable[[SimInstance, Reply], dict[str, Any]]
"""Fields to add to a non-streamed body, e.g. the ``/api/v0`` stats."""


async def list_models(context: SimContext, request: SimRequest, body: Any) -> SimResponse:
    """``GET /v1/models``: every downloaded model with JIT on (plus extra instances), else loaded ones."""
    loaded = [inst.identifier for inst in context.state.instances]
    if context.settings.jit:
        ids = list(context.state.models) + [i for i in loaded if i not in context.state.models]
    else:
        ids = loaded
    return json_response({"object": "list", "data": [openai_model_row(i) for i in ids]})


def _validate_chat(body: dict[str, Any]) -> SimError | None:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return SimError.bad_request("'messages' field is required", param="messages")
    response_format = body.get("response_format")
    if isinstance(response_format, dict) and response_format.get("type") not in (
        "json_schema",
        "text",
    ):
        return SimError.json_object_rejected()
    return None


def _validate_completion(body: dict[str, Any]) -> SimError | None:
    if not isinstance(body.get("prompt"), (str, list)):
        return SimError.bad_request("'prompt' field is required", param="prompt")
    return None


def _validate_draft(context: SimContext, body: dict[str, Any]) -> SimError | None:
    draft = body.get("draft_model")
    if draft is None:
        return None
    if not isinstance(draft, str) or context.state.find_model(draft) is None:
        return SimError.bad_request(f"Draft model not found: {draft!r}", param="draft_model")
    return None


def _draft_stats(draft: str, usage: Any) -> dict[str, Any]:
    """The speculative-decoding stats LM Studio 0.3.10 added (1_developer/api-changelog.md)."""
    tokens = usage.get("completion_tokens", 0) if isinstance(usage, dict) else 0
    accepted = tokens * 2 // 3
    rejected = tokens - accepted
    return {
        "draft_model": draft,
        "total_draft_tokens_count": tokens + 1,
        "accepted_draft_tokens_count": accepted,
        "rejected_draft_tokens_count": rejected,
        "ignored_draft_tokens_count": 1,
    }


async def generate(
    context: SimContext,
    body: dict[str, Any],
    *,
    kind: Literal["chat", "completion"],
    extras: BodyExtras | None = None,
) -> SimResponse:
    """Serve a chat or legacy completion request, streamed or not.

    ``extras(inst, reply)`` may return fields to add to a non-streamed body (the ``/api/v0`` stats).
    """
    invalid = _validate_chat(body) if kind == "chat" else _validate_completion(body)
    if invalid is None:
        invalid = _validate_draft(context, body)
    if invalid is not None:
        return error_response(invalid)
    inst = await admit(context, body, kind="chat")
    if isinstance(inst, SimError):
        return error_response(inst)
    overflow = overflow_answer(context, inst, body) if kind == "chat" else None
    if overflow is not None:
        return overflow
    activity = inst.track("processingPrompt", now=context.now())
    handed_off = False
    try:
        reply = apply_limits(await pick_reply(context, inst, kind, body), body)
        if reply.error is not None:
            return error_response(reply.error)
        frame = ChatFrame(
            id=context.new_id("chatcmpl-" if kind == "chat" else "cmpl-"),
            created=int(time.time()),
            model=response_model_name(inst, reply),
            prompt_tokens=prompt_tokens(body),
            call_ids=tuple(call.id or context.next_call_id() for call in reply.tool_calls),
        )
        if body.get("stream"):
            options = body.get("stream_options")
            include_usage = isinstance(options, dict) and bool(options.get("include_usage"))
            chunks = (
                chat_chunks(frame, reply, include_usage=include_usage)
                if kind == "chat"
                else completion_chunks(frame, reply, include_usage=include_usage)
            )
            response = stream_response(
                context,
                inst,
                activity,
                reply,
                [sse_data(chunk) for chunk in chunks],
                done=sse_data("[DONE]"),
                error_event=lambda message: sse_data(error_payload(message)),
            )
            handed_off = True
            return response
        if reply.delay > 0:
            await anyio.sleep(reply.delay)
        activity.switch("generating")
        payload = chat_body(frame, reply) if kind == "chat" else completion_body(frame, reply)
        if extras is not None:
            payload.update(extras(inst, reply))
        if isinstance(body.get("draft_model"), str):
            stats = payload.setdefault("stats", {})
            stats.update(_draft_stats(body["draft_model"], payload.get("usage")))
        return json_response(payload)
    finally:
        if not handed_off:
            activity.finish(now=context.now())


async def chat_completions(context: SimContext, request: SimRequest, body: Any) -> SimResponse:
    """``POST /v1/chat/completions``."""
    return await generate(context, body, kind="chat")


async def completions(context: SimContext, request: SimRequest, body: Any) -> SimResponse:
    """``POST /v1/completions`` (legacy, no prompt template)."""
    return await generate(context, body, kind="completion")


def _embedding_model_name(inst: SimInstance, reply: Reply) -> str:
    if reply.model is not None:
        return reply.model
    if inst.model.variant_in_response and "@" not in inst.identifier:
        return f"{inst.identifier}@{inst.model.quantization.lower()}"
    return inst.identifier


async def embeddings(context: SimContext, request: SimRequest, body: Any) -> SimResponse:
    """``POST /v1/embeddings``: deterministic pseudo-vectors, ``float`` or ``base64`` encoded."""
    texts = embedding_inputs(body.get("input"))
    if texts is None:
        return error_response(SimError.bad_request("'input' field is required", param="input"))
    inst = await admit(context, body, kind="embedding")
    if isinstance(inst, SimError):
        return error_response(inst)
    activity = inst.track("computingEmbedding", now=context.now())
    try:
        reply = await pick_reply(context, inst, "embedding", body)
        if reply.error is not None:
            return error_response(reply.error)
        if reply.delay > 0:
            await anyio.sleep(reply.delay)
        base64_format = body.get("encoding_format") == "base64"
        data = []
        for index, text in enumerate(texts):
            vector = pseudo_vector(text, dimensions=inst.model.embedding_dimensions, salt=inst.key)
            encoded: Any = encode_base64(vector) if base64_format else vector
            data.append({"object": "embedding", "embedding": encoded, "index": index})
        tokens = sum(max(1, estimate_tokens(text)) for text in texts)
        return json_response(
            {
                "object": "list",
                "data": data,
                "model": _embedding_model_name(inst, reply),
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            }
        )
    finally:
        activity.finish(now=context.now())
