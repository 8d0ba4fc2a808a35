"""The :class:`Bridge` facade: one object for chat, streams, embeddings, models and agents."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar, overload

import httpx
from pydantic import BaseModel
from typing_extensions import Unpack

from lmbridge.chat.assemble import result_from_completion
from lmbridge.chat.observed import observe_call, timed
from lmbridge.chat.repair import StructuredRetry
from lmbridge.chat.requests import (
    ChatOptions,
    MessagesArg,
    chat_body,
)
from lmbridge.chat.results import (
    ChatResult,
    MismatchWarnings,
)
from lmbridge.chat.streams import ChatStream
from lmbridge.chat.structured import ResponseFormat
from lmbridge.chat.window import PromptWindow
from lmbridge.chat.wire import ChatCompletion
from lmbridge.context import TokenCount
from lmbridge.endpoints import EndpointCalls
from lmbridge.events import EventEmitter, Hook, ModelUsage, UsageTracker
from lmbridge.lifecycle.lms import LmsCli
from lmbridge.lifecycle.scheduler import MemoryPolicy
from lmbridge.servers import BridgeModels, Router, Server, ServerStatus, build_servers, server_urls
from lmbridge.telemetry import otel_tracer
from lmbridge.transport.breaker import CircuitBreaker
from lmbridge.transport.client import DEFAULT_TIMEOUT, HTTPTransport, TimeoutArg, merge_timeout
from lmbridge.transport.retry import RetryPolicy

if TYPE_CHECKING:
    from lmbridge.agent.options import AgentSettings
    from lmbridge.agent.result import AgentResult
    from lmbridge.agent.run import AgentRun

__all__ = ["Bridge"]

M = TypeVar("M", bound=BaseModel)

_CHAT = "/v1/chat/completions"
_RESPONSES = "/v1/responses"


class Bridge(EndpointCalls):
    """An async client for LM Studio and any OpenAI-compatible server.

    Safe to share across any number of concurrent tasks. Use it as an async context manager, or
    call :meth:`aclose` when done.

    Args:
        base_url: the server, with or without a trailing ``/v1``, or several servers: each
            request goes to one that has its model (see "Several servers"); default: env
            ``LMBRIDGE_BASE_URL`` (comma-separated for several), else ``http://localhost:1234``.
        api_token: sent as a Bearer token, or a mapping from server URL to token (servers not
            in it get none); default: env ``LM_API_TOKEN`` (or the older
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
        circuit_breaker: per server, stop sending after consecutive connection failures, for a
            cooldown (``True``: :class:`~lmbridge.CircuitBreaker` defaults; ``False``: off).
        max_concurrency: the most requests in flight per server (an int, or a mapping from URL
            to int); more wait in order inside the Bridge. ``None``: no cap.
    """

    def __init__(
        self,
        base_url: str | Sequence[str] | None = None,
        *,
        api_token: str | Mapping[str, str] | None = None,
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
        circuit_breaker: bool | CircuitBreaker = True,
        max_concurrency: int | Mapping[str, int] | None = None,
    ) -> None:
        urls = server_urls(base_url)
        self._usage = UsageTracker()
        tracer = otel_tracer(urls[0]) if instrument else None
        self._events = EventEmitter(
            hooks=event_hooks,
            listeners=[self._usage.observe],
            tracer=tracer,
            log_content=log_content,
        )
        if api_token is None:
            api_token = os.environ.get("LM_API_TOKEN") or os.environ.get("LMSTUDIO_API_TOKEN")
        self.lms = LmsCli(path=lms_path)
        """The ``lms`` CLI runner this Bridge uses (only for a server on this machine)."""
        servers = build_servers(
            urls,
            api_token=api_token,
            circuit_breaker=circuit_breaker,
            max_concurrency=max_concurrency,
            lms=self.lms,
            events=self._events,
            timeout=merge_timeout(DEFAULT_TIMEOUT, timeout),
            retry=retry_policy or RetryPolicy(max_retries=max_retries),
            http_client=http_client,
            transport=transport,
            max_body_bytes=max_body_bytes,
            auto_load=auto_load,
            listing_ttl=listing_ttl,
            confirm_ttl=confirm_ttl,
            load_timeout=load_timeout,
            on_insufficient_memory=on_insufficient_memory,
            evict_foreign=evict_foreign,
        )
        self._router = Router(servers)
        self._http = servers[0].http
        self.models = BridgeModels(self._router)
        """Model lifecycle over every server: ``list``, ``loaded``, ``get``, ``ensure_loaded``,
        ``unload``, ``download``."""
        self._mismatch = MismatchWarnings(enabled=warn_on_model_mismatch)

    @property
    def base_url(self) -> str:
        """The (first) server's root URL (without ``/v1``)."""
        return self._http.base_url

    @property
    def http(self) -> HTTPTransport:
        """The (first) server's transport: raw JSON requests to any path of that server."""
        return self._http

    @property
    def servers(self) -> list[ServerStatus]:
        """Each server as it stands now: ``url``, ``state`` (``"up"``, ``"down"``,
        ``"probing"``), requests ``in_flight`` and ``waiting``, ``loaded`` model keys."""
        return [server.status() for server in self._router.servers]

    def __repr__(self) -> str:
        # The transports took any password out of the URLs.
        urls = [server.url for server in self._router.servers]
        return f"Bridge({urls[0]!r})" if len(urls) == 1 else f"Bridge({urls!r})"

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
        """Close the connection pools (a user-supplied ``http_client`` is left open)."""
        for server in self._router.servers:
            await server.http.aclose()

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

        async def on(server: Server) -> tuple[ChatResult[Any], StructuredRetry, PromptWindow]:
            url = server.http.url(_CHAT)
            async with server.context.fitted(model, body, options.get("fit"), url=url) as fitted:
                sent, window = fitted
                validation = self._validation(server, model, sent, response_format, options)
                post = server.calls.post(
                    _CHAT, sent, ChatCompletion, model=model, kind="llm", options=options
                )
                name, completion, timing = await self._images_refused(post, model, images)
                window = await server.context.settle(window, name)
            result = result_from_completion(completion, sent_model=name, url=url)
            return timed(result, timing, server=server.url), validation, window

        # Validation re-asks go to the same server, outside the routing: a reply came, so a
        # failure now must not send the first request again elsewhere.
        result, validation, window = await self._router.run(model, on)
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
        observed = observe_call(
            self._events, operation="chat", model=model, path=_CHAT, stream=True, body=body
        )
        async with observed as call, AsyncExitStack() as stack:

            async def open_on(server: Server) -> ChatStream[Any]:
                url = server.http.url(_CHAT)
                # What one server's attempt opens; handed to `stack` once the stream is open,
                # closed here if this server cannot be reached (and the next one is tried).
                async with AsyncExitStack() as attempt:
                    fitted = server.context.fitted(model, body, options.get("fit"), url=url)
                    sent, window = await attempt.enter_async_context(fitted)
                    # Re-asks after a reply that does not validate are sent without streaming.
                    validation = self._validation(server, model, sent, response_format, options)
                    sent = {**sent, "stream": True, "stream_options": {"include_usage": True}}

                    async def open_stream(name: str) -> tuple[str, Any]:
                        call.sending(name)
                        opening = server.http.stream_events(
                            _CHAT,
                            {**sent, "model": name},
                            model=name,
                            timeout=timeout,
                            max_retries=max_retries,
                        )
                        return name, await attempt.enter_async_context(opening)

                    guarded = server.calls.guarded(model, "llm", open_stream, hold=attempt)
                    name, events = await self._images_refused(guarded, model, images)
                    window = await server.context.settle(window, name)
                    stack.push_async_exit(attempt.pop_all())
                return ChatStream(
                    events,
                    sent_model=name,
                    url=url,
                    response_format=response_format,
                    mismatch=self._mismatch,
                    observer=call,
                    window=window,
                    validation=validation,
                    server=server.url,
                )

            stream = await self._router.run(model, open_on, hold=stack)
            try:
                yield stream
            finally:
                await stream.aclose()

    # --- other endpoints -------------------------------------------------------------------

    async def count_tokens(
        self,
        model: str,
        messages: MessagesArg,
        *,
        tools: Sequence[Mapping[str, Any]] | None = None,
    ) -> TokenCount:
        """The prompt's tokens (exact where the server can count, else an estimate that learns)
        and the **loaded** context window it must fit; see the "Context windows" docs page."""
        return await self._router.run(
            model, lambda server: server.context.count_tokens(model, messages, tools)
        )

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
