"""The :class:`Bridge` facade: one object for chat, streams, embeddings, models and agents."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, TypeVar, overload

import httpx
from pydantic import BaseModel
from typing_extensions import Unpack

from lmbridge.chat.assemble import result_from_completion
from lmbridge.chat.requests import (
    ChatOptions,
    MessagesArg,
    RequestOptions,
    SamplingOptions,
    chat_body,
    embedding_body,
    sampling_body,
)
from lmbridge.chat.responses import build_responses_body, result_from_response
from lmbridge.chat.results import (
    ChatResult,
    CompletionResult,
    EmbeddingResult,
    MismatchWarnings,
    ResponseResult,
    completion_result,
    embedding_result,
)
from lmbridge.chat.streams import ChatStream
from lmbridge.chat.structured import ResponseFormat, finish_chat
from lmbridge.chat.wire import ChatCompletion, EmbeddingResponse, ResponseObject, TextCompletion
from lmbridge.lifecycle.guard import guarded
from lmbridge.lifecycle.lms import LmsCli
from lmbridge.lifecycle.models import ModelManager
from lmbridge.lifecycle.scheduler import MemoryPolicy
from lmbridge.lifecycle.types import RequestKind
from lmbridge.transport.client import (
    DEFAULT_TIMEOUT,
    HTTPTransport,
    TimeoutArg,
    decode_body,
    merge_timeout,
)
from lmbridge.transport.retry import RetryPolicy

if TYPE_CHECKING:
    from lmbridge.agent.options import AgentSettings
    from lmbridge.agent.result import AgentResult
    from lmbridge.agent.run import AgentRun

__all__ = ["Bridge"]

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)
B = TypeVar("B", bound=BaseModel)

_CHAT = "/v1/chat/completions"
_EMBEDDINGS = "/v1/embeddings"


class Bridge:
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
        on_insufficient_memory: MemoryPolicy = "swap",
        evict_foreign: bool = False,
    ) -> None:
        token = api_token or os.environ.get("LM_API_TOKEN") or os.environ.get("LMSTUDIO_API_TOKEN")
        self._http = HTTPTransport(
            base_url=base_url,
            api_token=token,
            timeout=merge_timeout(DEFAULT_TIMEOUT, timeout),
            retry=retry_policy or RetryPolicy(max_retries=max_retries),
            http_client=http_client,
            transport=transport,
            max_body_bytes=max_body_bytes,
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
            on_insufficient_memory=on_insufficient_memory,
            evict_foreign=evict_foreign,
        )
        """Model lifecycle: ``list``, ``loaded``, ``get``, ``ensure_loaded``, ``unload``."""
        self._mismatch = MismatchWarnings(enabled=warn_on_model_mismatch)

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

    # --- the model guard ---------------------------------------------------------------------

    async def _guarded(
        self,
        model: str,
        kind: RequestKind,
        call: Callable[[str], Awaitable[T]],
        hold: AsyncExitStack | None = None,
    ) -> T:
        """Run ``call(name)`` with the model loaded; heal one "not loaded" answer, retry once.

        ``name`` is the identifier to send (``"gemma"`` resolved to the key LM Studio knows). The
        request counts as running on its model (not unloaded under it) until ``hold`` closes.
        """
        return await guarded(self.models, model, kind, call, hold=hold)

    async def _post_model(
        self,
        path: str,
        body: Mapping[str, Any],
        into: type[B],
        *,
        model: str,
        kind: RequestKind,
        options: Mapping[str, Any],
    ) -> tuple[str, B]:
        """POST ``body`` for ``model`` under the model guard; the name sent, and the answer."""

        async def send(name: str) -> tuple[str, B]:
            response = await self._http.request(
                "POST",
                path,
                body={**body, "model": name},
                model=name,
                timeout=options.get("timeout"),
                max_retries=options.get("max_retries"),
            )
            return name, decode_body(response, into, model=name)

        return await self._guarded(model, kind, send)

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
                ``timeout``, ``max_retries``, ``extra_body``.

        Raises:
            StructuredOutputError: the reply did not parse into ``response_format``.
            LMBridgeError: any other failure, typed (see the errors table).
        """
        body = chat_body(model, messages, response_format=response_format, options=options)
        name, completion = await self._post_model(
            _CHAT, body, ChatCompletion, model=model, kind="llm", options=options
        )
        url = self._http.url(_CHAT)
        result = result_from_completion(completion, sent_model=name, url=url)
        return finish_chat(
            result, response_format=response_format, url=url, mismatch=self._mismatch
        )

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
        :class:`~lmbridge.ToolCallReady` and :class:`~lmbridge.UsageReport`; ``await s.result()``
        gives the :class:`~lmbridge.ChatResult`. Leaving the block early, breaking out of the
        loop or cancelling the task closes the response.
        """
        body = chat_body(model, messages, response_format=response_format, options=options)
        timeout, max_retries = options.get("timeout"), options.get("max_retries")
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
        async with AsyncExitStack() as stack:

            async def open_stream(name: str) -> tuple[str, Any]:
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

            name, events = await self._guarded(model, "llm", open_stream, stack)
            stream: ChatStream[Any] = ChatStream(
                events,
                sent_model=name,
                url=self._http.url(_CHAT),
                response_format=response_format,
                mismatch=self._mismatch,
            )
            try:
                yield stream
            finally:
                await stream.aclose()

    # --- other endpoints -------------------------------------------------------------------

    async def embed(
        self,
        model: str,
        input: str | Sequence[str],
        *,
        encoding_format: Literal["float", "base64"] = "float",
        dimensions: int | None = None,
        **options: Unpack[RequestOptions],
    ) -> EmbeddingResult:
        """Embed one text or several (``POST /v1/embeddings``); vectors come back in input order.

        ``encoding_format="base64"`` moves less data; the vectors are decoded either way.
        ``options``: ``timeout``, ``max_retries``, ``extra_body`` (see
        :class:`~lmbridge.RequestOptions`).
        """
        texts = [input] if isinstance(input, str) else list(input)
        body = embedding_body(
            model,
            texts,
            encoding_format=encoding_format,
            dimensions=dimensions,
            extra_body=options.get("extra_body"),
        )
        name, answer = await self._post_model(
            _EMBEDDINGS, body, EmbeddingResponse, model=model, kind="embedding", options=options
        )
        result = embedding_result(
            answer, count=len(texts), sent_model=name, url=self._http.url(_EMBEDDINGS)
        )
        self._mismatch.check(name, answer.model)
        return result

    async def complete(
        self, model: str, prompt: str, **options: Unpack[SamplingOptions]
    ) -> CompletionResult:
        """Continue raw text with no chat template (``POST /v1/completions``).

        Takes the sampling options of :meth:`chat` (see :class:`~lmbridge.SamplingOptions`).
        """
        body: dict[str, Any] = {"model": model, "prompt": prompt, **sampling_body(options)}
        name, answer = await self._post_model(
            "/v1/completions", body, TextCompletion, model=model, kind="llm", options=options
        )
        self._mismatch.check(name, answer.model)
        return completion_result(answer, sent_model=name, url=self._http.url("/v1/completions"))

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
        **options: Unpack[RequestOptions],
    ) -> ResponseResult:
        """Use the stateful Responses API (``POST /v1/responses``, LM Studio 0.3.29+).

        Pass the returned ``id`` as ``previous_response_id`` to continue. ``tools`` may be in
        chat format (``{"type": "function", "function": {...}}``): they are flattened to the
        format this endpoint requires. ``options``: ``timeout``, ``max_retries``,
        ``extra_body`` (see :class:`~lmbridge.RequestOptions`).
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
        )
        model, parsed = await self._post_model(
            "/v1/responses", body, ResponseObject, model=model, kind="llm", options=options
        )
        self._mismatch.check(model, parsed.model)
        return result_from_response(parsed, sent_model=model)

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
                ``tool_timeout``, ``max_parallel_tools``, ``temperature``, ...).

        Returns:
            The :class:`~lmbridge.agent.AgentResult`; ``stop_reason`` says why it ended.
        """
        from lmbridge.agent.options import agent_settings
        from lmbridge.agent.run import run_agent

        return await run_agent(self, model, task, tools=tools, settings=agent_settings(options))

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

        return AgentRun.start(self, model, task, tools=tools, settings=agent_settings(options))
