"""The request path: what the Bridge asks before a request, after it failed, and after it failed twice.

Before a request (:meth:`RequestGuard.prepare`) the model must be able to serve it: downloaded, of
the right type, and loaded (loading it when ``auto_load`` allows). A request that still fails with
"not loaded" (evicted meanwhile) is healed once (:meth:`RequestGuard.heal`); one that fails again
gets an error saying what is loaded and what to try (:meth:`RequestGuard.diagnose`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lmbridge.errors import LMBridgeError, ModelError, ModelNotLoadedError, WrongModelTypeError
from lmbridge.lifecycle.loaders import LoadOptions

if TYPE_CHECKING:
    from lmbridge.lifecycle.access import ServerAccess
    from lmbridge.lifecycle.cache import StateCache
    from lmbridge.lifecycle.listing import Listing
    from lmbridge.lifecycle.loaders import Loader
    from lmbridge.lifecycle.resolve import Resolver
    from lmbridge.lifecycle.types import ModelInfo, ModelType, RequestKind

__all__ = ["RequestGuard"]


class RequestGuard:
    """Keeps requests pointed at a loaded model of the right type.

    Args:
        server: the server (whether ``lms`` was found and used goes into diagnostics).
        cache: listings and "loaded" confirmations.
        resolver: turns a name into a model.
        loader: loads a model that has no instance.
        auto_load: whether a downloaded model without an instance is loaded, or refused.

    Attributes:
        auto_load: as given; may be changed later.
    """

    def __init__(
        self,
        *,
        server: ServerAccess,
        cache: StateCache,
        resolver: Resolver,
        loader: Loader,
        auto_load: bool,
    ) -> None:
        self._server = server
        self._cache = cache
        self._resolver = resolver
        self._loader = loader
        self.auto_load = auto_load

    async def prepare(self, model: str, *, kind: RequestKind) -> str:
        """The name to send for ``model``; see :meth:`~lmbridge.lifecycle.models.ModelManager.prepare`."""
        confirmed = self._cache.confirmed(model, kind)
        if confirmed is not None:
            return confirmed
        if self._cache.source == "/v1/models":
            return model
        listing = await self._cache.listing()
        if not listing.shows_state:
            return model
        resolved = await self._resolver.resolve(model, listing)
        _check_kind(model, resolved.model, kind)
        if not self.auto_load and not resolved.model.instances:
            raise _not_loaded(model, resolved.model, listing)
        instance = await self._loader.ensure(resolved, listing, LoadOptions())
        return self._cache.confirm(model, kind, instance)

    async def heal(self, model: str, error: LMBridgeError, *, kind: RequestKind) -> str:
        """The name to retry with; see :meth:`~lmbridge.lifecycle.models.ModelManager.heal`."""
        self._cache.forget(model)
        self._cache.drop_listings()
        listing = await self._cache.listing()
        try:
            resolved = await self._resolver.resolve(model, listing)
            _check_kind(model, resolved.model, kind)
        except ModelError as exc:
            raise exc from error
        if not self.auto_load and not (listing.shows_state and resolved.model.instances):
            raise _not_loaded(model, resolved.model, listing) from error
        instance = await self._loader.ensure(resolved, listing, LoadOptions())
        return self._cache.confirm(model, kind, instance)

    async def diagnose(self, model: str, error: LMBridgeError) -> ModelNotLoadedError:
        """The error for a request that failed twice; see
        :meth:`~lmbridge.lifecycle.models.ModelManager.diagnose`."""
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
            tips.append(f"`lms` was found but not used: {self._server.gate.problem}")
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


def _serves(model_type: ModelType | None, kind: RequestKind) -> bool:
    if model_type is None:
        return True  # the source does not say: let the server answer
    return (model_type == "embedding") == (kind == "embedding")


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


def _not_loaded(name: str, model: ModelInfo, listing: Listing) -> ModelNotLoadedError:
    return ModelNotLoadedError(
        f"{model.key!r} is not loaded (never loaded, unloaded or evicted), and auto_load is off.",
        model=name,
        loaded=[instance.identifier for instance in listing.instances],
        hint=(
            f"Load it first: `lms load {model.key}` or `await bridge.models.ensure_loaded"
            f"({model.key!r})`, or create Bridge(auto_load=True)."
        ),
    )
