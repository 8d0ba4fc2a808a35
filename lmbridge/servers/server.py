"""One server of a Bridge, and the snapshot of it ``bridge.servers`` shows.

Every server keeps its own connection pool, circuit breaker, concurrency cap, listing cache,
``lms`` gate and model guard: nothing one server learns is applied to another.
"""

from __future__ import annotations

from dataclasses import dataclass

from lmbridge.calls import ModelCalls
from lmbridge.context import ContextGuard
from lmbridge.display.text import compact_repr
from lmbridge.lifecycle.models import ModelManager
from lmbridge.transport.breaker import ServerState
from lmbridge.transport.client import HTTPTransport

__all__ = ["Server", "ServerStatus"]


@dataclass(frozen=True)
class ServerStatus:
    """One server of a :class:`~lmbridge.Bridge`, as it stands now (``bridge.servers``).

    Attributes:
        url: the server's root URL, as ``bridge.base_url`` and ``result.server`` write it.
        state: ``"up"``; ``"down"`` while its circuit breaker is open (requests skip it);
            ``"probing"`` while one request tests whether it is back.
        in_flight: requests of this Bridge at the server now (an open stream counts).
        waiting: requests held back in the Bridge by ``max_concurrency``.
        loaded: the keys of the models loaded there, from the last listing read (no request is
            made to fill it: empty until a request or ``models.list()`` read one).
    """

    url: str
    state: ServerState
    in_flight: int
    waiting: int
    loaded: tuple[str, ...]

    def __repr__(self) -> str:
        fields = [("url", self.url), ("state", self.state), ("in_flight", self.in_flight)]
        fields += [("waiting", self.waiting), ("loaded", list(self.loaded))]
        return compact_repr("ServerStatus", fields)


class Server:
    """The parts that talk to one server: transport, model manager, model calls, context guard.

    Attributes:
        url: the root URL.
        active: requests routed here that have not finished (the router's measure of load:
            unlike ``in_flight``, it counts a request from the moment it is routed, so a burst
            of gathered requests spreads before any of them is sent).
    """

    def __init__(
        self, *, http: HTTPTransport, models: ModelManager, calls: ModelCalls, context: ContextGuard
    ) -> None:
        self.url = http.base_url
        self.http = http
        self.models = models
        self.calls = calls
        self.context = context
        self.active = 0

    def __repr__(self) -> str:
        return f"Server({self.url!r})"

    def status(self) -> ServerStatus:
        """This server as it stands now (no I/O)."""
        keys = (i.model_key for m in self.models.cached_models() for i in m.instances)
        return ServerStatus(
            url=self.url,
            state=self.http.circuit.state,
            in_flight=self.http.limit.in_flight,
            waiting=self.http.limit.waiting,
            loaded=tuple(dict.fromkeys(keys)),
        )
