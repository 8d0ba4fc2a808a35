"""Loading a model that has no instance: ``lms load`` (its models are never auto-evicted), then
``POST /api/v1/models/load`` (LM Studio 0.4+) or, when progress is asked for, the native chat
(which streams it), then JIT: the smallest request that makes LM Studio load the model. Each method
applies only some options (:mod:`~lmbridge.lifecycle.load_methods`): the first that applies all
those given is used, and none is an error. Every method ends by finding the new instance in a
fresh listing, because a load that "succeeded" may have been evicted at once.

A REST or JIT load whose caller was cancelled (or timed out) is not cancelled on the server: LM
Studio goes on loading. Such a load is remembered as *abandoned* until ``load_timeout`` after it
started, and no load of that model starts meanwhile: the next caller watches the listing until
the instance appears (and takes it) or the abandoned load's time is up. Otherwise the waiters of
the cancelled load, or the next caller, would load a second instance (``key:2``).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from contextlib import nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import anyio

from lmbridge.display.progress import announce_load
from lmbridge.errors import (
    APIStatusError,
    APITimeoutError,
    InsufficientMemoryError,
    LMBridgeError,
    ModelNotFoundError,
    ModelNotLoadedError,
    NotFoundError,
    redact,
)
from lmbridge.events import EventEmitter
from lmbridge.lifecycle.fit import LoadShape
from lmbridge.lifecycle.lms.runner import ProgressCallback, report_progress
from lmbridge.lifecycle.load_methods import (
    CHAT_OPTIONS,
    JIT_OPTIONS,
    LMS_OPTIONS,
    REST_OPTIONS,
    ChatLoadRefused,
    load_failure,
    load_via_chat,
    no_method_error,
)
from lmbridge.lifecycle.observe import watched_load
from lmbridge.lifecycle.singleflight import SingleFlight
from lmbridge.lifecycle.types import LoadedInstance, ModelInfo, ModelType

if TYPE_CHECKING:
    from lmbridge.lifecycle.cache import StateCache
    from lmbridge.lifecycle.parsers import Listing
    from lmbridge.lifecycle.resolve import Resolved
    from lmbridge.lifecycle.scheduler import SwapScheduler
    from lmbridge.lifecycle.server import ServerAccess

__all__ = ["LoadOptions", "LoadSettings", "Loader"]

_REST_LOAD = "/api/v1/models/load"
_FIRST_POLL = 0.05  # seconds between listings while an abandoned load may still finish, doubling
_LONGEST_POLL = 1.0
_JIT_HINT = (
    "Install the `lms` CLI (it ships with LM Studio: run LM Studio once, or pass "
    "Bridge(lms_path=...)) so lmbridge can load models itself, or turn on JIT loading in LM Studio "
    "(Developer > Server Settings > Just-in-Time model loading)."
)


class LoadSettings(Protocol):
    """The loader's defaults, read at every load so a change applies to the next one."""

    load_timeout: float
    """The budget in seconds for one load."""
    default_ttl: int | None
    """The ``ttl`` of loads whose options give none (``lms`` and JIT only)."""


@dataclass(frozen=True)
class LoadOptions:
    """How the caller asked to load; ``None`` leaves a setting to the loader or the server.

    Attributes:
        ttl: idle seconds until LM Studio unloads the model; ``None``: the loader's default.
        context_length: the context length to load with.
        gpu: GPU offload, ``"off"``, ``"max"`` or a fraction.
        identifier: the identifier for the new instance.
        on_progress: called with the load's progress in ``0..1``.
        eval_batch_size: a REST v1 load setting, sent as it is (as are the next three).
        flash_attention: see ``eval_batch_size``.
        num_experts: see ``eval_batch_size``.
        offload_kv_cache_to_gpu: see ``eval_batch_size``.
        parallel: the most predictions the instance runs at once (``lms load --parallel``).
    """

    ttl: int | None = None
    context_length: int | None = None
    gpu: str | float | None = None
    identifier: str | None = None
    on_progress: ProgressCallback | None = None
    eval_batch_size: int | None = None
    flash_attention: bool | None = None
    num_experts: int | None = None
    offload_kv_cache_to_gpu: bool | None = None
    parallel: int | None = None

    def unsupported(self, supported: set[str] | frozenset[str]) -> list[str]:
        """The options given that a method supporting only ``supported`` would have to drop."""
        given = [name for name in _OPTION_NAMES if getattr(self, name) is not None]
        return [name for name in given if name not in supported]

    def rest_settings(self) -> dict[str, Any]:
        """The options ``POST /api/v1/models/load`` takes, under its own field names."""
        return {
            name: getattr(self, name) for name in REST_OPTIONS if getattr(self, name) is not None
        }


