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
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import httpx

from lmbridge.errors import LmsError

if TYPE_CHECKING:
    from lmbridge.lifecycle.lms import LmsCli

__all__ = ["Event", "LmsGate", "RestAPI", "ServerAccess", "is_loopback"]

_DEFAULT_PORTS = {"http": 80, "https": 443}
# `lms server status` probes the server with a 500 ms timeout, so a busy LM Studio can be reported
# as not running once: a negative answer is asked again after these many seconds, doubling.
FIRST_RECHECK = 10.0
LONGEST_RECHECK = 300.0


class Event(Protocol):
    """One server-sent event, as :meth:`RestAPI.stream_events` yields it."""

    @property
    def event(self) -> str:
        """The ``event:`` field (``"message"`` when absent)."""
        ...

    @property
    def data(self) -> str:
        """The ``data:`` lines, joined with newlines."""
        ...


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

    def stream_events(
        self, path: str, body: Mapping[str, Any], *, model: str | None = None
    ) -> AbstractAsyncContextManager[AsyncIterator[Sequence[Event]]]:
        """``POST`` a JSON body and read the answer as server-sent events, in batches.

        Leaving the ``async with`` block closes the response. An error status raises the typed
        error when the block is entered, like :meth:`post_json`.
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
    """Decides whether ``lms`` manages the server at ``base_url``.

    A "yes" is remembered. A "no" from ``lms server status`` is asked again, on the next call that
    needs ``lms``, :data:`FIRST_RECHECK` seconds later, then after twice as long each time (up to
    :data:`LONGEST_RECHECK`): the CLI probes the server with a 500 ms timeout and can report a busy
    LM Studio as not running. A base URL on another host is a "no" for good.

    Args:
        lms: the ``lms`` runner.
        base_url: the server's root URL.
        clock: the monotonic clock that times the re-checks.

    Attributes:
        problem: why ``lms`` is not used although it was found, for diagnostics (``None`` if it is
            used or was not found).
        checked_at: the clock time of the last ``lms server status`` check, ``None`` before it.
    """

    def __init__(
        self, *, lms: LmsCli, base_url: str, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._lms = lms
        self._base_url = base_url
        self._clock = clock
        self._serves_base_url: bool | None = None
        self._recheck_at: float | None = None  # None: the answer stands
        self._recheck_wait = FIRST_RECHECK
        self.problem: str | None = None
        self.checked_at: float | None = None

    async def usable(self) -> bool:
        """Whether ``lms`` is installed and manages the server at the base URL.

        Finding ``lms`` is re-checked by the runner (it may be installed later); the server check
        is remembered when it says yes, and asked again later when it says no (see the class).
        """
        if await self._lms.locate() is None:
            return False
        due = self._recheck_at is not None and self._clock() >= self._recheck_at
        if self._serves_base_url is None or due:
            self._serves_base_url = await self._check()
        return self._serves_base_url

    def explain(self) -> str | None:
        """:attr:`problem` with when it was found out and when it is asked again, or ``None``."""
        if self.problem is None:
            return None
        if self.checked_at is None:
            return self.problem
        now = self._clock()
        text = f"{self.problem} (checked {max(now - self.checked_at, 0.0):.0f} s ago"
        if self._recheck_at is not None:
            text += f"; asked again after {max(self._recheck_at - now, 0.0):.0f} s more"
        return text + ")"

    async def _check(self) -> bool:
        url = httpx.URL(self._base_url)
        if not is_loopback(url.host):
            self.problem = (
                f"lms manages this machine's LM Studio, and {self._base_url} is not local."
            )
            return False
        serves = await self._ask_status(url)
        self.checked_at = self._clock()
        if serves:
            self._recheck_at = None
            self._recheck_wait = FIRST_RECHECK
        else:
            self._recheck_at = self.checked_at + self._recheck_wait
            self._recheck_wait = min(self._recheck_wait * 2, LONGEST_RECHECK)
        return serves

    async def _ask_status(self, url: httpx.URL) -> bool:
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
        gate: says whether ``lms`` may be used for the server ``rest`` talks to.
    """

    rest: RestAPI
    lms: LmsCli
    gate: LmsGate

    @classmethod
    def to(
        cls, rest: RestAPI, lms: LmsCli, *, clock: Callable[[], float] = time.monotonic
    ) -> ServerAccess:
        """Access to the server at ``rest.base_url``, with a gate of its own for ``lms``."""
        return cls(rest=rest, lms=lms, gate=LmsGate(lms=lms, base_url=rest.base_url, clock=clock))
