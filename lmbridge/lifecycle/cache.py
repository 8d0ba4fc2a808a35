"""What the model manager remembers about the server's models, and for how long.

Asking the server before every request would double the requests, so two things are remembered,
both aged by one monotonic clock:

- listings (and ``lms ps`` statuses), reused for ``listing_ttl`` seconds; concurrent reads share one
  request;
- confirmations that a name is served by a loaded instance, which let the request path skip the
  listing altogether for ``confirm_ttl`` seconds.

It also keeps the loads a cancelled caller abandoned (see :mod:`~lmbridge.lifecycle.loaders`):
every listing that shows an instance of such a model ends its record, whoever asked for it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from lmbridge.lifecycle.listing import Lister
from lmbridge.lifecycle.parsers import Listing, instance_from_lms, on_server
from lmbridge.lifecycle.singleflight import SingleFlight
from lmbridge.lifecycle.types import ListingSource, LoadedInstance, RequestKind

if TYPE_CHECKING:
    from lmbridge.lifecycle.server import ServerAccess

__all__ = ["CacheSettings", "StateCache"]

T = TypeVar("T")


class CacheSettings(Protocol):
    """The ages the cache works with, read at every use so a change applies at once."""

    listing_ttl: float
    """Seconds a listing is reused."""
    confirm_ttl: float
    """Seconds a confirmation is trusted."""


class StateCache:
    """Listings, instance statuses and "loaded" confirmations, each reused while young enough.

    Args:
        server: the server to list (through its REST API or ``lms``).
        settings: ``listing_ttl`` and ``confirm_ttl`` (the model manager, whose attributes they are).
        clock: the monotonic clock that ages both.
    """

    def __init__(
        self,
        *,
        server: ServerAccess,
        settings: CacheSettings,
        clock: Callable[[], float],
    ) -> None:
        self._server = server
        self._lister = Lister(rest=server.rest, lms=server.lms, lms_usable=server.gate.usable)
        self._settings = settings
        self._clock = clock
        # Bumped by every drop, so a read that started before it cannot put its (older) answer
        # back into the cache.
        self._generation = 0
        self._listing: tuple[float, Listing] | None = None
        self._instances: tuple[float, list[LoadedInstance]] | None = None
        self._reads: SingleFlight[Any] = SingleFlight()
        # (name, kind) -> (when confirmed, the identifier to send)
        self._confirmed: dict[tuple[str, RequestKind], tuple[float, str]] = {}
        # model key -> until when a load its caller abandoned may still complete on the server
        self._abandoned: dict[str, float] = {}

    @property
    def source(self) -> ListingSource | None:
        """Where listings come from; ``None`` until the first listing detected it."""
        return self._lister.source

    async def listing(self) -> Listing:
        """The current listing: the cached one while younger than ``listing_ttl``."""
        if self._listing is not None and self._fresh(self._listing):
            return self._listing[1]
        current, listing = await self._read("listing", self._fetch)
        if current:
            self._listing = (self._clock(), listing)
        self._seen(listing.instances)
        return listing

    def last_listing(self) -> Listing | None:
        """The last listing read, whatever its age (no I/O); ``None`` after a drop."""
        return self._listing[1] if self._listing is not None else None

    async def instances(self) -> list[LoadedInstance]:
        """The loaded instances: from ``lms ps`` (with statuses) when ``lms`` is usable and is not
        already the listing's source, else from the listing."""
        if self._lister.source == "lms" or not await self._server.gate.usable():
            return (await self.listing()).instances
        if self._instances is not None and self._fresh(self._instances):
            return self._instances[1]
        current, instances = await self._read("ps", self._ps)
        if current:
            self._instances = (self._clock(), instances)
        self._seen(instances)
        return instances

    def abandon(self, key: str, until: float) -> None:
        """Record that a load of ``key`` was abandoned and may complete until clock ``until``."""
        self._abandoned[key] = until

    def abandoned(self, key: str) -> float | None:
        """Until when an abandoned load of ``key`` may still complete; ``None`` if none may
        (there was none, it showed up in a listing, or its time is up)."""
        until = self._abandoned.get(key)
        if until is not None and until <= self._clock():
            del self._abandoned[key]
            return None
        return until

    def _seen(self, instances: list[LoadedInstance]) -> None:
        if self._abandoned:
            for instance in instances:
                self._abandoned.pop(instance.model_key, None)

    def drop_listings(self) -> None:
        """Forget listings and statuses (after a load or unload changed them); keep confirmations."""
        self._generation += 1
        self._listing = None
        self._instances = None

    def confirmed(self, name: str, kind: RequestKind) -> str | None:
        """The identifier to send for ``name``, if a confirmation younger than ``confirm_ttl`` says."""
        entry = self._confirmed.get((name, kind))
        if entry is not None and self._clock() - entry[0] < self._settings.confirm_ttl:
            return entry[1]
        return None

    def confirm(self, name: str, kind: RequestKind, instance: LoadedInstance) -> str:
        """Remember that ``instance`` serves ``name`` for ``kind`` requests; return its identifier."""
        self._confirmed[(name, kind)] = (self._clock(), instance.identifier)
        return instance.identifier

    def forget(self, name: str) -> None:
        """Drop the confirmations of ``name``, for both kinds of request."""
        self._confirmed.pop((name, "llm"), None)
        self._confirmed.pop((name, "embedding"), None)

    def invalidate(self) -> None:
        """Forget everything: listings, statuses and confirmations."""
        self.drop_listings()
        self._confirmed.clear()

    def _fresh(self, entry: tuple[float, Any]) -> bool:
        return self._clock() - entry[0] < self._settings.listing_ttl

    async def _read(self, what: str, job: Callable[[], Awaitable[T]]) -> tuple[bool, T]:
        """Run a read shared by concurrent callers; say whether its answer may be cached."""
        generation = self._generation
        result: T = await self._reads.run((what, generation), job)
        return generation == self._generation, result

    async def _fetch(self) -> Listing:
        return on_server(await self._lister.fetch(), self._server.rest.base_url)

    async def _ps(self) -> list[LoadedInstance]:
        server = self._server.rest.base_url
        return [instance_from_lms(row, server=server) for row in await self._server.lms.ps()]