_OPTION_NAMES = (
    "ttl",
    "context_length",
    "gpu",
    "identifier",
    "parallel",
    "eval_batch_size",
    "flash_attention",
    "num_experts",
    "offload_kv_cache_to_gpu",
)


class Loader:
    """Returns an instance of a model, loading it only when it has none; one load per key at once.

    Args:
        server: the server to load on.
        cache: the listings to check before and after loading (dropped around every load).
        settings: ``load_timeout`` and ``default_ttl`` (the model manager, whose attributes they
            are).
        clock: the monotonic clock that ages abandoned loads.
        events: told of every load (started, progress, finished).
        room: the swap scheduler, told of every load and asked to make room when one runs out of
            memory (``None``: an out-of-memory load simply fails).
    """

    def __init__(
        self,
        *,
        server: ServerAccess,
        cache: StateCache,
        settings: LoadSettings,
        clock: Callable[[], float] = time.monotonic,
        events: EventEmitter | None = None,
        room: SwapScheduler | None = None,
    ) -> None:
        self._events = events or EventEmitter()
        self._room = room
        self._server = server
        self._cache = cache
        self._settings = settings
        self._clock = clock
        self._loads: SingleFlight[LoadedInstance] = SingleFlight()

    async def ensure(
        self, resolved: Resolved, listing: Listing, options: LoadOptions
    ) -> LoadedInstance:
        """An instance of ``resolved``: one ``listing`` shows (in any status), else a new one.

        Concurrent calls for one model key share one load and its result or exception.

        Raises:
            LmsNotFoundError: an option needs ``lms``, which is not usable.
            InsufficientMemoryError: the model does not fit.
            LmsTimeoutError: ``lms load`` took longer than ``load_timeout``.
            ModelNotLoadedError: a REST or JIT load failed or timed out, or JIT loading is off.
            LmsError: ``lms load`` failed otherwise.
        """
        key = resolved.model.key
        found = _pick(listing.instances, key, resolved.identifier)
        if found is not None:
            return found
        return await self._loads.run(key, lambda: self._load_making_room(resolved, options))

    async def _load_making_room(self, resolved: Resolved, options: LoadOptions) -> LoadedInstance:
        # Inside the single flight, so that every caller waiting for this model waits for the swap.
        if self._room is None:
            return await self._load(resolved, options)
        shape = LoadShape(resolved.model.key, options.context_length, options.gpu)
        await self._room.check_fits(shape)  # known not to fit: fail before unloading anything
        while True:
            try:
                with self._room.loading(resolved.model.key):
                    return await self._load(resolved, options)
            except InsufficientMemoryError as exc:
                exc.url = exc.url or redact(self._server.rest.base_url)  # lms errors have none
                # Raises when nothing helps, or when the model cannot fit even alone.
                await self._room.make_room(resolved.model.key, exc, shape=shape)

    async def _load(self, resolved: Resolved, options: LoadOptions) -> LoadedInstance:
        model = resolved.model
        self._cache.drop_listings()
        # Look once more: another process (or a load that just ended) may have loaded it.
        if not options.unsupported(LMS_OPTIONS) and await self._server.gate.usable():
            found = _pick(await self._cache.instances(), model.key, resolved.identifier)
            return found or await watched_load(
                self._events, self._load_with_lms, model, options, via="lms"
            )
        listing = await self._cache.listing()
        if listing.shows_state:
            found = _pick(listing.instances, model.key, resolved.identifier)
            if found is None:
                found = await self._abandoned_load(model.key, resolved.identifier)
            if found is not None:
                return found
        if listing.source == "/api/v1/models":
            with_progress = options.on_progress is not None and not options.unsupported(
                CHAT_OPTIONS
            )
            try:
                if with_progress:
                    try:
                        return await watched_load(
                            self._events, self._load_with_chat, model, options, via="chat"
                        )
                    except ChatLoadRefused:
                        pass  # JIT loading is off: the REST load does not depend on it
                # An explicit ttl skips the REST load (which takes none) for JIT (which carries it).
                if not options.unsupported(REST_OPTIONS):
                    return await watched_load(
                        self._events, self._load_with_rest, model, options, via="rest"
                    )
            except NotFoundError:
                pass  # the server has no such route after all: JIT is left
        if options.unsupported(JIT_OPTIONS):
            given = options.unsupported(frozenset())
            raise no_method_error(model.key, given, lms_problem=self._server.gate.explain())
        # With the swap scheduler, auto-evict must not cut our replies off: it drains them first.
        async with self._room.jit_load(model.key) if self._room else nullcontext():
            return await watched_load(self._events, self._load_with_jit, model, options, via="jit")

    async def _abandoned_load(self, key: str, wanted: str | None) -> LoadedInstance | None:
        """The instance an abandoned load of ``key`` produced, watched for until its time is up;
        ``None`` when there was no such load, or it did not produce one in time."""
        wait = _FIRST_POLL
        # None once its time is up (it failed, or never reached the server) or once a listing
        # showed an instance of the model (the cache ends the record then).
        while (deadline := self._cache.abandoned(key)) is not None:
            await anyio.sleep(min(wait, max(deadline - self._clock(), 0.0)))
            wait = min(wait * 2, _LONGEST_POLL)
            self._cache.drop_listings()
            found = _pick((await self._cache.listing()).instances, key, wanted)
            if found is not None:
                return found
        return None

    def _mine(self, instance: LoadedInstance, *, jit: bool = False) -> LoadedInstance:
        if self._room is not None:
            self._room.loaded(instance, jit=jit)
        return instance

    def _ttl(self, options: LoadOptions) -> int | None:
        return options.ttl if options.ttl is not None else self._settings.default_ttl

    async def _load_with_lms(self, model: ModelInfo, options: LoadOptions) -> LoadedInstance:
        announce_load(options.on_progress, model.key, "lms load")
        try:
            outcome = await self._server.lms.load(
                model.key,
                ttl=self._ttl(options),
                context_length=options.context_length,
                gpu=options.gpu,
                identifier=options.identifier,
                parallel=options.parallel,
                on_progress=options.on_progress,
                timeout=self._settings.load_timeout,
            )
        except LMBridgeError as exc:
            if exc.model is None:
                exc.model = model.key  # e.g. a timeout: say which model's load it was
            raise
        self._cache.drop_listings()
        wanted = outcome.identifier or options.identifier
        return self._mine(_verify(model, await self._cache.instances(), wanted, via="lms load"))

    async def _load_with_rest(self, model: ModelInfo, options: LoadOptions) -> LoadedInstance:
        # LM Studio answers this once, when the load is done, and documents no streaming for it
        # (model_load.progress events come only from /api/v1/chat): 1.0 at the end is all there is.
        announce_load(options.on_progress, model.key, "the REST API")
        body: dict[str, Any] = {"model": model.key, **options.rest_settings()}
        answer = await self._timed_post(_REST_LOAD, body, model, via="the REST API")
        self._cache.drop_listings()
        wanted = answer.get("instance_id") if isinstance(answer, dict) else None
        found = _verify(model, (await self._cache.listing()).instances, wanted, via="the REST API")
        self._mine(found)
        await report_progress(options.on_progress, 1.0)
        return found

    async def _load_with_chat(self, model: ModelInfo, options: LoadOptions) -> LoadedInstance:
        # Only when progress is asked for: LM Studio's native chat streams model_load.progress.
        announce_load(options.on_progress, model.key, "the REST API")
        ttl, progress = self._ttl(options), options.on_progress
        await self._timed(
            lambda: load_via_chat(self._server.rest, model.key, ttl=ttl, on_progress=progress),
            model,
            via="LM Studio's native chat",
        )
        self._cache.drop_listings()
        found = _verify(model, (await self._cache.listing()).instances, None, via="native chat")
        await report_progress(options.on_progress, 1.0)
        return found

    async def _load_with_jit(self, model: ModelInfo, options: LoadOptions) -> LoadedInstance:
        announce_load(options.on_progress, model.key, "JIT")
        kind = model.type or _guess_type(model.key)
        body: dict[str, Any]
        if kind == "embedding":
            path, body = "/v1/embeddings", {"model": model.key, "input": ["lmbridge load"]}
        else:
            path = "/v1/chat/completions"
            body = {
                "model": model.key,
                "messages": [{"role": "user", "content": "Hi"}],
                "max_tokens": 1,
                "stream": False,
            }
        ttl = self._ttl(options)
        if ttl is not None:
            body["ttl"] = ttl
        try:
            await self._timed_post(path, body, model, via="a JIT-loading request")
        except (ModelNotLoadedError, ModelNotFoundError) as exc:
            raise ModelNotLoadedError(
                f"{model.key!r} is not loaded, and the server did not load it on request (JIT "
                "loading is off, or the load failed).",
                model=model.key,
                url=exc.url,
                status_code=exc.status_code,
                body=exc.body,
                lms_found=await self._server.lms.locate() is not None,
                hint=_JIT_HINT,
            ) from exc
        self._cache.drop_listings()
        listing = await self._cache.listing()
        if listing.shows_state:
            found = _verify(model, listing.instances, None, via="JIT loading")
        else:
            # /v1/models cannot show state: the successful answer is the proof.
            found = LoadedInstance(identifier=model.key, model_key=model.key, type=kind)
        self._mine(found, jit=True)
        await report_progress(options.on_progress, 1.0)
        return found

    async def _timed_post(
        self, path: str, body: dict[str, Any], model: ModelInfo, *, via: str
    ) -> Any:
        """POST a loading request within ``load_timeout``; a refusal becomes a typed load error."""
        timeout = self._settings.load_timeout
        return await self._timed(
            lambda: self._server.rest.post_json(path, body, timeout=timeout, model=model.key),
            model,
            via=via,
            path=path,
        )

    async def _timed(
        self,
        call: Callable[[], Awaitable[Any]],
        model: ModelInfo,
        *,
        via: str,
        path: str = "",
    ) -> Any:
        """Run a loading request within ``load_timeout``; a refusal becomes a typed load error."""
        url = self._server.rest.base_url.rstrip("/") + path
        timeout = self._settings.load_timeout
        started = self._clock()
        try:
            with anyio.fail_after(timeout):
                return await call()
        except anyio.get_cancelled_exc_class():
            # The server may be loading it still: nobody loads it again until its time is up.
            self._cache.abandon(model.key, started + timeout)
            raise
        except (TimeoutError, APITimeoutError) as exc:
            self._cache.abandon(model.key, self._clock() + timeout)  # may still finish: see above
            raise ModelNotLoadedError(
                f"Loading {model.key!r} through {via} took longer than load_timeout="
                f"{timeout:g} s; LM Studio may still finish it in the background.",
                model=model.key,
                url=url,
                hint="Raise Bridge(load_timeout=...) for large models, or load it beforehand.",
            ) from exc
        except NotFoundError:
            raise  # a missing route: the caller falls back to another way of loading
        except APIStatusError as exc:
            raise load_failure(model.key, exc, via=via) from exc


