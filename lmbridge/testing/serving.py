"""Serving one model request: which instance answers (JIT included), which reply, and streaming it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any, Literal

import anyio

from lmbridge.testing.context import SimContext
from lmbridge.testing.exchange import SSE_HEADERS, ConnectionDropped, SimResponse, SimStream
from lmbridge.testing.failures import SimError
from lmbridge.testing.script import ANY_MODEL, Reply, RequestKind, default_reply
from lmbridge.testing.state import RequestActivity, SimInstance, SimLoadError

__all__ = [
    "error_payload",
    "failure_names",
    "not_loaded_error",
    "pick_reply",
    "resolve_instance",
    "response_model_name",
    "stream_response",
    "unknown_model_error",
]

_UNLOADED_MESSAGE = "The model was unloaded while generating."


def _dedupe(names: Sequence[str | None]) -> list[str]:
    out: list[str] = []
    for name in names:
        if name is not None and name not in out:
            out.append(name)
    return out


def failure_names(context: SimContext, requested: str | None) -> list[str]:
    """Names under which injected failures for a request are looked up, most specific first."""
    if requested is None:
        return [ANY_MODEL]
    model = context.state.find_model(requested)
    return _dedupe([requested, model.key if model else None, ANY_MODEL])


def not_loaded_error(context: SimContext) -> SimError:
    """The configured "No models loaded" variant."""
    style = context.settings.not_loaded_error
    if style == "plain_text":
        return SimError.no_models_loaded_v035()
    if style == "string":
        return SimError.no_models_loaded_string()
    return SimError.no_models_loaded()


def unknown_model_error(context: SimContext, name: str) -> SimError:
    """The configured unknown-model variant."""
    available = list(context.state.models)
    if context.settings.unknown_model_error == "not_found_404":
        return SimError.model_not_found_v035(name, available)
    return SimError.invalid_model_identifier(name, available)


async def _jit_load(context: SimContext, key: str, body: dict[str, Any]) -> SimInstance | SimError:
    ttl = body.get("ttl")
    if not isinstance(ttl, (int, float)) or isinstance(ttl, bool) or ttl <= 0:
        ttl = context.settings.default_jit_ttl
    delay = context.settings.load_delay
    if delay > 0:
        done_at = context.state.clock() + delay
        try:
            await anyio.sleep(delay)
        except anyio.get_cancelled_exc_class():
            # The client went away: LM Studio finishes the load all the same.
            context.state.finish_later(key, at=done_at, ttl=ttl, via="jit")
            raise
    try:
        return context.state.load(key, ttl=ttl, via="jit")
    except SimLoadError as exc:
        return SimError.load_failed(key, exc.message)


async def admit(
    context: SimContext, body: dict[str, Any], *, kind: Literal["chat", "embedding"]
) -> SimInstance | SimError:
    """The instance that serves ``body``, or the error to answer with instead.

    An injected failure (``sim.fail_next``) comes first, as a server error would; then the
    model is resolved (and JIT-loaded if allowed) by :func:`resolve_instance`.
    """
    requested = body.get("model") if isinstance(body.get("model"), str) else None
    failure = context.scripts.take_failure(failure_names(context, requested))
    if failure is not None:
        return failure
    return await resolve_instance(context, requested, kind=kind, body=body)


async def resolve_instance(
    context: SimContext,
    requested: str | None,
    *,
    kind: Literal["chat", "embedding"],
    body: dict[str, Any],
) -> SimInstance | SimError:
    """The instance that answers a request, JIT-loading it if allowed; else the error LM Studio sends."""
    state = context.state
    loaded = state.instances
    if not requested:
        wanted = [inst for inst in loaded if inst.model.is_embedding == (kind == "embedding")]
        if len(wanted) == 1:
            return wanted[0]
        if len(wanted) > 1:
            return SimError.multiple_models_loaded()
        return SimError.no_embedding_model() if kind == "embedding" else not_loaded_error(context)
    if context.settings.one_model_answers_all and len(loaded) == 1:
        inst: SimInstance | None = loaded[0]
    else:
        inst = state.resolve_loaded(requested)
    if inst is None:
        model = state.find_model(requested)
        if model is None:
            return unknown_model_error(context, requested)
        if not context.settings.jit:
            return not_loaded_error(context)
        jit = await _jit_load(context, model.key, body)
        if isinstance(jit, SimError):
            return jit
        inst = jit
    if kind == "embedding" and not inst.model.is_embedding:
        return SimError.wrong_model_type(inst.identifier, wanted="embedding")
    if kind == "chat" and inst.model.is_embedding:
        return SimError.wrong_model_type(inst.identifier, wanted="llm")
    return inst


async def pick_reply(
    context: SimContext, inst: SimInstance, kind: RequestKind, body: dict[str, Any]
) -> Reply:
    """The scripted reply for this instance, else its responder's, else the default."""
    names = _dedupe([inst.identifier, inst.key, ANY_MODEL])
    reply = await context.scripts.next_reply(names, body)
    if reply is not None:
        return reply
    if kind == "embedding":
        return Reply()
    return default_reply(inst.model, kind, body)


def response_model_name(inst: SimInstance, reply: Reply | None = None) -> str:
    """The ``model`` a response names: the reply's override, else the instance identifier."""
    if reply is not None and reply.model is not None:
        return reply.model
    return inst.identifier


def error_payload(message: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": "server_error", "param": None, "code": None}}


def stream_response(
    context: SimContext,
    inst: SimInstance,
    activity: RequestActivity,
    reply: Reply,
    events: Sequence[bytes],
    *,
    done: bytes | None,
    error_event: Callable[[str], bytes],
) -> SimResponse:
    """An SSE response that sends ``events`` with the reply's delays, cuts and faults.

    The instance shows ``processingPrompt`` during ``reply.delay`` and ``generating`` while chunks
    flow; the activity ends when the stream ends, however it ends. If the instance is unloaded mid-stream
    the stream ends with an error event, as when LM Studio evicts a model during a generation.
    """

    async def chunks() -> AsyncIterator[bytes]:
        if reply.delay > 0:
            await anyio.sleep(reply.delay)
        activity.switch("generating")
        for index, event in enumerate(events):
            if reply.stream_error is not None and index >= reply.stream_error:
                yield error_event(reply.stream_error_message)
                return
            if reply.stop_after_chunks is not None and index >= reply.stop_after_chunks:
                break
            if index and reply.chunk_delay > 0:
                await anyio.sleep(reply.chunk_delay)
            if not inst.loaded:
                yield error_event(_UNLOADED_MESSAGE)
                return
            yield event
        else:
            if reply.stream_error is not None:
                yield error_event(reply.stream_error_message)
                return
        if reply.drop_connection:
            raise ConnectionDropped("simulated connection drop")
        if done is not None and not reply.omit_done:
            yield done

    def on_end(completed: bool) -> None:
        activity.finish(now=context.now())

    return SimResponse(200, list(SSE_HEADERS), SimStream(chunks(), on_end=on_end))
