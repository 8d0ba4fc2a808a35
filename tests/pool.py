"""Inspecting a Bridge's connection pool, for tests that a stream gave its connection back."""

from __future__ import annotations

from lmbridge import Bridge


def pool_states(bridge: Bridge) -> list[str]:
    """``"active"``, ``"idle"`` or ``"closed"`` for each connection in the Bridge's pool."""
    pool = bridge.http.http_client._transport._pool  # type: ignore[attr-defined]
    states = []
    for connection in pool.connections:
        if connection.is_closed():
            states.append("closed")
        elif connection.is_idle():
            states.append("idle")
        else:
            states.append("active")
    return states
