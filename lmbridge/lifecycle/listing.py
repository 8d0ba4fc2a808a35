"""Where the model list comes from: the best source the server has, detected once.

Four sources, best first:

1. ``GET /api/v1/models`` (LM Studio 0.4+): downloaded models, their loaded instances and the
   context length each was loaded with.
2. ``GET /api/v0/models`` (LM Studio 0.3.6+): one row per model with ``state``; with JIT loading off
   it lists loaded models only.
3. ``lms ls --json`` + ``lms ps --json``: downloaded models, and instances with their status.
4. ``GET /v1/models`` (any OpenAI-compatible server): ids only. It cannot tell loaded from not
   loaded, so every model's state is ``"unknown"``.

:class:`Lister` picks the first source the server answers, once, and remembers it. When the
remembered source later turns out to be missing (a 404: the server was replaced by another
version), it detects again, once. Connection errors are raised, never taken as "missing". How each
source's answer is read is in :mod:`~lmbridge.lifecycle.parsers`; how long a listing is reused, in
:mod:`~lmbridge.lifecycle.cache`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, get_args

from lmbridge.errors import (
    APIStatusError,
    InvalidResponseError,
    LmsNotFoundError,
    NotFoundError,
)
from lmbridge.lifecycle.parsers import (
    Listing,
    listing_from_lms,
    parse_openai_models,
    parse_v0_models,
    parse_v1_models,
)
from lmbridge.lifecycle.types import ListingSource

if TYPE_CHECKING:
    from lmbridge.lifecycle.lms import LmsCli
    from lmbridge.lifecycle.server import RestAPI

__all__ = ["SOURCES", "Lister"]

SOURCES: tuple[ListingSource, ...] = get_args(ListingSource)
# Statuses that say "this server has no such route": 404, and 405/501 from stricter servers.
_ROUTE_MISSING_STATUSES = frozenset({404, 405, 501})


class _SourceMissing(Exception):
    """Internal: this source does not exist here."""


def _route_missing(exc: Exception) -> bool:
    if isinstance(exc, NotFoundError):
        return True
    if isinstance(exc, APIStatusError):
        return exc.status_code in _ROUTE_MISSING_STATUSES
    # An answer that is no listing (e.g. another server's page at this path): try the next
    # source. (Old LM Studio's 200 {"error": "Unexpected endpoint ..."} is a NotFoundError now.)
    return isinstance(exc, InvalidResponseError)


class Lister:
    """Reads the model list from the best source the server has, detected once and remembered.

    Args:
        rest: the HTTP client.
        lms: the ``lms`` runner.
        lms_usable: says whether ``lms`` is installed and manages the server ``rest`` talks to.
    """

    def __init__(
        self,
        *,
        rest: RestAPI,
        lms: LmsCli,
        lms_usable: Callable[[], Awaitable[bool]],
    ) -> None:
        self._rest = rest
        self._lms = lms
        self._lms_usable = lms_usable
        self.source: ListingSource | None = None

    async def fetch(self) -> Listing:
        """The current listing, from the remembered source (detecting it first if needed).

        Raises:
            APIConnectionError: the server cannot be reached (never taken as "source missing").
            LmsError: ``lms`` failed while it was the source.
            NotFoundError: the server has none of the listing routes.
            InvalidResponseError: none could be read, and one answered with a malformed listing.
        """
        if self.source is None:
            return await self._detect()
        try:
            return await self._read(self.source)
        except _SourceMissing:
            # The server was replaced (e.g. by another version): detect again, once.
            self.source = None
            return await self._detect()

    async def _detect(self) -> Listing:
        last_missing: _SourceMissing | None = None
        malformed: InvalidResponseError | None = None
        for source in SOURCES:
            if source == "lms" and not await self._lms_usable():
                continue
            try:
                listing = await self._read(source)
            except _SourceMissing as missing:
                last_missing = missing
                if isinstance(missing.__cause__, InvalidResponseError) and malformed is None:
                    malformed = missing.__cause__
                continue
            self.source = source
            return listing
        if malformed is not None:
            # Something answered, but not a listing anyone can read: "lists no models" would
            # send the user looking for a wrong URL.
            raise InvalidResponseError(
                f"The server's model listing is malformed: {malformed.message}",
                url=malformed.url,
                status_code=malformed.status_code,
                body=malformed.body,
            ) from malformed
        cause = last_missing.__cause__ if last_missing is not None else None
        raise NotFoundError(
            "The server lists no models: it answers none of /api/v1/models, /api/v0/models and "
            "/v1/models.",
            status_code=404,
            url=self._rest.base_url,
            hint="Is the base URL right? It should be the server's root, e.g. http://localhost:1234.",
        ) from cause

    async def _read(self, source: ListingSource) -> Listing:
        try:
            if source == "lms":
                return listing_from_lms(await self._lms.ls(), await self._lms.ps())
            payload = await self._rest.get_json(source)
            url = self._rest.base_url.rstrip("/") + source
            if source == "/api/v1/models":
                return parse_v1_models(payload, url=url)
            if source == "/api/v0/models":
                return parse_v0_models(payload, url=url)
            return parse_openai_models(payload, url=url)
        except LmsNotFoundError as exc:
            raise _SourceMissing(source) from exc
        except (APIStatusError, InvalidResponseError) as exc:
            if _route_missing(exc):
                raise _SourceMissing(source) from exc
            raise
