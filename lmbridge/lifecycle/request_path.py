"""The request path of :class:`~lmbridge.lifecycle.models.ModelManager`: prepare, heal, diagnose.

Before a request (:meth:`RequestPath.prepare`) the model must be downloaded, of the right type,
and loaded (loading it when ``auto_load`` allows); a request that still fails with "not loaded"
(evicted meanwhile) is healed once (:meth:`RequestPath.heal`); one that fails again gets an error
saying what is loaded and what to try (:meth:`RequestPath.diagnose`). A base of
``ModelManager``, apart so that each module stays readable; it uses the parts the manager builds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lmbridge.errors import (
    InvalidResponseError,
    LMBridgeError,
    ModelError,
    ModelNotLoadedError,
    NotFoundError,
)
from lmbridge.events import EventEmitter, Heal
from lmbridge.lifecycle.checks import check_kind, not_loaded
from lmbridge.lifecycle.loaders import LoadOptions
from lmbridge.lifecycle.types import LoadedInstance, RequestKind

if TYPE_CHECKING:
    from lmbridge.lifecycle.cache import StateCache
    from lmbridge.lifecycle.loaders import Loader
    from lmbridge.lifecycle.resolve import Resolver
    from lmbridge.lifecycle.scheduler import SwapScheduler
    from lmbridge.lifecycle.server import ServerAccess

__all__ = ["RequestPath"]


class RequestPath:
    """What the Bridge asks of the model manager before a request, after it failed, and after it
    failed twice."""

    auto_load: bool
    scheduler: SwapScheduler
    _cache: StateCache
    _resolver: Resolver
    _loader: Loader
    _server: ServerAccess
    _events: EventEmitter

    # --- the request path: what the Bridge asks before a request, after it failed, and after it
    # failed twice ---------------------------------------------------------------------------

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
        confirmed = self._cache.confirmed(model, kind)
        if confirmed is not None:
            return confirmed
        if self._cache.source == "/v1/models":
            return model
        try:
            listing = await self._cache.listing()
        except (NotFoundError, InvalidResponseError):
            if self.auto_load:
                raise
            # Nothing will be loaded, so nothing needs a listing: the server answers the request
            # (and for confirm_ttl the listing is not asked for again).
            unlisted = LoadedInstance(identifier=model, model_key=model)
            return self._cache.confirm(model, kind, unlisted)
        if not listing.shows_state:
            return model
        resolved = await self._resolver.resolve(model, listing)
        check_kind(model, resolved.model, kind)
        if not self.auto_load and not resolved.model.instances:
            raise not_loaded(model, resolved.model, listing)
        instance = await self._loader.ensure(resolved, listing, LoadOptions())
        return self._cache.confirm(model, kind, instance)

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
        self._cache.forget(model)
        self._cache.drop_listings()
        try:
            listing = await self._cache.listing()
        except (NotFoundError, InvalidResponseError):
            if self.auto_load:
                raise
            raise error from None  # no listing, and nothing to load: the server's answer stands
        try:
            resolved = await self._resolver.resolve(model, listing)
            check_kind(model, resolved.model, kind)
        except ModelError as exc:
            raise exc from error
        if not self.auto_load and not (listing.shows_state and resolved.model.instances):
            raise not_loaded(model, resolved.model, listing) from error
        instance = await self._loader.ensure(resolved, listing, LoadOptions())
        name = self._cache.confirm(model, kind, instance)
        await self._events.emit(Heal(model=name, requested=model, reason=type(error).__name__))
        return name

    async def diagnose(self, model: str, error: LMBridgeError) -> ModelNotLoadedError:
        """Build the error for a request that failed again after :meth:`heal` and one retry.

        The error says what is loaded now, whether ``lms`` was found, and what to try. Gathering
        the diagnostics never raises: what could not be found out is reported as unknown.
        """
        self._cache.forget(model)
        self._cache.drop_listings()
        lms_found = await self._server.lms.locate() is not None
        loaded: list[str] | None
        try:
            loaded = [instance.identifier for instance in await self._cache.instances()]
        except LMBridgeError:
            loaded = None  # reported as unknown: gathering diagnostics must not raise
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
        elif self._server.gate.problem:
            tips.append(f"`lms` was found but not used: {self._server.gate.explain()}")
        tips.append("LM Studio's server log says why it did not serve the model.")
        tips.append(self.scheduler.describe())
        return ModelNotLoadedError(
            f"{model!r} is still not available after loading it and retrying once: {error.message}",
            loaded=loaded,
            lms_found=lms_found,
            model=model,
            url=error.url,
            status_code=error.status_code,
            body=error.body,
            hint=" ".join(tip for tip in tips if tip),
        )
