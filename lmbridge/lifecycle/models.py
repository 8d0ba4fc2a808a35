"""``bridge.models``: list, find, load and unload models, and keep requests pointed at loaded ones.

:class:`ModelManager` inherits the request path — :meth:`~ModelManager.prepare` before a
request, :meth:`~ModelManager.heal` after a "not loaded", :meth:`~ModelManager.diagnose` after a
second one — from :mod:`~lmbridge.lifecycle.request_path`. For the rest it relies on parts with
one job each, sharing one cache:

- :mod:`~lmbridge.lifecycle.cache`: listings, statuses and "loaded" confirmations, and their ages;
- :mod:`~lmbridge.lifecycle.resolve`: what a name means;
- :mod:`~lmbridge.lifecycle.loaders`: loading with ``lms``, the REST API, the native chat or JIT;
- :mod:`~lmbridge.lifecycle.scheduler`: making room when a load runs out of memory;
- :mod:`~lmbridge.lifecycle.unloading` and :mod:`~lmbridge.lifecycle.downloads`.

See the "Model lifecycle" docs page for the LM Studio behaviour behind each rule.
"""

from __future__ import annotations

import builtins
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Literal

from lmbridge.display.progress import progress_display
from lmbridge.errors import (
    ModelNotFoundError,
    ModelNotLoadedError,
)
from lmbridge.events import EventEmitter, ModelUnloaded
from lmbridge.lifecycle.cache import StateCache
from lmbridge.lifecycle.checks import check_load_options
from lmbridge.lifecycle.downloads import Downloader
from lmbridge.lifecycle.fit import FitCheck
from lmbridge.lifecycle.lms import ProgressCallback
from lmbridge.lifecycle.loaders import Loader, LoadOptions
from lmbridge.lifecycle.request_path import RequestPath
from lmbridge.lifecycle.resolve import Resolver
from lmbridge.lifecycle.scheduler import MemoryPolicy, SwapScheduler
from lmbridge.lifecycle.server import ServerAccess
from lmbridge.lifecycle.types import (
    InstanceList,
    ListingSource,
    LoadedInstance,
    ModelInfo,
    ModelList,
    RequestKind,
)
from lmbridge.lifecycle.unloading import Unloader

if TYPE_CHECKING:
    from lmbridge.lifecycle.lms import LmsCli
    from lmbridge.lifecycle.server import RestAPI

__all__ = ["ModelManager", "Placement", "ProgressCallback", "RequestKind"]

Placement = Literal["loaded", "listed", "downloaded", "unlisted", "absent"]
"""Where a model stands on one server, for routing between servers: ``"loaded"`` (it has an
instance), ``"listed"`` (listed by a source that cannot show state, such as llama.cpp's or
vLLM's ``/v1/models``: served, as far as one can tell), ``"downloaded"`` (not loaded),
``"unlisted"`` (the listing is not known to be complete: the server may still have it) or
``"absent"`` (the complete listing does not have it)."""


