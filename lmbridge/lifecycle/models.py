"""``bridge.models``: list, find, load and unload models, and keep requests pointed at loaded ones.

See the "Model lifecycle" docs page for the LM Studio behaviour behind each rule here.
"""

from __future__ import annotations

import builtins
import contextlib
import inspect
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import anyio

from lmbridge.errors import (
    APIStatusError,
    APITimeoutError,
    InsufficientMemoryError,
    LMBridgeError,
    LmsNotFoundError,
    ModelError,
    ModelNotFoundError,
    ModelNotLoadedError,
    NotFoundError,
    WrongModelTypeError,
)
from lmbridge.lifecycle.gate import LmsGate
from lmbridge.lifecycle.listing import Lister, Listing, instance_from_lms, listing_from_lms
from lmbridge.lifecycle.resolve import Resolved, find, not_found_error
from lmbridge.lifecycle.singleflight import SingleFlight
from lmbridge.lifecycle.types import ListingSource, LoadedInstance, ModelInfo, ModelType

if TYPE_CHECKING:
    from lmbridge.lifecycle.lms import LmsCli
    from lmbridge.lifecycle.rest import RestAPI

__all__ = ["ModelManager", "RequestKind"]

RequestKind = Literal["llm", "embedding"]
"""What a request needs: a model that chats (``"llm"``, also served by a vlm) or one that embeds."""

ProgressCallback = Callable[[float], object]
T = TypeVar("T")

_OUT_OF_MEMORY = re.compile(r"insufficient|requires approximately|out of memory", re.I)
_REQUIRED_GB = re.compile(r"requires approximately\s+(\d+(?:\.\d+)?)\s*GB", re.I)
_JIT_HINT = (
    "Install the `lms` CLI (it ships with LM Studio: run LM Studio once, or pass "
    "Bridge(lms_path=...)) so lmbridge can load models itself, or turn on JIT loading in LM Studio "
    "(Developer > Server Settings > Just-in-Time model loading)."
)


@dataclass(frozen=True)
class _LoadOptions:
    ttl: int | None
    context_length: int | None
    gpu: str | float | None
    identifier: str | None
    on_progress: ProgressCallback | None

    def unsupported(self, *, explicit_ttl: bool, supported: set[str]) -> list[str]:
        given = {
            "ttl": explicit_ttl,
            "context_length": self.context_length is not None,
            "gpu": self.gpu is not None,
            "identifier": self.identifier is not None,
        }
        return [name for name, present in given.items() if present and name not in supported]


def _guess_type(key: str) -> ModelType:
    """For sources that do not say (``/v1/models``): embedding model ids name themselves."""
    return "embedding" if "embed" in key.lower() else "llm"


def _serves(model_type: ModelType | None, kind: RequestKind) -> bool:
    if model_type is None:
        return True
    return (model_type == "embedding") == (kind == "embedding")


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


def _load_failure(key: str, exc: APIStatusError, *, via: str) -> LMBridgeError:
    """The typed error for a load the server refused: out of memory, or not loaded."""
    message = f"LM Studio could not load {key!r} through {via}: {exc.message}"
    if _OUT_OF_MEMORY.search(exc.message):
        required = _REQUIRED_GB.search(exc.message)
        return InsufficientMemoryError(
            message, required_gb=float(required.group(1)) if required else None, model=key
        )
    return ModelNotLoadedError(
        message, model=key, url=exc.url, status_code=exc.status_code, body=exc.body
    )


