"""The :class:`Bridge` facade: one object for chat, streams, embeddings, models and agents."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, TypeVar, overload

import httpx
from pydantic import BaseModel
from typing_extensions import Unpack

from lmbridge.calls import ModelCalls
from lmbridge.chat.assemble import result_from_completion
from lmbridge.chat.observed import observe_call, timed
from lmbridge.chat.repair import DEFAULT_VALIDATION_RETRIES
from lmbridge.chat.requests import (
    ChatOptions,
    MessagesArg,
    RequestOptions,
    chat_body,
)
from lmbridge.chat.responses import build_responses_body, result_from_response
from lmbridge.chat.results import (
    ChatResult,
    MismatchWarnings,
    ResponseResult,
)
from lmbridge.chat.streams import ChatStream
from lmbridge.chat.structured import ResponseFormat
from lmbridge.chat.wire import ChatCompletion, ResponseObject
from lmbridge.context import ContextGuard, FitMode, TokenCount
from lmbridge.endpoints import EndpointCalls
from lmbridge.events import EventEmitter, Hook, ModelUsage, UsageTracker
from lmbridge.lifecycle.lms import LmsCli
from lmbridge.lifecycle.models import ModelManager
from lmbridge.lifecycle.scheduler import MemoryPolicy
from lmbridge.telemetry import otel_tracer
from lmbridge.transport.client import (
    DEFAULT_TIMEOUT,
    HTTPTransport,
    TimeoutArg,
    merge_timeout,
    normalize_base_url,
)
from lmbridge.transport.retry import RetryPolicy

if TYPE_CHECKING:
    from lmbridge.agent.options import AgentSettings
    from lmbridge.agent.result import AgentResult
    from lmbridge.agent.run import AgentRun

__all__ = ["Bridge"]

M = TypeVar("M", bound=BaseModel)

_CHAT = "/v1/chat/completions"
_EMBEDDINGS = "/v1/embeddings"


class Bridge(EndpointCalls):
    """An async client for LM Studio and any OpenAI-compatible server.

    Safe to share across any number of concurrent tasks. Use it as an async context manager, or
    call :meth:`aclose` when done.

    Args:
        base_url: the server, with or without a trailing ``/v1``; default: env
            ``LMBRIDGE_BASE_URL``, else ``http://localhost:1234``.
        api_token: sent as a Bearer token; default: env ``LM_API_TOKEN`` (or the older
            ``LMSTUDIO_API_TOKEN``). Never shown in reprs, logs or errors.
        timeout: seconds (the read timeout: the longest wait for the next byte) or an
            ``httpx.Timeout``. Default: connect 5 s, read 600 s.
        max_retries: retries of connection errors and 408/409/429/5xx answers (see
            :class:`~lmbridge.RetryPolicy`); settable per call too.
        retry_policy: full control over retries (overrides ``max_retries``).
        http_client: an ``httpx.AsyncClient`` to use as-is; lmbridge does not close it.
        transport: an ``httpx`` transport for the client lmbridge creates, e.g.
            ``SimulatedLMStudio().transport()``.
        auto_load: make sure a model is loaded before each request, and heal "not loaded"
            answers by loading it and retrying once. ``False``: never load anything.
        lms_path: where the ``lms`` CLI is (default: found automatically).
        load_timeout: the budget for loading one model, separate from request timeouts.
        confirm_ttl: how long (s) a "this model is loaded" check is reused on the request path.
        listing_ttl: how long (s) a model listing is cached.
        warn_on_model_mismatch: warn (:class:`~lmbridge.ModelMismatchWarning`) when the server
            answers with another model than the one asked for.
        max_body_bytes: the cap on a non-streamed answer (``None``: 32 MiB; see the errors page).
        event_hooks: functions (sync or async) called with every :data:`~lmbridge.Event`; one
            that raises is logged, never fatal. See the Observability docs page.
        instrument: OpenTelemetry spans and metrics (GenAI conventions; the ``otel`` extra).
        log_content: let prompt and reply text into DEBUG logs and spans (off: never).
        on_insufficient_memory: ``"swap"``: a load that runs out of memory waits for a model this
            Bridge loaded to be free, unloads it and loads again (see "Model lifecycle");
            ``"raise"``: :class:`~lmbridge.InsufficientMemoryError` at once.
        evict_foreign: let swapping unload models this Bridge did not load.
    """

    def __init__(
        self,
        base_url: str | None = None,
        *,
        api_token: str | None = None,
        timeout: TimeoutArg = None,
        max_retries: int = 2,
        retry_policy: RetryPolicy | None = None,
        http_client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        auto_load: bool = True,
        lms_path: str | os.PathLike[str] | None = None,
        load_timeout: float = 600.0,
        confirm_ttl: float = 10.0,
        listing_ttl: float = 2.0,
        warn_on_model_mismatch: bool = True,
        max_body_bytes: int | None = None,
        event_hooks: Sequence[Hook] = (),
        instrument: bool = False,
        log_content: bool = False,
        on_insufficient_memory: MemoryPolicy = "swap",
        evict_foreign: bool = False,
    ) -> None:
        self._usage = UsageTracker()
        tracer = otel_tracer(normalize_base_url(base_url)) if instrument else None
        self._events = EventEmitter(
            hooks=event_hooks,
            listeners=[self._usage.observe],
            tracer=tracer,
            log_content=log_content,
        )
        token = api_token or os.environ.get("LM_API_TOKEN") or os.environ.get("LMSTUDIO_API_TOKEN")
        self._http = HTTPTransport(
            base_url=base_url,
            api_token=token,
            timeout=merge_timeout(DEFAULT_TIMEOUT, timeout),
            retry=retry_policy or RetryPolicy(max_retries=max_retries),
            http_client=http_client,
            transport=transport,
            max_body_bytes=max_body_bytes,
            events=self._events,
        )
        self.lms = LmsCli(path=lms_path)
        """The ``lms`` CLI runner this Bridge uses."""
        self.models = ModelManager(
            rest=self._http,
            lms=self.lms,
            auto_load=auto_load,
            listing_ttl=listing_ttl,
            confirm_ttl=confirm_ttl,
            load_timeout=load_timeout,
            events=self._events,
            on_insufficient_memory=on_insufficient_memory,
            evict_foreign=evict_foreign,
        )
        """Model lifecycle: ``list``, ``loaded``, ``get``, ``ensure_loaded``, ``unload``."""
        self._calls = ModelCalls(http=self._http, models=self.models, events=self._events)
        self._mismatch = MismatchWarnings(enabled=warn_on_model_mismatch)
        self._context = ContextGuard(http=self._http, models=self.models)

    @property
    def base_url(self) -> str:
        """The server's root URL (without ``/v1``)."""
        return self._http.base_url

    @property
    def http(self) -> HTTPTransport:
        """The transport: raw JSON requests to any path of the server."""
        return self._http

    def __repr__(self) -> str:
        return f"Bridge({self.base_url!r})"  # the transport took any password out of it

    def usage(self) -> Mapping[str, ModelUsage]:
        """Per model since this Bridge was made: calls, tokens, speed, loads, heals."""
        return self._usage.report()

    async def __aenter__(self) -> Bridge:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool (a user-supplied ``http_client`` is left open)."""
        await self._http.aclose()

    # --- chat ----------------------------------------------------------------------------

    @overload
    async def chat(
        self,
        model: str,
        messages: MessagesArg,
        *,
        response_format: type[M],
        **options: Unpack[ChatOptions],
    ) -> ChatResult[M]: ...

    @overload
    async def chat(
        self,
        model: str,
        messages: MessagesArg,
        *,
        response_format: Mapping[str, Any] | None = None,
        **options: Unpack[ChatOptions],
    ) -> ChatResult[Any]: ...

    async def chat(
        self,
        model: str,
        messages: MessagesArg,
        *,
        response_format: ResponseFormat | None = None,
        **options: Unpack[ChatOptions],
    ) -> ChatResult[Any]:
        """Ask ``model`` for a reply (``POST /v1/chat/completions``).

        Args:
            model: the model key or instance identifier.
            messages: a string (one user message), a :class:`~lmbridge.Message`, or a list of
                messages (dicts in OpenAI chat format, ``Message`` objects, earlier results).
            response_format: a pydantic model class (the result's ``parsed`` is an instance), a
                JSON schema, or an OpenAI ``response_format`` dict.
            **options: see :class:`~lmbridge.ChatOptions`: ``temperature``, ``max_tokens``,
                ``top_p``, ``top_k``, ``stop``, ``seed``, ``tools``, ``tool_choice``, ``ttl``,
                ``validation_retries`` (default 1), ``images``, ``timeout``, ``max_retries``,
                ``extra_body``, ``fit`` (see "Context windows").

        Raises:
            StructuredOutputError: no reply parsed into ``response_format`` (``attempts`` holds
                each try), or the reply was cut at ``max_tokens`` (``truncated``).
            WrongModelTypeError: images for a model that cannot see.
            LMBridgeError: any other failure, typed (see the errors table).
        """
        messages, images = await self._with_images(model, messages, options)
        body = chat_body(model, messages, response_format=response_format, options=options)
        url = self._http.url(_CHAT)
        async with self._context.fitted(model, body, options.get("fit"), url=url) as (body, window):
            validation = self._validation(model, body, response_format, options)
            name, completion, timing = await self._images_refused(
                self._calls.post(
                    _CHAT, body, ChatCompletion, model=model, kind="llm", options=options
                ),
                model,
                images,
            )
            window = await self._context.settle(window, name)
        result = timed(result_from_completion(completion, sent_model=name, url=url), timing)
        return window.finish(await validation.finish(result))

    @asynccontextmanager
    async def stream(
        self,
        model: str,
        messages: MessagesArg,
        *,
        response_format: ResponseFormat | None = None,
        **options: Unpack[ChatOptions],
    ) -> AsyncIterator[ChatStream[Any]]:
        """Stream a reply: ``async with bridge.stream(model, messages) as s: async for event in s``.

        Takes the same options as :meth:`chat`. Events are :class:`~lmbridge.TextDelta`,
        :class:`~lmbridge.ReasoningDelta`, :class:`~lmbridge.ToolCallDelta`,
        :class:`~lmbridge.ToolCallReady` and :class:`~lmbridge.UsageReport` (and, with a
        ``response_format``, :class:`~lmbridge.PartialParsed`); ``await s.result()`` gives the
        :class:`~lmbridge.ChatResult`. The streamed reply is the first attempt: if it does not
        validate, ``result()`` asks again without streaming, ``validation_retries`` times.
        Leaving the block early, breaking out of the loop or cancelling the task closes the
        response.
        """
        messages, images = await self._with_images(model, messages, options)
        body = chat_body(model, messages, response_format=response_format, options=options)
        timeout, max_retries = options.get("timeout"), options.get("max_retries")
        url = self._http.url(_CHAT)
        observed = observe_call(
            self._events, operation="chat", model=model, path=_CHAT, stream=True, body=body
        )
        async with observed as call, AsyncExitStack() as stack:
            fitted = self._context.fitted(model, body, options.get("fit"), url=url)
            body, window = await stack.enter_async_context(fitted)
            # Re-asks after a reply that does not validate are sent without streaming.
            validation = self._validation(model, body, response_format, options)
            body = {**body, "stream": True, "stream_options": {"include_usage": True}}

            async def open_stream(name: str) -> tuple[str, Any]:
                call.sending(name)
                events = await stack.enter_async_context(
                    self._http.stream_events(
                        _CHAT,
                        {**body, "model": name},
                        model=name,
                        timeout=timeout,
                        max_retries=max_retries,
                    )
                )
                return name, events

            guarded = self._calls.guarded(model, "llm", open_stream, hold=stack)
            name, events = await self._images_refused(guarded, model, images)
            window = await self._context.settle(window, name)
            stream: ChatStream[Any] = ChatStream(
                events,
                sent_model=name,
                url=url,
                response_format=response_format,
                mismatch=self._mismatch,
                observer=call,
                window=window,
                validation=validation,
            )
            try:
                yield stream
            finally:
                await stream.aclose()

    # --- other endpoints -------------------------------------------------------------------

    async def respond(
        self,
        model: str,
        input: str | Sequence[Mapping[str, Any]],
        *,
        previous_response_id: str | None = None,
        instructions: str | None = None,
        tools: Sequence[Mapping[str, Any]] | None = None,
        reasoning_effort: Literal["low", "medium", "high"] | None = None,
        temperature: float | None = None,
        max_output_tokens: int | None = None,
        fit: FitMode | None = None,
        response_format: ResponseFormat | None = None,
        validation_retries: int = DEFAULT_VALIDATION_RETRIES,
        **options: Unpack[RequestOptions],
    ) -> ResponseResult:
        """Use the stateful Responses API (``POST /v1/responses``, LM Studio 0.3.29+).

        Pass the returned ``id`` as ``previous_response_id`` to continue. ``tools`` may be in
        chat format (``{"type": "function", "function": {...}}``): they are flattened to the
        format this endpoint requires. ``response_format`` and ``validation_retries`` work as
        in :meth:`chat` (``parsed`` holds the object); a reply in plain prose raises
        :class:`~lmbridge.StructuredOutputIgnoredError` (some LM Studio versions ignore the
        schema here). ``fit`` works as in :meth:`chat` on ``input`` (with a
        ``previous_response_id``, the server's history is not counted). ``options``:
        ``timeout``, ``max_retries``, ``extra_body`` (see :class:`~lmbridge.RequestOptions`).
        """
        body = build_responses_body(
            model,
            input,
            previous_response_id=previous_response_id,
            instructions=instructions,
            tools=tools,
            reasoning_effort=reasoning_effort,
            temperature=temperature,
            max_output_tokens=max_output_tokens,
            extra_body=options.get("extra_body"),
            response_format=response_format,
        )
        url = self._http.url("/v1/responses")
        body = await self._context.prepare_response(model, body, fit, url=url)
        model, parsed, timing = await self._calls.post(
            "/v1/responses", body, ResponseObject, model=model, kind="llm", options=options
        )
        self._mismatch.check(model, parsed.model)
        result = timed(result_from_response(parsed, sent_model=model), timing)
        if response_format is None:
            return result
        return await self._structured_response(
            result,
            body,
            response_format=response_format,
            validation_retries=validation_retries,
            options=options,
        )

    async def count_tokens(
        self,
        model: str,
        messages: MessagesArg,
        *,
        tools: Sequence[Mapping[str, Any]] | None = None,
    ) -> TokenCount:
        """The prompt's tokens (exact where the server can count, else an estimate that learns)
        and the **loaded** context window it must fit; see the "Context windows" docs page."""
        return await self._context.count_tokens(model, messages, tools)

    # --- agents ----------------------------------------------------------------------------

    async def run_agent(
        self,
        model: str,
        task: MessagesArg,
        *,
        tools: Sequence[Any] | Mapping[str, Any] = (),
        **options: Unpack[AgentSettings],
    ) -> AgentResult:
        """Run ``model`` on ``task`` with tools until it answers or a limit is hit.

        Args:
            model: the model key.
            task: a string (one user message) or a conversation to continue (chat messages,
                including earlier tool rounds, e.g. a previous result's ``messages``).
            tools: MCP ``ClientSession`` objects (mcp 1.x or 2.x), toolsets, and plain Python
                functions (sync or async); a mapping names each source.
            **options: limits and chat options, see :class:`~lmbridge.agent.AgentSettings`
                (``system``, ``max_rounds``, ``time_limit``, ``token_budget``,
                ``tool_timeout``, ``max_parallel_tools``, ``images``, ``temperature``, ...).

        Returns:
            The :class:`~lmbridge.agent.AgentResult`; ``stop_reason`` says why it ended.
        """
        from lmbridge.agent.options import agent_settings
        from lmbridge.agent.run import run_agent

        settings = agent_settings(options)
        return await run_agent(
            self, model, task, tools=tools, settings=settings, events=self._events
        )

    def stream_agent(
        self,
        model: str,
        task: MessagesArg,
        *,
        tools: Sequence[Any] | Mapping[str, Any] = (),
        **options: Unpack[AgentSettings],
    ) -> AgentRun:
        """Like :meth:`run_agent`, but watch it: ``async with bridge.stream_agent(...) as run``.

        Iterate ``run`` for :data:`~lmbridge.agent.AgentEvent` items, then
        ``await run.result()``. Takes the same options as :meth:`run_agent`.
        """
        from lmbridge.agent.options import agent_settings
        from lmbridge.agent.run import AgentRun

        settings = agent_settings(options)
        return AgentRun.start(
            self, model, task, tools=tools, settings=settings, events=self._events
        )
