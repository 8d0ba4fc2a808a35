"""How the lifecycle parts reach one server: its HTTP API, the local ``lms`` CLI, and the check
that ``lms`` manages that server at all.

``lms`` drives the LM Studio on *this* machine. If the base URL points elsewhere (another host, or
another server such as llama.cpp on a different port), ``lms`` would list and load models on the
wrong server. So ``lms`` is used only when it is installed, the base URL is a loopback address, and
``lms server status`` says LM Studio's server listens on the base URL's port (:class:`LmsGate`).

The HTTP side is a protocol (:class:`RestAPI`): the transport's ``HTTPTransport`` implements it,
and the lifecycle code depends on nothing else of the transport, so it can be tested against any
small implementation and never imports the layer above it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import httpx

from lmbridge.errors import LmsError

if TYPE_CHECKING:
    from lmbridge.lifecycle.lms import LmsCli

__all__ = ["LmsGate", "RestAPI", "ServerAccess", "is_loopback"]

_DEFAULT_PORTS = {"http": 80, "https": 443}


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


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine (``localhost``, ``127.0.0.0/8``, ``::1``, ``0.0.0.0``)."""
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


class LmsGate:
    """Decides, once, whether ``lms`` manages the server at ``base_url``.

    Args:
        lms: the ``lms`` runner.
        base_url: the server's root URL.

    Attributes:
        problem: why ``lms`` is not used although it was found, for diagnostics (``None`` if it is
            used or was not found).
    """

    def __init__(self, *, lms: LmsCli, base_url: str) -> None:
        self._lms = lms
        self._base_url = base_url
        self._serves_base_url: bool | None = None
        self.problem: str | None = None

    async def usable(self) -> bool:
        """Whether ``lms`` is installed and manages the server at the base URL.

        Finding ``lms`` is re-checked by the runner (it may be installed later); the server check
        runs once and is remembered.
        """
        if await self._lms.locate() is None:
            return False
        if self._serves_base_url is None:
            self._serves_base_url = await self._check()
        return self._serves_base_url

    async def _check(self) -> bool:
        url = httpx.URL(self._base_url)
        if not is_loopback(url.host):
            self.problem = (
                f"lms manages this machine's LM Studio, and {self._base_url} is not local."
            )
            return False
        port = url.port or _DEFAULT_PORTS.get(url.scheme)
        try:
            status = await self._lms.server_status()
        except LmsError as exc:
            self.problem = f"`lms server status` failed: {exc.message}"
            return False
        if not status.running or status.port != port:
            where = f"port {status.port}" if status.running else "nowhere (not running)"
            self.problem = (
                f"LM Studio's server listens on {where}, not on port {port} of {self._base_url}."
            )
            return False
        self.problem = None
        return True


@dataclass(frozen=True)
class ServerAccess:
    """One server's HTTP API, the local ``lms`` CLI, and whether ``lms`` manages that server.

    The lifecycle parts take this one value instead of three, so they all share one gate (and its
    one ``lms server status`` check).

    Attributes:
        rest: the HTTP client.
        lms: the ``lms`` runner.
        gate: says whether ``lms`` may be used for the server ``rest`` talks to (checked once).
    """

    rest: RestAPI
    lms: LmsCli
    gate: LmsGate

    @classmethod
    def to(cls, rest: RestAPI, lms: LmsCli) -> ServerAccess:
        """Access to the server at ``rest.base_url``, with a gate of its own for ``lms``."""
        return cls(rest=rest, lms=lms, gate=LmsGate(lms=lms, base_url=rest.base_url))
