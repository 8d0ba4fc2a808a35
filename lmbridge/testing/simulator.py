"""``SimulatedLMStudio``: the public face of the simulator."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from typing import Any, ClassVar

import anyio
import httpx

from lmbridge.testing.asgi import SimASGIApp
from lmbridge.testing.catalogue import SimModel
from lmbridge.testing.context import NotLoadedStyle, SimContext, SimSettings, UnknownModelStyle
from lmbridge.testing.core import RecordedRequest, SimCore
from lmbridge.testing.exchange import SimRequest, SimResponse
from lmbridge.testing.failures import SimError
from lmbridge.testing.overflow import OverflowStyle
from lmbridge.testing.script import Responder, ScriptItem
from lmbridge.testing.server import serve_asgi
from lmbridge.testing.state import (
    DEFAULT_JIT_TTL,
    InstanceStatus,
    LoadVia,
    SimInstance,
    SimState,
)
from lmbridge.testing.transport import SimTransport

__all__ = ["SimulatedLMStudio"]


class SimulatedLMStudio:
    """A faithful, scriptable stand-in for LM Studio's server, in-process or on loopback.

    It serves the OpenAI-compatible routes (``/v1/models``, ``/v1/chat/completions`` streamed or not,
    ``/v1/completions``, ``/v1/embeddings``, ``/v1/responses``), LM Studio's REST API (``/api/v0``,
    ``/api/v1`` model listing, load and unload) and the liveness probes, with LM Studio's quirks: JIT
    loading, auto-evict, ``key:2`` duplicate instances, idle TTLs, busy statuses, and every error
    variant the versions send.

    Example:
        ```python
        sim = SimulatedLMStudio(loaded=["qwen/qwen3-4b"])
        sim.script("qwen/qwen3-4b", Reply("Hi!"))
        async with sim.client() as http:
            r = await http.post("/v1/chat/completions", json={...})
        ```

    Args:
        models: the downloaded models (default: :func:`default_catalogue`).
        loaded: model keys to load at start, as with ``lms load``.
        jit: JIT loading: a request naming a downloaded model that is not loaded loads it.
        auto_evict: loading a JIT model unloads the previously JIT-loaded one (not ``lms`` loads).
        load_delay: seconds every load takes (JIT, REST and the simulated ``lms``).
        auth_token: when set, every route except ``/lmstudio-greeting`` needs
            ``Authorization: Bearer <token>``.
        memory_limit_bytes: when set, a load needing more than the free memory fails with an
            out-of-memory message ("requires approximately N GB").
        one_model_answers_all: with exactly one model loaded, any requested name is answered by it
            (some LM Studio versions do this).
        unknown_model_error: ``"invalid_identifier"`` (400, current) or ``"not_found_404"`` (0.3.5).
        not_loaded_error: with JIT off, ``"object"`` (0.4.8), ``"string"`` (2025) or
            ``"plain_text"`` (0.3.5, 404).
        routes_disabled: paths answered as unknown routes, to emulate older or other servers; an
            entry also disables the paths below it (``"/api/v1"`` removes the whole v1 REST API).
        unknown_route_status: the status of the "Unexpected endpoint or method" answer: 200, as
            LM Studio sends it (up to at least 0.4.17), or 404 as other servers would.
        version: the version ``/lms-status`` reports.
        default_jit_ttl: idle TTL in seconds of JIT loads whose request gave no ``ttl``.
        downloadable: catalog models not downloaded yet, which ``POST /api/v1/models/download``
            and the simulated ``lms get`` can download.
        download_seconds: seconds (on ``clock``) a download takes; ``0``: done at the first poll.
        clock: monotonic clock for TTL expiry (inject one to test expiry without waiting).
    """

    base_url: ClassVar[str] = "http://lmstudio.sim"
    """Base URL to use with :meth:`transport` (any host works; this one reads well in logs)."""

    def __init__(
        self,
        *,
        models: Iterable[SimModel] | None = None,
        loaded: Sequence[str] = (),
        jit: bool = True,
        auto_evict: bool = True,
        load_delay: float = 0.0,
        auth_token: str | None = None,
        memory_limit_bytes: int | None = None,
        one_model_answers_all: bool = False,
        unknown_model_error: UnknownModelStyle = "invalid_identifier",
        not_loaded_error: NotLoadedStyle = "object",
        routes_disabled: Iterable[str] = (),
        unknown_route_status: int = 200,
        version: str = "0.4.8",
        default_jit_ttl: float | None = DEFAULT_JIT_TTL,
        downloadable: Iterable[SimModel] = (),
        download_seconds: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._state = SimState(
            models=models,
            auto_evict=auto_evict,
            memory_limit_bytes=memory_limit_bytes,
            clock=clock,
        )
        self._settings = SimSettings(
            jit=jit,
            load_delay=load_delay,
            auth_token=auth_token,
            one_model_answers_all=one_model_answers_all,
            unknown_model_error=unknown_model_error,
            not_loaded_error=not_loaded_error,
            routes_disabled=set(routes_disabled),
            unknown_route_status=unknown_route_status,
            version=version,
            default_jit_ttl=default_jit_ttl,
            download_seconds=download_seconds,
        )
        self._context = SimContext(state=self._state, settings=self._settings)
        self._context.downloadable = {model.key: model for model in downloadable}
        self._core = SimCore(self._context)
        for key in loaded:
            self.load(key)

    def __repr__(self) -> str:
        ids = [inst.identifier for inst in self._state.instances]
        return (
            f"SimulatedLMStudio(models={len(self._state.models)}, loaded={ids!r}, jit={self.jit})"
        )

    # --- settings (all can be changed while serving) ------------------------------------------

    @property
    def jit(self) -> bool:
        """Whether JIT loading is on."""
        return self._settings.jit

    @jit.setter
    def jit(self, value: bool) -> None:
        self._settings.jit = value

    @property
    def auto_evict(self) -> bool:
        """Whether a JIT load unloads the previous JIT-loaded instances."""
        return self._state.auto_evict

    @auto_evict.setter
    def auto_evict(self, value: bool) -> None:
        self._state.auto_evict = value

    @property
    def load_delay(self) -> float:
        """Seconds every load takes."""
        return self._settings.load_delay

    @load_delay.setter
    def load_delay(self, value: float) -> None:
        self._settings.load_delay = value

    @property
    def memory_limit_bytes(self) -> int | None:
        """Memory available for loaded models, ``None`` for unlimited."""
        return self._state.memory_limit_bytes

    @memory_limit_bytes.setter
    def memory_limit_bytes(self, value: int | None) -> None:
        self._state.memory_limit_bytes = value

    @property
    def auth_token(self) -> str | None:
        """The API token every route (but the greeting) requires, or ``None``."""
        return self._settings.auth_token

    @auth_token.setter
    def auth_token(self, value: str | None) -> None:
        self._settings.auth_token = value

    @property
    def one_model_answers_all(self) -> bool:
        """Whether a single loaded model answers requests for any name."""
        return self._settings.one_model_answers_all

    @one_model_answers_all.setter
    def one_model_answers_all(self, value: bool) -> None:
        self._settings.one_model_answers_all = value

    @property
    def unknown_model_error(self) -> UnknownModelStyle:
        """How unknown model names are answered."""
        return self._settings.unknown_model_error

    @unknown_model_error.setter
    def unknown_model_error(self, value: UnknownModelStyle) -> None:
        self._settings.unknown_model_error = value

    @property
    def not_loaded_error(self) -> NotLoadedStyle:
        """How "nothing loaded" is answered when JIT is off."""
        return self._settings.not_loaded_error

    @not_loaded_error.setter
    def not_loaded_error(self, value: NotLoadedStyle) -> None:
        self._settings.not_loaded_error = value

    @property
    def context_overflow(self) -> OverflowStyle:
        """How a prompt over the instance's loaded context length is answered (default
        ``"error"``; see :mod:`lmbridge.testing.overflow`)."""
        return self._settings.context_overflow

    @context_overflow.setter
    def context_overflow(self, value: OverflowStyle) -> None:
        self._settings.context_overflow = value

    @property
    def routes_disabled(self) -> set[str]:
        """Paths (and the paths below them) answered with 404; a mutable set."""
        return self._settings.routes_disabled

    @routes_disabled.setter
    def routes_disabled(self, value: Iterable[str]) -> None:
        self._settings.routes_disabled = set(value)

    @property
    def unknown_route_status(self) -> int:
        """The status of the answer to an unknown (or disabled) route: 200 like LM Studio, or 404."""
        return self._settings.unknown_route_status

    @unknown_route_status.setter
    def unknown_route_status(self, value: int) -> None:
        self._settings.unknown_route_status = value

    @property
    def version(self) -> str:
        """The LM Studio version ``/lms-status`` reports."""
        return self._settings.version

    @version.setter
    def version(self, value: str) -> None:
        self._settings.version = value

    # --- what happened ---------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received, oldest first (control endpoints excluded; a mutable list)."""
        return self._core.requests

    @property
    def cut_off(self) -> list[str]:
        """Identifiers of instances unloaded while serving a request (evicted by a JIT load,
        unloaded by a client, expired), once per unload: each cut a reply off."""
        return list(self._state.cut_off)

    @property
    def cli_calls(self) -> list[list[str]]:
        """Argument lists of the simulated ``lms`` invocations, as it reported them."""
        return self._context.cli_calls

    @property
    def cli_config(self) -> dict[str, Any]:
        """Behaviour switches for the simulated ``lms`` (e.g. ``{"hang": True}``); served as-is."""
        return self._context.cli_config

    @cli_config.setter
    def cli_config(self, value: dict[str, Any]) -> None:
        self._context.cli_config = dict(value)

    @property
    def responses(self) -> dict[str, dict[str, Any]]:
        """Stored ``/v1/responses`` results by id: ``{"response": ..., "history": [...]}``."""
        return self._context.responses

    @property
    def port(self) -> int | None:
        """The loopback port while :meth:`serve` runs, else ``None``."""
        return self._context.port

    # --- model state -------------------------------------------------------------------------

    @property
    def models(self) -> dict[str, SimModel]:
        """Downloaded models by key."""
        return dict(self._state.models)

    @property
    def loaded(self) -> list[SimInstance]:
        """Loaded instances in load order."""
        return self._state.instances

    def instance(self, identifier: str) -> SimInstance | None:
        """The loaded instance with exactly this identifier, if any."""
        return self._state.instance(identifier)

    def resolve(self, name: str) -> SimInstance | None:
        """The loaded instance a request for ``name`` would be served by, without loading anything."""
        return self._state.resolve_loaded(name)

    def load(
        self,
        key: str,
        *,
        identifier: str | None = None,
        context_length: int | None = None,
        ttl: float | None = None,
        via: LoadVia = "lms",
        device: str | None = None,
    ) -> SimInstance:
        """Load a NEW instance at once (no ``load_delay``), like ``lms load``: ``key:2`` if loaded.
        ``device`` names the LM Link device it runs on (``None``: this machine).

        Raises:
            SimLoadError: not downloaded, identifier taken, or not enough memory.
        """
        return self._state.load(
            key,
            identifier=identifier,
            context_length=context_length,
            ttl=ttl,
            via=via,
            device=device,
        )

    def fail_download(self, key: str, reason: str) -> None:
        """Make downloads of ``key`` fail half-way with ``reason`` (REST and ``lms get``)."""
        self._context.download_failures[key] = reason

    @property
    def download_seconds(self) -> float:
        """Seconds (on the clock) a download takes."""
        return self._settings.download_seconds

    @download_seconds.setter
    def download_seconds(self, value: float) -> None:
        self._settings.download_seconds = value

    def unload(self, identifier: str) -> bool:
        """Unload one instance; ``False`` if no instance had this identifier."""
        return self._state.unload(identifier)

    def unload_all(self) -> list[str]:
        """Unload everything; returns the identifiers unloaded."""
        return self._state.unload_all()

    def evict(self, key_or_identifier: str) -> list[str]:
        """Unload behind the client's back: every instance of a model key, or one identifier.

        A stream being generated by an evicted instance ends with an in-stream error.
        """
        return self._state.evict(key_or_identifier)

    def set_status(
        self, identifier: str, status: InstanceStatus | None, *, queued: int = 0
    ) -> None:
        """Pin the status (and ``queued``) ``lms ps`` reports for an instance; ``None`` unpins.

        Raises:
            KeyError: no instance has this identifier.
        """
        inst = self._state.instance(identifier)
        if inst is None:
            raise KeyError(identifier)
        inst.pinned_status = status
        inst.pinned_queued = queued

    # --- what the models say -----------------------------------------------------------------

    def script(self, model: str, *replies: ScriptItem) -> None:
        """Queue replies, consumed in order by requests to ``model``.

        ``model`` is a model key (any instance of it), an instance identifier, or ``"*"`` (any model).
        Items are :class:`Reply` objects, plain strings (the text) or :class:`SimError` objects.
        """
        self._context.scripts.add(model, replies)

    def responder(self, model: str, fn: Responder | None) -> None:
        """Answer requests to ``model`` with ``fn(request_body) -> Reply`` (sync or async).

        Used when no scripted reply is queued; ``None`` removes it.
        """
        self._context.scripts.set_responder(model, fn)

    def fail_next(self, model: str, error: SimError, *, times: int = 1) -> None:
        """Answer the next ``times`` requests naming ``model`` (or any, with ``"*"``) with ``error``.

        Failures happen before model resolution: a failed request loads nothing.
        """
        self._context.scripts.fail_next(model, error, times)

    def pending_replies(self, model: str) -> int:
        """Scripted replies still queued for ``model``."""
        return self._context.scripts.pending(model)

    def clear_scripts(self) -> None:
        """Forget all scripted replies, responders and injected failures."""
        self._context.scripts.clear()

    # --- serving -----------------------------------------------------------------------------

    async def handle(self, request: SimRequest) -> SimResponse:
        """Answer one request (the core both transports use)."""
        return await self._core.handle(request)

    def transport(self) -> httpx.AsyncBaseTransport:
        """An in-process httpx transport that streams (see :class:`SimTransport`)."""
        return SimTransport(self._core.handle)

    def client(self, **kwargs: Any) -> httpx.AsyncClient:
        """An ``httpx.AsyncClient`` wired to :meth:`transport` with ``base_url`` set."""
        kwargs.setdefault("base_url", self.base_url)
        return httpx.AsyncClient(transport=self.transport(), **kwargs)

    def asgi_app(self) -> SimASGIApp:
        """The simulator as an ASGI application."""
        return SimASGIApp(self._core.handle)

    @asynccontextmanager
    async def serve(self, *, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[str]:
        """Serve over real HTTP with uvicorn (the ``testing`` extra) inside the running asyncio loop.

        Yields the base URL (e.g. ``http://127.0.0.1:54321``); ``port=0`` picks a free port.
        """

        def set_port(value: int | None) -> None:
            self._context.port = value

        async with serve_asgi(self.asgi_app(), host=host, port=port, on_port=set_port) as url:
            yield url

    async def wait_idle(self, *, timeout: float = 5.0) -> None:
        """Wait until every received request has ended (useful after a client disconnects).

        Raises:
            TimeoutError: requests were still running after ``timeout`` seconds.
        """
        with anyio.fail_after(timeout):
            while self._core.busy():
                await self._core.wait_request_end()
