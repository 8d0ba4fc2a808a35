"""Unloading: which instances a name means, unloading them, and checking that they are gone.

The check is needed because ``lms unload`` exits 0 even when nothing matched. And it decides: a
failed unload is not an error by itself (LM Studio does not document how its REST unload answers an
unknown instance, and an instance can be evicted between the listing and the unload): what is still
listed afterwards is.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lmbridge.errors import (
    APIStatusError,
    LMBridgeError,
    LmsError,
    LmsNotFoundError,
    ModelError,
    ModelNotLoadedError,
)

if TYPE_CHECKING:
    from lmbridge.lifecycle.cache import StateCache
    from lmbridge.lifecycle.resolve import Resolver
    from lmbridge.lifecycle.server import ServerAccess
    from lmbridge.lifecycle.types import LoadedInstance

__all__ = ["Unloader"]


class Unloader:
    """Unloads instances with ``lms unload`` or, without ``lms``, LM Studio's REST API (0.4+).

    Args:
        server: the server to unload on.
        cache: the listings to read; everything in it is forgotten after unloading.
        resolver: turns a model name into its key.
    """

    def __init__(self, *, server: ServerAccess, cache: StateCache, resolver: Resolver) -> None:
        self._server = server
        self._cache = cache
        self._resolver = resolver

    async def unload(self, name: str, *, all_instances: bool) -> list[str]:
        """Unload the instance ``name`` means (or every instance of its model); see
        :meth:`~lmbridge.lifecycle.models.ModelManager.unload`.

        Returns:
            The identifiers unloaded.
        """
        use_lms = await self._server.gate.usable()
        if not use_lms and self._cache.source is None:
            await self._cache.listing()  # detects the source: is there a REST unload?
        if not use_lms and self._cache.source != "/api/v1/models":
            raise LmsNotFoundError(
                "Unloading needs the `lms` CLI or LM Studio's REST API (0.4+); neither is usable.",
                model=name,
            )
        self._cache.drop_listings()
        instances = await self._cache.instances()
        targets = await self._targets(name, instances, all_instances=all_instances)
        failure: LMBridgeError | None = None
        for target in targets:
            try:
                if use_lms:
                    await self._server.lms.unload(target.identifier)
                else:
                    await self._server.rest.post_json(
                        "/api/v1/models/unload",
                        {"instance_id": target.identifier},
                        model=target.identifier,
                    )
            except (APIStatusError, LmsError, ModelError) as exc:
                # Gone already (unloaded or evicted meanwhile), or a refusal: the listing below
                # decides, and this error becomes the cause if the instance is still there.
                failure = failure or exc
        # Confirmations go too: a name confirmed loaded may name what was just unloaded.
        self._cache.invalidate()
        remaining = {instance.identifier for instance in await self._cache.instances()}
        still = [target.identifier for target in targets if target.identifier in remaining]
        if still:
            raise ModelError(
                f"Still loaded after unloading: {', '.join(still)}."
                + (f" The unload failed: {failure.message}" if failure else ""),
                model=name,
                hint="Check LM Studio's log; try `lms unload <identifier>` by hand.",
            ) from failure
        return [target.identifier for target in targets]

    async def _targets(
        self, name: str, instances: list[LoadedInstance], *, all_instances: bool
    ) -> list[LoadedInstance]:
        exact = [instance for instance in instances if instance.identifier == name]
        if exact and not all_instances:
            return exact
        resolved = await self._resolver.resolve(name, await self._cache.listing())
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
