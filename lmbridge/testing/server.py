"""Serving the simulator over real HTTP on loopback with uvicorn, inside the running event loop."""

from __future__ import annotations

import asyncio
import socket
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import anyio

__all__ = ["bind_socket", "format_url", "load_uvicorn", "serve_asgi"]

_STARTUP_POLL = 0.01


def load_uvicorn() -> Any:
    """Import uvicorn (the ``testing`` extra), with a clear message if it is missing."""
    try:
        import uvicorn
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "Serving the simulator over HTTP needs uvicorn: pip install 'lmbridge[testing]'. "
            "In-process use (sim.transport()) needs nothing extra."
        ) from exc
    return uvicorn


def bind_socket(host: str, port: int) -> socket.socket:
    """A bound (not yet listening) TCP socket; port 0 picks a free port."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        if sys.platform != "win32":
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def format_url(host: str, port: int) -> str:
    """``http://host:port`` (IPv6 hosts in brackets)."""
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


@asynccontextmanager
async def serve_asgi(
    app: Any,
    *,
    host: str,
    port: int,
    on_port: Callable[[int | None], None] = lambda _: None,
) -> AsyncIterator[str]:
    """Serve ``app`` with uvicorn in the current (asyncio) event loop; yields the base URL.

    The socket is bound before serving, so ``port=0`` works and the URL is known at once. On exit
    the server stops accepting, finishes (or after 1 s cancels) open requests and returns.

    The server runs as a plain asyncio task rather than in a task group, so that entering and leaving
    may happen in different tasks (as pytest-asyncio does with async fixtures). uvicorn runs on asyncio
    only, so nothing is lost.
    """
    uvicorn = load_uvicorn()

    class InLoopServer(uvicorn.Server):  # type: ignore[misc, name-defined]
        """A server that leaves signal handling alone: Ctrl-C must still interrupt the caller."""

        @contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield

    sock = bind_socket(host, port)
    actual_port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        log_config=None,
        lifespan="off",
        http="h11",
        ws="none",
        timeout_graceful_shutdown=1,
    )
    server = InLoopServer(config)
    try:
        task = asyncio.get_running_loop().create_task(server.serve([sock]))
    except RuntimeError:
        sock.close()
        raise
    try:
        while not server.started:
            if task.done():
                task.result()  # raises what stopped the server
                raise RuntimeError(f"the simulator's server on {host}:{port} did not start")
            await anyio.sleep(_STARTUP_POLL)
        on_port(actual_port)
        yield format_url(host, actual_port)
    finally:
        on_port(None)
        server.should_exit = True
        try:
            with anyio.CancelScope(shield=True):
                await asyncio.wait([task])
        finally:
            sock.close()
        if not task.cancelled():
            task.result()
