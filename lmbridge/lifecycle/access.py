"""The ways the lifecycle parts reach one server, passed around as one value."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from lmbridge.lifecycle.gate import LmsGate

if TYPE_CHECKING:
    from lmbridge.lifecycle.lms import LmsCli
    from lmbridge.lifecycle.rest import RestAPI

__all__ = ["ServerAccess"]


@dataclass(frozen=True)
class ServerAccess:
    """One server's HTTP API, the local ``lms`` CLI, and whether ``lms`` manages that server.

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
