"""A throwaway llama-server owned by one test, for tests that must kill their server."""

from __future__ import annotations

import socket
import subprocess
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from typing import TYPE_CHECKING

import anyio
import httpx

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Sequence
    from pathlib import Path

    from anyio.abc import Process

STARTUP_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0
_START_ATTEMPTS = 3
_LOG_TAIL_LINES = 30


class LlamaServerStartError(RuntimeError):
    """The private llama-server exited or never became healthy; the message holds its log tail."""


@dataclass(frozen=True)
class PrivateLlamaServer:
    """A running llama-server that only the current test talks to.

    Attributes:
        url: Base URL, e.g. ``http://127.0.0.1:43121`` (append ``/v1`` for the OpenAI API).
        process: The server process; the fixture terminates it however the test ends.
        log_path: The server's combined stdout/stderr.
    """

    url: str
    process: Process
    log_path: Path

    async def kill(self) -> None:
        """SIGKILL the server, as a crash would, and wait until it is gone."""
        with suppress(ProcessLookupError):
            self.process.kill()
        await self.process.wait()

    async def log_tail(self, lines: int = _LOG_TAIL_LINES) -> str:
        """Return the last ``lines`` lines of the server's log."""
        text = await anyio.Path(self.log_path).read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])


def free_loopback_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def stop_process(process: Process, *, timeout: float = STOP_TIMEOUT_S) -> None:
    """SIGTERM ``process``, SIGKILL it after ``timeout`` seconds, and reap it (shielded)."""
    with anyio.CancelScope(shield=True):
        if process.returncode is None:
            with suppress(ProcessLookupError):
                process.terminate()
            with anyio.move_on_after(timeout):
                await process.wait()
            if process.returncode is None:
                with suppress(ProcessLookupError):
                    process.kill()
        await process.aclose()


async def _wait_until_healthy(server: PrivateLlamaServer) -> None:
    async with httpx.AsyncClient(timeout=2.0) as client:
        with anyio.move_on_after(STARTUP_TIMEOUT_S):
            while server.process.returncode is None:
                with suppress(httpx.TransportError):
                    response = await client.get(f"{server.url}/health")
                    if response.status_code == 200:
                        return
                await anyio.sleep(0.2)
    reason = (
        f"exited with {server.process.returncode}"
        if server.process.returncode is not None
        else f"not healthy after {STARTUP_TIMEOUT_S:.0f} s"
    )
    raise LlamaServerStartError(
        f"private llama-server {reason}; last lines of {server.log_path}:\n"
        + await server.log_tail()
    )


async def _start(command: Sequence[str], log_path: Path) -> PrivateLlamaServer:
    for attempt in range(1, _START_ATTEMPTS + 1):
        port = free_loopback_port()
        async with await anyio.open_file(log_path, "wb") as log:
            process = await anyio.open_process(
                [*command, "--port", str(port)],
                stdin=subprocess.DEVNULL,
                stdout=log.wrapped,
                stderr=subprocess.STDOUT,
            )
        server = PrivateLlamaServer(f"http://127.0.0.1:{port}", process, log_path)
        try:
            await _wait_until_healthy(server)
        except LlamaServerStartError:
            await stop_process(process)
            # Another process may have taken the port between our probe and the server's bind.
            if attempt < _START_ATTEMPTS and "bind" in (await server.log_tail()).lower():
                continue
            raise
        except BaseException:
            await stop_process(process)
            raise
        return server
    raise AssertionError("unreachable: the last attempt returns or raises")


@asynccontextmanager
async def run_llama_server(
    *,
    llama_bin: Path,
    model_path: Path,
    model_name: str,
    chat_template: Path,
    log_path: Path,
    extra_args: Sequence[str] = (),
) -> AsyncIterator[PrivateLlamaServer]:
    """Start a small llama-server on a free loopback port; stop it on exit, however the body ends.

    Args:
        llama_bin: The ``llama-server`` executable.
        model_path: The ``.gguf`` model.
        model_name: Alias the server reports as its model id.
        chat_template: Jinja chat template (the tool-calling Gemma template).
        log_path: Where the server's output goes.
        extra_args: More command-line arguments, e.g. ``["--embeddings"]``.
    """
    command = [
        str(llama_bin),
        *("-m", str(model_path), "--host", "127.0.0.1", "-a", model_name),
        *("-c", "2048", "-np", "1", "-t", "2", "--no-webui"),
        *("--jinja", "--chat-template-file", str(chat_template)),
        *extra_args,
    ]
    server = await _start(command, log_path)
    try:
        yield server
    finally:
        await stop_process(server.process)
