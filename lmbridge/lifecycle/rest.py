"""What the lifecycle layer needs from an HTTP client: two JSON calls and a base URL.

:class:`lmbridge.transport.HTTPTransport` implements this protocol; the lifecycle code depends on
nothing else of the transport, so it can be tested against any small implementation.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

__all__ = ["RestAPI"]


class RestAPI(Protocol):
    """JSON requests against one server.

    Implementations raise lmbridge's typed errors: :class:`~lmbridge.errors.NotFoundError` for a
    plain 404 (a route the server does not have), :class:`~lmbridge.errors.ModelNotFoundError` and
    :class:`~lmbridge.errors.ModelNotLoadedError` when the body says so, other
    :class:`~lmbridge.errors.APIStatusError` subclasses for other statuses, and
    :class:`~lmbridge.errors.APIConnectionError` (or a subclass) when the server cannot be reached.
    """

    @property
    def base_url(self) -> str:
        """The server's root URL, without ``/v1`` (e.g. ``http://localhost:1234``)."""
        ...

    async def get_json(self, path: str, *, timeout: float | None = None) -> Any:
        """``GET`` a path such as ``"/api/v1/models"`` and return the decoded JSON body.

        Args:
            path: the path below :attr:`base_url`, starting with ``/``.
            timeout: the read timeout in seconds; ``None`` uses the client's default.
        """
        ...

    async def post_json(
        self,
        path: str,
        body: Mapping[str, Any],
        *,
        timeout: float | None = None,
        model: str | None = None,
    ) -> Any:
        """``POST`` a JSON body and return the decoded JSON answer.

        Args:
            path: the path below :attr:`base_url`, starting with ``/``.
            body: the JSON object to send.
            timeout: the read timeout in seconds; ``None`` uses the client's default.
            model: the model the request is about, for error messages and classification.
        """
        ...
