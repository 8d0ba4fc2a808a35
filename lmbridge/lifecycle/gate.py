"""Whether the local ``lms`` CLI may be used for the server lmbridge talks to.

``lms`` drives the LM Studio on *this* machine. If the base URL points elsewhere (another host, or
another server such as llama.cpp on a different port), ``lms`` would list and load models on the
wrong server. So ``lms`` is used only when it is installed, the base URL is a loopback address, and
``lms server status`` says LM Studio's server listens on the base URL's port.
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING

import httpx

from lmbridge.errors import LmsError

if TYPE_CHECKING:
    from lmbridge.lifecycle.lms import LmsCli

__all__ = ["LmsGate", "is_loopback"]

_DEFAULT_PORTS = {"http": 80, "https": 443}


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