class ModelManager:
    """Lists, finds, loads and unloads models; available as ``bridge.models``.

    Every instance LM Studio lists is loaded, whatever its status: ``idle`` means loaded and free,
    ``processingPrompt``/``generating``/``computingEmbedding`` (or queued requests) mean loaded and
    busy. The manager never loads a model that has an instance, and never unloads one to "fix" it.

    Args:
        rest: the HTTP client (the transport implements :class:`~lmbridge.lifecycle.rest.RestAPI`).
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
    ) -> None:
        self._rest = rest
        self._lms = lms
        self._gate = LmsGate(lms=lms, base_url=rest.base_url)
        self._lister = Lister(rest=rest, lms=lms, lms_usable=self._gate.usable)
        self.auto_load = auto_load
        self.listing_ttl = listing_ttl
        self.confirm_ttl = confirm_ttl
        self.load_timeout = load_timeout
        self.default_ttl = default_ttl
        self._clock = clock
        # Cache generation: bumped by every invalidation, so a read that started before it cannot
        # put its (older) answer back into the cache.
        self._generation = 0
        self._listing: tuple[float, Listing] | None = None
        self._instances: tuple[float, list[LoadedInstance]] | None = None
        self._reads: SingleFlight[Any] = SingleFlight()
        self._loads: SingleFlight[LoadedInstance] = SingleFlight()
        # (name, kind) -> (when confirmed, the identifier to send)
        self._confirmed: dict[tuple[str, RequestKind], tuple[float, str]] = {}

    # --- public API ----------------------------------------------------------------------------

    @property
    def source(self) -> ListingSource | None:
        """Where listings come from: ``"/api/v1/models"``, ``"/api/v0/models"``, ``"lms"`` or
        ``"/v1/models"``; ``None`` until the first listing detected it."""
        return self._lister.source

    async def list(self) -> builtins.list[ModelInfo]:
        """The downloaded models, each with its state and loaded instances.

        The source is detected on first use and remembered (see :attr:`source`). With only
        ``/v1/models`` (servers other than LM Studio, or LM Studio older than 0.3.6 without
        ``lms``) the list holds ids only: every ``state`` is ``"unknown"``, types and capabilities
        are ``None``, and ``instances`` holds only ``<key>:N`` ids (which exist only while loaded).
        Listings are cached for ``listing_ttl`` seconds.

        Raises:
            APIConnectionError: the server cannot be reached.
            LmsError: ``lms`` failed while it was the source.
        """
        return [*(await self._listing_now()).models]

    async def loaded(self) -> builtins.list[LoadedInstance]:
        """The loaded instances, with their status when ``lms`` can tell it.

        Statuses come from ``lms ps --json`` when ``lms`` is usable. REST listings carry no
        status: then every ``status`` is ``None``, meaning "loaded, status unknown". With only
        ``/v1/models`` nothing but ``<key>:N`` instances can be known.

        Raises:
            APIConnectionError: the server cannot be reached.
            LmsError: ``lms ps`` failed.
        """
        return [*(await self._instances_now())]

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
        return (await self._resolve(name, await self._listing_now())).model

    async def ensure_loaded(
        self,
        name: str,
        *,
        ttl: int | None = None,
        context_length: int | None = None,
        gpu: str | float | None = None,
        identifier: str | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> LoadedInstance:
        """Return a loaded instance of ``name``, loading the model only if it has none.

        1. An instance in ANY status (idle, busy, queued, status unknown) is returned as is: the
           one named when ``name`` is an identifier like ``"key:2"``, else the one named like the
           key, else an idle one. Nothing is loaded or unloaded, and the options are ignored.
        2. Otherwise the exact key is resolved from the downloaded list (a partial name is never
           passed on), the list is checked once more, and the model is loaded with, in order of
           preference: ``lms load <key> -y``, ``POST /api/v1/models/load``, or JIT (the smallest
           request that makes LM Studio load it: a 1-token chat, or a one-input embedding,
           carrying ``ttl``). The instance is then looked up in the listing (or, for sources
           that cannot show state, the successful JIT answer is the proof).

        Concurrent calls for one model share one load and its result or exception; different
        models load in parallel. The options of the call that starts the load apply. If that
        call is cancelled, its load is cancelled (``lms`` is terminated) and one of the other
        callers starts it again.

        Args:
            name: a key, identifier or unambiguous partial name.
            ttl: idle seconds until LM Studio unloads it (``lms``, JIT); default ``default_ttl``.
            context_length: the context length to load with (``lms``, REST).
            gpu: GPU offload, ``"off"``, ``"max"`` or a fraction (``lms`` only).
            identifier: the identifier for the new instance (``lms`` only).
            on_progress: called with the load's progress in ``0..1`` (``lms`` reports steps; the
                other methods report ``1.0`` at the end).

        Raises:
            ModelNotFoundError: unknown or ambiguous name.
            LmsNotFoundError: an option needs ``lms``, which is not usable.
            InsufficientMemoryError: the model does not fit (``lms`` or REST; ``required_gb`` says
                how much it needs, when LM Studio said).
            LmsTimeoutError: ``lms load`` took longer than ``load_timeout`` (it was terminated).
            ModelNotLoadedError: a REST or JIT load failed or timed out, or JIT loading is off
                and ``lms`` is unavailable (the hint says what to install or enable).
            LmsError: ``lms load`` failed otherwise.
        """
        listing = await self._listing_now()
        resolved = await self._resolve(name, listing)
        options = _LoadOptions(
            ttl=ttl if ttl is not None else self.default_ttl,
            context_length=context_length,
            gpu=gpu,
            identifier=identifier,
            on_progress=on_progress,
        )
        return await self._ensure(resolved, listing, options, explicit_ttl=ttl is not None)

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
        use_lms = await self._gate.usable()
        if not use_lms and self._lister.source is None:
            await self._listing_now()
        if not use_lms and self._lister.source != "/api/v1/models":
            raise LmsNotFoundError(
                "Unloading needs the `lms` CLI or LM Studio's REST API (0.4+); neither is usable.",
                model=identifier,
            )
        self._drop_cache()
        instances = await self._instances_now()
        targets = await self._unload_targets(identifier, instances, all_instances=all_instances)
        for target in targets:
            # Gone already (unloaded or evicted meanwhile) is fine: verified below.
            with contextlib.suppress(ModelNotLoadedError, ModelNotFoundError):
                if use_lms:
                    await self._lms.unload(target.identifier)
                else:
                    await self._rest.post_json(
                        "/api/v1/models/unload",
                        {"instance_id": target.identifier},
                        model=target.identifier,
                    )
        self.invalidate()
        remaining = {instance.identifier for instance in await self._instances_now()}
        still = [target.identifier for target in targets if target.identifier in remaining]
        if still:
            raise ModelError(
                f"Still loaded after unloading: {', '.join(still)}.",
                model=identifier,
                hint="Check LM Studio's log; try `lms unload <identifier>` by hand.",
            )
        return [target.identifier for target in targets]

    def invalidate(self) -> None:
        """Forget cached listings and every confirmation: the next call asks the server again."""
        self._drop_cache()
        self._confirmed.clear()

    def forget(self, model: str) -> None:
        """Drop the "loaded" confirmation of ``model`` so the next :meth:`prepare` checks again."""
        self._confirmed.pop((model, "llm"), None)
        self._confirmed.pop((model, "embedding"), None)

    # --- for the facade, on every request ----------------------------------------------------

    async def prepare(self, model: str, *, kind: RequestKind) -> str:
        """Make sure a request for ``model`` can be served; called before every request.

        - A confirmation younger than ``confirm_ttl`` returns at once (a dict lookup, no I/O).
        - A source that cannot show state (``/v1/models`` only, e.g. llama.cpp, which answers any
          model name) does nothing: the server answers.
        - An unknown name raises :class:`ModelNotFoundError` with suggestions (nothing is loaded).
        - A model of the wrong type (an embedding model for chat, or the reverse) raises
          :class:`~lmbridge.errors.ModelError` before anything is sent.
        - A downloaded model without an instance is loaded (:meth:`ensure_loaded`) when
          ``auto_load`` is on; otherwise :class:`ModelNotLoadedError` is raised, and no request is
          sent that would make the server load it.

        Args:
            model: the model the request names.
            kind: ``"llm"`` for chat/completions/responses, ``"embedding"`` for embeddings.

        Returns:
            The name to send: the identifier of the instance ``model`` resolved to (``"gemma"``
            becomes ``"google/gemma-3-4b"``), or ``model`` unchanged when the server cannot show
            state.
        """
        confirmed = self._confirmed.get((model, kind))
        if confirmed is not None and self._clock() - confirmed[0] < self.confirm_ttl:
            return confirmed[1]
        if self._lister.source == "/v1/models":
            return model
        listing = await self._listing_now()
        if not listing.shows_state:
            return model
        resolved = await self._resolve(model, listing)
        self._check_kind(model, resolved.model, kind)
        if not self.auto_load and not resolved.model.instances:
            raise self._not_loaded(model, resolved.model, listing)
        instance = await self._ensure(
            resolved, listing, self._default_options(), explicit_ttl=False
        )
        return self._confirm(model, kind, instance)

    async def heal(self, model: str, error: LMBridgeError, *, kind: RequestKind) -> str:
        """Called after a request for ``model`` failed with "not loaded" or "not found".

        Drops the caches, then: a name that is not downloaded raises
        :class:`ModelNotFoundError` with suggestions; with ``auto_load`` off a model that has no
        instance raises :class:`ModelNotLoadedError`; otherwise the model is loaded (or found
        loaded again), and the caller retries its request once.

        Returns:
            The name to retry with (as :meth:`prepare` returns it).

        Raises:
            ModelNotFoundError: a typo (the failed request's error is the ``__cause__``).
            ModelNotLoadedError: not loaded and ``auto_load`` is off, or loading failed.
            ModelError: the model's type does not serve ``kind``.
        """
        self.forget(model)
        self._drop_cache()
        listing = await self._listing_now()
        try:
            resolved = await self._resolve(model, listing)
            self._check_kind(model, resolved.model, kind)
        except ModelError as exc:
            raise exc from error
        if not self.auto_load and not (listing.shows_state and resolved.model.instances):
            raise self._not_loaded(model, resolved.model, listing) from error
        instance = await self._ensure(
            resolved, listing, self._default_options(), explicit_ttl=False
        )
        return self._confirm(model, kind, instance)

    async def diagnose(self, model: str, error: LMBridgeError) -> ModelNotLoadedError:
        """Build the error for a request that failed again after :meth:`heal` and one retry.

        The error says what is loaded now, whether ``lms`` was found, and what to try. Gathering
        the diagnostics never raises: what could not be found out is reported as unknown.
        """
        self.forget(model)
        self._drop_cache()
        lms_found = await self._lms.locate() is not None
        loaded: builtins.list[str] | None
        try:
            loaded = [instance.identifier for instance in await self._instances_now()]
        except LMBridgeError:
            loaded = None
        tips = []
        if loaded is not None:
            shown = ", ".join(loaded) if loaded else "nothing"
            tips.append(f"Loaded now: {shown}.")
            if loaded:
                tips.append(
                    "LM Studio may be evicting it for another model (auto-evict keeps one JIT-loaded "
                    f"model): load it with `lms load {model}`, which is never auto-evicted, or turn "
                    "auto-evict off."
                )
        if not lms_found:
            tips.append("The `lms` CLI was not found; with it lmbridge loads models reliably.")
        elif self._gate.problem:
            tips.append(f"`lms` was found but not used: {self._gate.problem}")
        tips.append("LM Studio's server log says why it did not serve the model.")
        return ModelNotLoadedError(
            f"{model!r} is still not available after loading it and retrying once: {error.message}",
            loaded=loaded,
            lms_found=lms_found,
            model=model,
            url=error.url,
            status_code=error.status_code,
            body=error.body,
            hint=" ".join(tips),
        )

    # --- caches ----------------------------------------------------------------------------------

    def _confirm(self, model: str, kind: RequestKind, instance: LoadedInstance) -> str:
        self._confirmed[(model, kind)] = (self._clock(), instance.identifier)
        return instance.identifier

    def _drop_cache(self) -> None:
        self._generation += 1
        self._listing = None
        self._instances = None

    def _fresh(self, entry: tuple[float, Any] | None) -> bool:
        return entry is not None and self._clock() - entry[0] < self.listing_ttl

    async def _read(self, what: str, job: Callable[[], Awaitable[T]]) -> tuple[bool, T]:
        """Run a read shared by concurrent callers; say whether its answer may be cached."""
        generation = self._generation
        result: T = await self._reads.run((what, generation), job)
        return generation == self._generation, result

    async def _listing_now(self) -> Listing:
        if self._listing is not None and self._fresh(self._listing):
            return self._listing[1]
        current, listing = await self._read("listing", self._lister.fetch)
        if current:
            self._listing = (self._clock(), listing)
        return listing

    async def _instances_now(self) -> builtins.list[LoadedInstance]:
        if self._lister.source == "lms" or not await self._gate.usable():
            return (await self._listing_now()).instances
        if self._instances is not None and self._fresh(self._instances):
            return self._instances[1]
        current, instances = await self._read("ps", self._ps)
        if current:
            self._instances = (self._clock(), instances)
        return instances

    async def _ps(self) -> builtins.list[LoadedInstance]:
        return [instance_from_lms(row) for row in await self._lms.ps()]

    # --- resolution ------------------------------------------------------------------------------

    async def _resolve(self, name: str, listing: Listing) -> Resolved:
        url = self._listing_url(listing)
        found = find(name, listing.models, url=url)
        if found is not None:
            return found
        keys = [model.key for model in listing.models]
        if listing.complete:
            raise not_found_error(name, keys, url=url)
        # The listing may hold loaded models only (JIT loading off): ask lms for the downloaded ones.
        if listing.source != "lms" and await self._gate.usable():
            downloaded = listing_from_lms(await self._lms.ls(), [])
            found = find(name, downloaded.models, url="lms ls")
            if found is None:
                raise not_found_error(
                    name, [model.key for model in downloaded.models], url="lms ls"
                )
            return found
        close = not_found_error(name, keys).suggestions
        raise ModelNotLoadedError(
            f"{name!r} is not in the server's model list, which may hold loaded models only (JIT "
            "loading off): it may be downloaded but not loaded.",
            model=name,
            url=url,
            lms_found=await self._lms.locate() is not None,
            loaded=[instance.identifier for instance in listing.instances] or None,
            hint=("Did you mean " + " or ".join(map(repr, close)) + "? " if close else "")
            + "With the `lms` CLI usable, lmbridge could tell whether it is downloaded and load it; "
            "otherwise load it in LM Studio or turn on JIT loading.",
        )

    def _listing_url(self, listing: Listing) -> str:
        if listing.source == "lms":
            return "lms ls"
        return self._rest.base_url.rstrip("/") + listing.source

    @staticmethod
    def _check_kind(name: str, model: ModelInfo, kind: RequestKind) -> None:
        if _serves(model.type, kind):
            return
        if kind == "embedding":
            message = f"{model.key!r} is a {model.type} model: it cannot compute embeddings."
            hint = "Use an embedding model (e.g. a `text-embedding-...` key) for embed()."
        else:
            message = f"{model.key!r} is an embedding model: it cannot chat or complete text."
            hint = "Use an llm or vlm model for chat; embedding models only serve embed()."
        raise WrongModelTypeError(message, model=name, hint=hint)

    def _not_loaded(self, name: str, model: ModelInfo, listing: Listing) -> ModelNotLoadedError:
        return ModelNotLoadedError(
            f"{model.key!r} is not loaded (never loaded, unloaded or evicted), and auto_load is off.",
            model=name,
            loaded=[instance.identifier for instance in listing.instances],
            hint=(
                f"Load it first: `lms load {model.key}` or `await bridge.models.ensure_loaded"
                f"({model.key!r})`, or create Bridge(auto_load=True)."
            ),
        )

    # --- loading ---------------------------------------------------------------------------------

    def _default_options(self) -> _LoadOptions:
        return _LoadOptions(
            ttl=self.default_ttl, context_length=None, gpu=None, identifier=None, on_progress=None
        )

    async def _ensure(
        self,
        resolved: Resolved,
        listing: Listing,
        options: _LoadOptions,
        *,
        explicit_ttl: bool,
    ) -> LoadedInstance:
        key = resolved.model.key
        found = _pick(listing.instances, key, resolved.identifier)
        if found is not None:
            return found

        async def load() -> LoadedInstance:
            return await self._load(resolved, options, explicit_ttl=explicit_ttl)

        return await self._loads.run(key, load)

    async def _load(
        self, resolved: Resolved, options: _LoadOptions, *, explicit_ttl: bool
    ) -> LoadedInstance:
        model = resolved.model
        self._drop_cache()
        # Look once more: another process (or a load that just ended) may have loaded it.
        if await self._gate.usable():
            found = _pick(await self._instances_now(), model.key, resolved.identifier)
            return found or await self._load_with_lms(model, options)
        listing = await self._listing_now()
        if listing.shows_state:
            found = _pick(listing.instances, model.key, resolved.identifier)
            if found is not None:
                return found
        # An explicit ttl skips the REST load (which takes none) for JIT (which carries it).
        if listing.source == "/api/v1/models" and not options.unsupported(
            explicit_ttl=explicit_ttl, supported={"context_length"}
        ):
            try:
                return await self._load_with_rest(model, options)
            except NotFoundError:
                pass  # the server has no load route after all: JIT is left
        missing = options.unsupported(explicit_ttl=explicit_ttl, supported={"ttl"})
        if missing:
            raise LmsNotFoundError(
                f"Loading {model.key!r} with {', '.join(missing)} needs the `lms` CLI, which is not "
                "usable here (LM Studio's REST load takes only context_length, JIT loading only ttl)."
                + (f" {self._gate.problem}" if self._gate.problem else ""),
                model=model.key,
            )
        return await self._load_with_jit(model, options)

    async def _load_with_lms(self, model: ModelInfo, options: _LoadOptions) -> LoadedInstance:
        try:
            outcome = await self._lms.load(
                model.key,
                ttl=options.ttl,
                context_length=options.context_length,
                gpu=options.gpu,
                identifier=options.identifier,
                on_progress=options.on_progress,
                timeout=self.load_timeout,
            )
        except LMBridgeError as exc:
            if exc.model is None:
                exc.model = model.key  # e.g. a timeout: say which model's load it was
            raise
        self._drop_cache()
        wanted = outcome.identifier or options.identifier
        return self._verify(model, await self._instances_now(), wanted, via="lms load")

    async def _load_with_rest(self, model: ModelInfo, options: _LoadOptions) -> LoadedInstance:
        body: dict[str, Any] = {"model": model.key}
        if options.context_length is not None:
            body["context_length"] = options.context_length
        answer = await self._timed_post("/api/v1/models/load", body, model, via="the REST API")
        self._drop_cache()
        wanted = answer.get("instance_id") if isinstance(answer, dict) else None
        found = self._verify(
            model, (await self._listing_now()).instances, wanted, via="the REST API"
        )
        await self._report_done(options)
        return found

    async def _load_with_jit(self, model: ModelInfo, options: _LoadOptions) -> LoadedInstance:
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
        if options.ttl is not None:
            body["ttl"] = options.ttl
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
                lms_found=await self._lms.locate() is not None,
                hint=_JIT_HINT,
            ) from exc
        self._drop_cache()
        listing = await self._listing_now()
        if listing.shows_state:
            found = self._verify(model, listing.instances, None, via="JIT loading")
        else:
            # /v1/models cannot show state: the successful answer is the proof.
            found = LoadedInstance(identifier=model.key, model_key=model.key, type=kind)
        await self._report_done(options)
        return found

    async def _timed_post(
        self, path: str, body: dict[str, Any], model: ModelInfo, *, via: str
    ) -> Any:
        url = self._rest.base_url.rstrip("/") + path
        try:
            with anyio.fail_after(self.load_timeout):
                return await self._rest.post_json(
                    path, body, timeout=self.load_timeout, model=model.key
                )
        except (TimeoutError, APITimeoutError) as exc:
            raise ModelNotLoadedError(
                f"Loading {model.key!r} through {via} took longer than load_timeout="
                f"{self.load_timeout:g} s; LM Studio may still finish it in the background.",
                model=model.key,
                url=url,
                hint="Raise Bridge(load_timeout=...) for large models, or load it beforehand.",
            ) from exc
        except NotFoundError:
            raise  # a missing route: the caller falls back to another way of loading
        except APIStatusError as exc:
            raise _load_failure(model.key, exc, via=via) from exc

    @staticmethod
    async def _report_done(options: _LoadOptions) -> None:
        if options.on_progress is not None:
            result = options.on_progress(1.0)
            if inspect.isawaitable(result):
                await result

    def _verify(
        self,
        model: ModelInfo,
        instances: builtins.list[LoadedInstance],
        wanted: str | None,
        *,
        via: str,
    ) -> LoadedInstance:
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

    # --- unloading -------------------------------------------------------------------------------

    async def _unload_targets(
        self, name: str, instances: builtins.list[LoadedInstance], *, all_instances: bool
    ) -> builtins.list[LoadedInstance]:
        exact = [instance for instance in instances if instance.identifier == name]
        if exact and not all_instances:
            return exact
        resolved = await self._resolve(name, await self._listing_now())
        key = resolved.model.key
        of_key = [instance for instance in instances if instance.model_key == key]
        if all_instances:
            targets = of_key
        elif resolved.identifier is not None:
            targets = [
                instance for instance in of_key if instance.identifier == resolved.identifier
            ]
        elif len(of_key) > 1:
            ids = [instance.identifier for instance in of_key]
            raise ModelError(
                f"{name!r} has {len(ids)} loaded instances ({', '.join(ids)}): which one?",
                model=name,
                hint="Pass one identifier, or all_instances=True to unload them all.",
            )
        else:
            targets = of_key
        if not targets:
            loaded = [instance.identifier for instance in instances]
            raise ModelNotLoadedError(
                f"{name!r} is not loaded, so there is nothing to unload.",
                model=name,
                loaded=loaded,
                hint=("Loaded now: " + ", ".join(loaded) + ".") if loaded else "Nothing is loaded.",
            )
        return targets