class ModelManager(RequestPath):
    """Lists, finds, loads and unloads models; available as ``bridge.models``.

    Every instance LM Studio lists is loaded, whatever its status: ``idle`` means loaded and free,
    ``processingPrompt``/``generating``/``computingEmbedding`` (or queued requests) mean loaded and
    busy. The manager never loads a model that has an instance, and never unloads one to "fix" it.

    Args:
        rest: the HTTP client (the transport implements :class:`~lmbridge.lifecycle.server.RestAPI`).
        lms: the ``lms`` runner. It is used only when it is installed and manages the server at
            ``rest.base_url`` (a loopback URL on the port ``lms server status`` reports).
        auto_load: whether requests for a downloaded but unloaded model load it first
            (:meth:`prepare`, :meth:`heal`). When ``False`` they raise
            :class:`~lmbridge.errors.ModelNotLoadedError` instead, and never load anything.
        listing_ttl: seconds a model listing is reused before asking the server again.
        confirm_ttl: seconds a "this model is loaded" confirmation lets :meth:`prepare` return at
            once, without listing.
        load_timeout: the budget in seconds for one load, separate from request timeouts.
        default_ttl: idle seconds after which LM Studio unloads what this manager loads, unless a
            call passes ``ttl``. ``None``: never (``lms load``) or LM Studio's JIT default (60 min).
            LM Studio's REST load endpoint takes no TTL, so it does not apply there.
        clock: the monotonic clock for cache ages (replace it in tests).
        events: told of loads, unloads and heals (the Bridge's emitter; silent when not given).
        on_insufficient_memory: ``"swap"``: a load that runs out of memory waits for a model this
            manager loaded to be free, unloads it and loads again; ``"raise"``: it fails.
        evict_foreign: whether swapping may unload models this manager did not load.

    Attributes:
        auto_load: as the argument of that name.
        listing_ttl: as the argument of that name.
        confirm_ttl: as the argument of that name.
        load_timeout: as the argument of that name.
        default_ttl: as the argument of that name.
        on_insufficient_memory: as the argument of that name.
        evict_foreign: as the argument of that name.
        scheduler: the swap scheduler (:meth:`~lmbridge.lifecycle.scheduler.SwapScheduler.queue`
            shows this manager's requests per model).

    The settings may be changed at any time: the next call that needs one reads the new value.
    """

    def __init__(
        self,
        *,
        rest: RestAPI,
        lms: LmsCli,
        auto_load: bool = True,
        listing_ttl: float = 2.0,
        confirm_ttl: float = 10.0,
        load_timeout: float = 600.0,
        default_ttl: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        events: EventEmitter | None = None,
        on_insufficient_memory: MemoryPolicy = "swap",
        evict_foreign: bool = False,
    ) -> None:
        self._events = events or EventEmitter()
        self.on_insufficient_memory: MemoryPolicy = on_insufficient_memory
        self.evict_foreign = evict_foreign
        self.auto_load = auto_load
        self.listing_ttl = listing_ttl
        self.confirm_ttl = confirm_ttl
        self.load_timeout = load_timeout
        self.default_ttl = default_ttl
        self._server = ServerAccess.to(rest, lms, clock=clock)
        # The parts read the settings above from this manager at every use, so changing one here
        # applies at once, without copies to keep in step.
        self._cache = StateCache(server=self._server, settings=self, clock=clock)
        self._resolver = Resolver(server=self._server)
        self._unloader = Unloader(server=self._server, cache=self._cache, resolver=self._resolver)
        self._fit = FitCheck(server=self._server, cache=self._cache)
        self.scheduler = SwapScheduler(
            settings=self,
            cache=self._cache,
            unloader=self._unloader,
            fit=self._fit,
            events=self._events,
        )
        self._loader = Loader(
            server=self._server,
            cache=self._cache,
            settings=self,
            clock=clock,
            events=self._events,
            room=self.scheduler,
        )
        self._downloader = Downloader(server=self._server, cache=self._cache)

    # --- public API ----------------------------------------------------------------------------

    @property
    def source(self) -> ListingSource | None:
        """Where listings come from: ``"/api/v1/models"``, ``"/api/v0/models"``, ``"lms"`` or
        ``"/v1/models"``; ``None`` until the first listing detected it."""
        return self._cache.source

    def cached_models(self) -> tuple[ModelInfo, ...]:
        """The models of the last listing read, without asking the server (empty if none)."""
        listing = self._cache.last_listing()
        return listing.models if listing is not None else ()

    async def list(self) -> ModelList:
        """The downloaded models, each with its state and loaded instances.

        The source is detected on first use and remembered (see :attr:`source`). With only
        ``/v1/models`` (servers other than LM Studio, or LM Studio older than 0.3.6 without
        ``lms``) the list holds ids only: every ``state`` is ``"unknown"``, types and capabilities
        are ``None``, and ``instances`` holds only ``<key>:N`` ids (which exist only while loaded).
        Listings are cached for ``listing_ttl`` seconds. The :class:`ModelList` is a plain list
        that shows as a table in a notebook.

        Raises:
            APIConnectionError: the server cannot be reached.
            LmsError: ``lms`` failed while it was the source.
        """
        return ModelList((await self._cache.listing()).models)

    async def loaded(self) -> InstanceList:
        """The loaded instances, with their status when ``lms`` can tell it.

        Statuses come from ``lms ps --json`` when ``lms`` is usable. REST listings carry no
        status: then every ``status`` is ``None``, meaning "loaded, status unknown". With only
        ``/v1/models`` nothing but ``<key>:N`` instances can be known.

        Raises:
            APIConnectionError: the server cannot be reached.
            LmsError: ``lms ps`` failed.
        """
        return InstanceList(await self._cache.instances())

    async def get(self, name: str) -> ModelInfo:
        """The downloaded model ``name`` means.

        Accepts a key (``"qwen/qwen3-4b"``), an instance identifier (``"qwen/qwen3-4b:2"``), a
        variant suffix (``"...@q4_k_m"``), or a partial name that matches exactly one key (such as
        the part after the publisher).

        Raises:
            ModelNotFoundError: no such model (``suggestions`` holds the closest keys), or the
                partial name is ambiguous (the message says so; ``suggestions`` lists the matches).
            ModelNotLoadedError: the source lists only loaded models (``/v1/models``, or
                ``/api/v0/models`` with JIT loading off), ``lms`` is not usable to list the
                downloaded ones, and the name is not among them.
        """
        return (await self._resolver.resolve(name, await self._cache.listing())).model

    async def ensure_loaded(
        self,
        name: str,
        *,
        ttl: int | None = None,
        context_length: int | None = None,
        gpu: str | float | None = None,
        identifier: str | None = None,
        on_progress: ProgressCallback | Literal["auto"] | None = None,
        download: bool = False,
        flash_attention: bool | None = None,
        eval_batch_size: int | None = None,
        num_experts: int | None = None,
        offload_kv_cache_to_gpu: bool | None = None,
        parallel: int | None = None,
    ) -> LoadedInstance:
        """Return a loaded instance of ``name``, loading the model only if it has none.

        1. An instance in ANY status (idle, busy, queued, status unknown) is returned as is: the
           one named when ``name`` is an identifier like ``"key:2"``, else the one named like the
           key, else an idle one. Nothing is loaded or unloaded, and the options are ignored.
        2. Otherwise the exact key is resolved from the downloaded list (a partial name is never
           passed on), the list is checked once more, and the model is loaded with, in order of
           preference: ``lms load <key> -y``, ``POST /api/v1/models/load`` (or, with
           ``on_progress``, a 1-token native chat that streams the load's progress), or JIT (the
           smallest request that makes LM Studio load it, carrying ``ttl``). The first method
           that applies every option given is used: an option is never dropped. The instance is then looked up in the listing (or, for sources
           that cannot show state, the successful JIT answer is the proof).

        Concurrent calls for one model share one load and its result or exception; different
        models load in parallel. The options of the call that starts the load apply. If that
        call is cancelled, an ``lms`` load is cancelled (``lms`` is terminated) and one of the
        other callers starts it again; a REST or JIT load cannot be called back (LM Studio
        finishes it), so until ``load_timeout`` after it started nobody loads that model again:
        the next caller waits for the instance to appear in the listing and returns it.

        Args:
            name: a key, identifier or unambiguous partial name.
            ttl: idle seconds until LM Studio unloads it (``lms``, JIT); default ``default_ttl``.
            context_length: the context length to load with (``lms``, REST).
            gpu: GPU offload, ``"off"``, ``"max"`` or a fraction (``lms`` only).
            identifier: the identifier for the new instance (``lms`` only).
            on_progress: called with the load's progress in ``0..1`` (``lms`` since 2026-05 and the
                native chat report steps; the others ``1.0`` at the end). ``"auto"``: a display, a
                bar with ``tqdm`` or ``rich`` when installed, text lines otherwise (see
                :func:`~lmbridge.progress_display`); it shows nothing when no load is needed.
            download: download the model first (:meth:`download`) when no downloaded model
                has the name.
            flash_attention: optimised attention (REST load only, as are the next three).
            eval_batch_size: input tokens processed together during evaluation.
            num_experts: experts used by a mixture-of-experts model.
            offload_kv_cache_to_gpu: whether the KV cache lives in GPU memory.
            parallel: the most predictions the instance runs at once (``lms`` only).

        Raises:
            ModelNotFoundError: unknown or ambiguous name.
            LmsNotFoundError: an option needs ``lms``, which is not usable.
            DownloadError: ``download=True`` and the download failed.
            InsufficientMemoryError: the model does not fit, even after swapping out what this
                manager may unload (``required_gb``: what it needs, when LM Studio said).
            LmsTimeoutError: ``lms load`` took longer than ``load_timeout`` (it was terminated).
            ModelNotLoadedError: a REST or JIT load failed or timed out, or JIT loading is off
                and ``lms`` is unavailable (the hint says what to install or enable).
            LmsError: ``lms load`` failed otherwise.
            LmsArgumentError: an option is invalid, or needs a method the server does not have
                (the message names it), before anything is sent.
        """
        options = LoadOptions(
            ttl=ttl,
            context_length=context_length,
            gpu=gpu,
            identifier=identifier,
            on_progress=progress_display() if on_progress == "auto" else on_progress,
            flash_attention=flash_attention,
            eval_batch_size=eval_batch_size,
            num_experts=num_experts,
            offload_kv_cache_to_gpu=offload_kv_cache_to_gpu,
            parallel=parallel,
        )
        check_load_options(name, options)
        listing = await self._cache.listing()
        try:
            resolved = await self._resolver.resolve(name, listing)
        except ModelNotFoundError as exc:
            # An ambiguous partial name matches downloaded models: downloading it would be a guess.
            if not download or "ambiguous" in exc.message:
                raise
            await self.download(name)
            listing = await self._cache.listing()
            resolved = await self._resolver.resolve(name, listing)
        return await self._loader.ensure(resolved, listing, options)

    async def download(
        self,
        key: str,
        *,
        quantization: str | None = None,
        on_progress: ProgressCallback | Literal["auto"] | None = None,
    ) -> ModelInfo:
        """Download a model and return it as listed afterwards.

        Uses ``POST /api/v1/models/download`` and polls the job (LM Studio 0.4+), else ``lms get
        <key> -y``. A model downloaded already is returned at once. Cancelling the call stops
        the polling (LM Studio may finish the download on its own).

        Args:
            key: a catalog key (``"ibm/granite-4-micro"``) or a Hugging Face link.
            quantization: e.g. ``"Q4_K_M"`` (LM Studio takes it for Hugging Face links only).
            on_progress: called with the downloaded fraction in ``0..1`` as bytes arrive, ending
                with ``1.0``; ``"auto"``: a ready-made display.

        Raises:
            DownloadError: the server (or ``lms``) refused or failed the download: ``reason``
                says why, ``job_id`` names LM Studio's job.
        """
        return await self._downloader.download(
            key,
            quantization=quantization,
            on_progress=progress_display() if on_progress == "auto" else on_progress,
        )

    async def unload(self, identifier: str, *, all_instances: bool = False) -> builtins.list[str]:
        """Unload an instance (or, with ``all_instances=True``, every instance of its model).

        ``identifier`` may be an instance identifier or a model name; a model name with several
        loaded instances needs ``all_instances=True`` or an exact identifier. The result is
        verified against a fresh listing, because ``lms unload`` exits 0 even when nothing matched.

        Returns:
            The identifiers unloaded.

        Raises:
            ModelNotLoadedError: nothing by that name is loaded.
            ModelNotFoundError: no such model at all.
            ModelError: the name matches several instances, or one is still listed afterwards.
            LmsNotFoundError: ``lms`` is not usable and the server has no REST unload (before 0.4).
        """
        unloaded = await self._unloader.unload(identifier, all_instances=all_instances)
        for name in unloaded:
            await self._events.emit(ModelUnloaded(model=name))
        return unloaded

    async def placement(self, name: str) -> Placement:
        """Where ``name`` stands on this server (see :data:`Placement`), from a listing no older
        than ``listing_ttl``, or without I/O when a recent request confirmed it loaded."""
        if self._cache.confirmed(name, "llm") or self._cache.confirmed(name, "embedding"):
            return "loaded"
        listing = await self._cache.listing()
        try:
            resolved = await self._resolver.resolve(name, listing)
        except ModelNotLoadedError:
            return "unlisted"
        except ModelNotFoundError as exc:
            if "ambiguous" in exc.message:
                raise
            return "absent" if listing.complete else "unlisted"
        if not listing.shows_state:
            return "listed"
        return "loaded" if resolved.model.instances else "downloaded"

    async def lms_status(self) -> tuple[bool, str | None]:
        """Whether ``lms`` is used for this server, and if not although it was found, why.

        ``lms`` is used only when it is installed, the base URL is on this machine and LM Studio's
        server listens on its port (see :mod:`lmbridge.lifecycle.server`).
        """
        usable = await self._server.gate.usable()
        return usable, None if usable else self._server.gate.explain()

    def invalidate(self) -> None:
        """Forget cached listings and every confirmation: the next call asks the server again.
        Models that ran out of memory before with nothing left to unload are tried again too
        (after memory was freed outside LM Studio, or its guardrails were changed)."""
        self._cache.invalidate()
        self._fit.forget()

    def forget(self, model: str) -> None:
        """Drop the "loaded" confirmation of ``model`` so the next :meth:`prepare` checks again."""
        self._cache.forget(model)
