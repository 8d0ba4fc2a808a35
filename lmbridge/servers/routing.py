"""Which server a request goes to, and where it goes when that server cannot be reached.

The order for a model, per request:

1. servers where it is loaded (or served, as far as a listing that cannot show state says),
   the one with the fewest requests of this Bridge first (ties: the order given);
2. servers where it is downloaded, in the order given (that server loads it; loads are
   single-flight per server);
3. servers whose listing is not known to be complete, in the order given (they may have it);

and :class:`~lmbridge.ModelNotFoundError` naming every server checked when none has it.
Servers whose circuit breaker is open are skipped, as are servers that cannot be reached.

A request goes to the next server only when it certainly did not reach the first
(:attr:`~lmbridge.APIConnectionError.sent` is ``False``: refused, connect timeout, breaker
open): the same rule as retries, so a generation never runs twice. A Bridge with one server
does none of this: its requests go straight to it, as they always have.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AsyncExitStack
from typing import TypeVar

import anyio

from lmbridge import errors
from lmbridge.lifecycle.models import Placement
from lmbridge.lifecycle.resolve import suggest
from lmbridge.servers.server import Server

__all__ = ["Router"]

T = TypeVar("T")

_SERVING = ("loaded", "listed")

ROUTING_GRACE = 0.25
"""Seconds the other servers' listings are still waited for once one server has the model: a
server slow to answer (a host that drops packets makes each connect wait for its timeout) must
not hold up requests that a healthy server can take."""

_REMEMBERED_RESPONSES = 4096


class Router:
    """Chooses a server per request and fails over between them.

    Args:
        servers: the Bridge's servers, in the order given.
    """

    def __init__(self, servers: Sequence[Server]) -> None:
        if not servers:
            raise ValueError("a Bridge needs at least one server")
        self.servers = tuple(servers)
        # Responses API ids -> the server that stores the response: a follow-up naming one as
        # previous_response_id must go there (no other server has that conversation).
        self._responses: OrderedDict[str, Server] = OrderedDict()

    def remember(self, response_id: str, server: Server) -> None:
        """Record that ``server`` stores the response ``response_id`` (the latest 4096 kept)."""
        self._responses[response_id] = server
        self._responses.move_to_end(response_id)
        while len(self._responses) > _REMEMBERED_RESPONSES:
            self._responses.popitem(last=False)

    def storing(self, response_id: str | None) -> Server | None:
        """The server that stores ``response_id``, if this Bridge made it there."""
        return None if response_id is None else self._responses.get(response_id)

    async def candidates(self, model: str) -> list[Server]:
        """The servers to try for ``model``, best first (see the module's docs).

        Raises:
            ModelNotFoundError: no server has it (all were reached, none lists it).
            APIConnectionError: no reachable server has it, and some could not be reached
                (the model may be on one of them); ``sent`` is ``False``.
        """
        if len(self.servers) == 1:
            return list(self.servers)
        placed: dict[Server, Placement] = {}
        unreachable: dict[Server, errors.APIConnectionError] = {}
        failures: list[BaseException] = []
        asked: list[Server] = []
        for server in self.servers:
            if server.http.circuit.available():
                asked.append(server)
            else:
                unreachable[server] = server.http.circuit.error(model=model)
        decided, settled = anyio.Event(), anyio.Event()

        async def place(server: Server) -> None:
            try:
                placed[server] = placement = await server.models.placement(model)
                if placement in _SERVING:
                    decided.set()
            except errors.APIConnectionError as exc:
                unreachable[server] = exc
            except errors.ModelNotFoundError as exc:  # an ambiguous name: the user must choose
                failures.append(exc)
            except errors.LMBridgeError:
                # A listing this server cannot give (no such endpoint, an odd body): its own
                # request path decides, after the servers that could say.
                placed[server] = "unlisted"
            finally:
                if len(placed) + len(unreachable) + len(failures) == len(self.servers):
                    settled.set()
                    decided.set()

        async with anyio.create_task_group() as group:
            for server in asked:
                group.start_soon(place, server)
            if asked:
                await decided.wait()
                with anyio.move_on_after(ROUTING_GRACE):
                    await settled.wait()
            group.cancel_scope.cancel()
        if failures:
            raise failures[0]
        serving = sorted(
            (s for s in self.servers if placed.get(s) in _SERVING), key=lambda s: s.active
        )
        downloaded = [s for s in self.servers if placed.get(s) == "downloaded"]
        unlisted = [s for s in self.servers if placed.get(s) == "unlisted"]
        # Servers still listing when the others had decided: tried last, if at all.
        slow = [s for s in asked if s not in placed and s not in unreachable]
        order = serving + downloaded + unlisted + slow
        if order:
            return order
        raise self._nowhere(model, placed, unreachable)

    async def run(
        self,
        model: str,
        call: Callable[[Server], Awaitable[T]],
        *,
        hold: AsyncExitStack | None = None,
        pin: Server | None = None,
    ) -> T:
        """``await call(server)`` on the best server for ``model``; on the next one when it
        certainly did not reach the first. With ``hold``, the request counts as active on its
        server until ``hold`` closes (an open stream), else until ``call`` returns. With
        ``pin``, on that server alone (it holds what the request refers to).

        Errors that pass name their server (``error.server``)."""
        if pin is not None or len(self.servers) == 1:
            return await self._on(pin or self.servers[0], call, hold)
        tried: set[Server] = set()
        last: errors.APIConnectionError | None = None
        while True:
            try:
                order = [s for s in await self.candidates(model) if s not in tried]
            except errors.LMBridgeError:
                if last is not None:
                    raise last from None
                raise
            if not order:
                assert last is not None  # only servers that failed are ever excluded
                raise last
            try:
                return await self._on(order[0], call, hold)
            except errors.APIConnectionError as exc:
                if exc.sent:
                    raise
                tried.add(order[0])
                last = exc

    @staticmethod
    async def _on(
        server: Server, call: Callable[[Server], Awaitable[T]], hold: AsyncExitStack | None
    ) -> T:
        """``await call(server)``, counted as active on it; errors stamped with its URL."""
        server.active += 1
        held = False
        try:
            result = await call(server)
            if hold is not None:
                hold.callback(_finished, server)
                held = True
            return result
        except errors.LMBridgeError as exc:
            if exc.server is None:
                exc.server = server.url
            raise
        finally:
            if not held:
                server.active -= 1

    def _nowhere(
        self,
        model: str,
        placed: dict[Server, Placement],
        unreachable: dict[Server, errors.APIConnectionError],
    ) -> errors.LMBridgeError:
        if not placed:
            # Nowhere to go: the first server's own error (a CircuitOpenError at once while
            # its breaker is open).
            return next(unreachable[s] for s in self.servers if s in unreachable)
        checked = ", ".join(s.url for s in placed)
        if unreachable:
            first = next(iter(unreachable.values()))
            down = ", ".join(s.url for s in unreachable)
            nowhere = f"no reachable server has a model named {model!r} (checked: {checked})"
            opened = [e for e in unreachable.values() if isinstance(e, errors.CircuitOpenError)]
            if len(opened) == len(unreachable):
                # Every server that might have it is held back by its breaker: fail at once,
                # saying when the first of them will be tried again.
                soonest = min(opened, key=lambda e: e.retry_at)
                return errors.CircuitOpenError(
                    f"{nowhere}; {soonest.message}",
                    server=soonest.server or down,
                    failures=soonest.failures,
                    opened_at=soonest.opened_at,
                    retry_at=soonest.retry_at,
                    model=model,
                )
            return errors.APIConnectionError(
                f"{nowhere}; {down} could not be reached: {first.message}",
                model=model,
                sent=False,
                server=next(iter(unreachable)).url,
                hint="The model may be on a server that is down: start it, or load the model "
                "on one that is up. `bridge.servers` shows each server's state.",
            )
        keys = list(dict.fromkeys(m.key for s in placed for m in s.models.cached_models()))
        return errors.ModelNotFoundError(
            f"No server has a model named {model!r} (checked: {checked}).",
            suggestions=suggest(model, keys),
            available=keys,
            model=model,
        )


def _finished(server: Server) -> None:
    server.active -= 1