def _guess_type(key: str) -> ModelType:
    """For sources that do not say (``/v1/models``): embedding model ids name themselves."""
    return "embedding" if "embed" in key.lower() else "llm"


def _pick(instances: list[LoadedInstance], key: str, wanted: str | None) -> LoadedInstance | None:
    """The instance to use: the one asked for by identifier, else the one named like the key, else
    an idle one, else any (a busy instance is loaded and takes the request; it queues)."""
    mine = [instance for instance in instances if instance.model_key == key]
    for preferred in (wanted, key):
        for instance in mine:
            if instance.identifier == preferred:
                return instance
    idle = [instance for instance in mine if not instance.busy]
    candidates = idle or mine
    return candidates[0] if candidates else None


def _verify(
    model: ModelInfo, instances: list[LoadedInstance], wanted: str | None, *, via: str
) -> LoadedInstance:
    """The instance a load ``via`` some method produced, found in a listing taken afterwards."""
    if wanted is not None:
        for instance in instances:
            if instance.identifier == wanted:
                if instance.model_key != model.key:
                    raise ModelNotLoadedError(
                        f"{via} loaded {instance.model_key!r} as {wanted!r}, not {model.key!r}.",
                        model=model.key,
                        loaded=[i.identifier for i in instances],
                    )
                return instance
    found = _pick(instances, model.key, wanted)
    if found is None:
        raise ModelNotLoadedError(
            f"{via} reported {model.key!r} loaded, but it is not listed afterwards (evicted at "
            "once, or the load failed silently).",
            model=model.key,
            loaded=[i.identifier for i in instances],
            hint="Another JIT load may have evicted it (auto-evict); check LM Studio's log.",
        )
    return found
