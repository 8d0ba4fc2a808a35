"""Opening the MCP servers of an LM Studio ``mcp.json`` as client sessions.

Needs the optional mcp SDK (``pip install 'lmbridge[mcp]'``), imported only when a function here
runs. Works with mcp 1.x and 2.x.

The file format (LM Studio, also used by Claude Desktop and Cursor)::

    {"mcpServers": {
        "time": {"command": "uvx", "args": ["mcp-server-time"], "env": {"TZ": "UTC"}},
        "files": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-filesystem", "."],
                  "cwd": "/tmp", "disabled": true},
        "remote": {"url": "https://example.com/mcp"}
    }}

Entries with ``"disabled": true`` are skipped. Remote entries (``url``) are opened with the SDK's
streamable HTTP client (the transport of current remote MCP servers; the older SSE transport is not
tried). ``env`` adds to the SDK's safe default environment (``HOME``, ``PATH``, ...), it does not
replace it.

Each server runs in its own task, which enters *and* exits its transport (``stdio_client`` or the HTTP client) and
``ClientSession`` (anyio requires both in one task), so no "exit cancel scope in a different task"
error can occur, whatever order the sessions are used or closed in.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import tempfile
from collections.abc import AsyncIterator, Collection, Mapping, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import anyio
import anyio.to_thread

from lmbridge.errors import LMBridgeError, MCPConfigError, MCPServerStartError

if TYPE_CHECKING:
    from mcp import ClientSession

__all__ = [
    "MCPServerConfig",
    "lmstudio_mcp_json_path",
    "open_mcp_sessions",
    "parse_mcp_config",
    "read_mcp_config",
]

logger = logging.getLogger("lmbridge.mcp")

_FORMAT_HINT = (
    'mcp.json must look like {"mcpServers": {"name": {"command": "...", "args": ["..."], '
    '"env": {...}}}} (see LM Studio\'s MCP documentation).'
)
_STDERR_TAIL = 2_000


def lmstudio_mcp_json_path() -> Path:
    """Where LM Studio keeps its ``mcp.json`` (``~/.lmstudio/mcp.json``)."""
    return Path.home() / ".lmstudio" / "mcp.json"


@dataclass(frozen=True)
class MCPServerConfig:
    """One server entry of ``mcp.json``.

    Attributes:
        name: the entry's key.
        command: the program to start (stdio servers).
        args: its arguments.
        env: extra environment variables.
        cwd: the working directory, if given.
        url: the address of a remote server (reached over streamable HTTP, not started).
        disabled: whether the entry is switched off.
    """

    name: str
    command: str | None = None
    args: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    cwd: str | None = None
    url: str | None = None
    disabled: bool = False


def _config_error(message: str) -> MCPConfigError:
    return MCPConfigError(message, hint=_FORMAT_HINT)


def _parse_entry(name: str, entry: Any) -> MCPServerConfig:
    if not isinstance(entry, Mapping):
        raise _config_error(f"mcp.json: server {name!r} must be an object")
    command, url, cwd = entry.get("command"), entry.get("url"), entry.get("cwd")
    args, env = entry.get("args", []), entry.get("env") or {}
    for key, value in (("command", command), ("url", url), ("cwd", cwd)):
        if value is not None and not isinstance(value, str):
            raise _config_error(f"mcp.json: server {name!r}: {key!r} must be a string")
    if command is None and url is None:
        raise _config_error(f"mcp.json: server {name!r} has neither 'command' nor 'url'")
    if not isinstance(args, list) or not all(isinstance(a, (str, int, float)) for a in args):
        raise _config_error(f"mcp.json: server {name!r}: 'args' must be a list of strings")
    if not isinstance(env, Mapping):
        raise _config_error(f"mcp.json: server {name!r}: 'env' must be an object")
    return MCPServerConfig(
        name=name,
        command=command,
        args=tuple(str(a) for a in args),
        env={str(k): str(v) for k, v in env.items()},
        cwd=cwd,
        url=url,
        disabled=entry.get("disabled") is True,
    )


def parse_mcp_config(data: Mapping[str, Any]) -> dict[str, MCPServerConfig]:
    """Every server entry of an ``mcp.json`` document, disabled ones included, in file order.

    Raises:
        LMBridgeError: the document does not have the ``mcp.json`` shape.
    """
    servers = data.get("mcpServers") if isinstance(data, Mapping) else None
    if not isinstance(servers, Mapping):
        raise _config_error("mcp.json has no 'mcpServers' object")
    return {str(name): _parse_entry(str(name), entry) for name, entry in servers.items()}


async def read_mcp_config(path: str | os.PathLike[str]) -> dict[str, MCPServerConfig]:
    """Read and parse an ``mcp.json`` file (a leading ``~`` is expanded).

    Raises:
        LMBridgeError: the file is missing, unreadable, not JSON, or not in the ``mcp.json`` shape.
    """
    try:
        text = await (await anyio.Path(path).expanduser()).read_text(encoding="utf-8")
    except OSError as exc:
        raise LMBridgeError(
            f"Cannot read the MCP config {os.fspath(path)!r}: {exc.strerror or exc}",
            hint=f"LM Studio keeps it at {lmstudio_mcp_json_path()}.",
        ) from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _config_error(
            f"The MCP config {os.fspath(path)!r} is not valid JSON: {exc.msg} "
            f"(line {exc.lineno}, column {exc.colno})"
        ) from exc
    return parse_mcp_config(data)


def _select(
    servers: Mapping[str, MCPServerConfig], only: Collection[str] | None
) -> dict[str, MCPServerConfig]:
    if isinstance(only, str):
        only = [only]
    if only is not None:
        missing = [name for name in only if name not in servers]
        if missing:
            raise LMBridgeError(
                f"No MCP server named {', '.join(map(repr, missing))} in the config",
                hint=f"Configured servers: {', '.join(servers) or 'none'}.",
            )
        for name in only:
            if servers[name].disabled:
                raise LMBridgeError(
                    f"MCP server {name!r} is disabled in the config",
                    hint='Remove "disabled": true from its entry, or leave it out of only=.',
                )
    return {
        name: server
        for name, server in servers.items()
        if (only is None or name in only) and not server.disabled
    }


def _import_mcp() -> Any:
    try:
        import mcp
    except ImportError as exc:
        raise ImportError(
            "Opening MCP servers needs the mcp SDK: pip install 'lmbridge[mcp]'"
        ) from exc
    return mcp


@dataclass
class _Slot:
    """What one server's task hands back to the opener."""

    ready: anyio.Event = field(default_factory=anyio.Event)
    session: Any = None
    error: Exception | None = None


def _root_cause(exc: BaseException) -> BaseException:
    """The one exception inside (nested) single-member exception groups."""
    inner: Sequence[BaseException] = getattr(exc, "exceptions", ())
    while len(inner) == 1:
        exc = inner[0]
        inner = getattr(exc, "exceptions", ())
    return exc


async def _serve(
    mcp: Any,
    server: MCPServerConfig,
    slot: _Slot,
    shutdown: anyio.Event,
    errlog: IO[str] | None,
    startup_timeout: float,
) -> None:
    """Run one server for the whole context: start, hand out the session, wait, shut down."""
    try:
        async with (
            _transport(mcp, server, errlog) as streams,
            mcp.ClientSession(streams[0], streams[1]) as session,
        ):
            with anyio.fail_after(startup_timeout):
                await session.initialize()
            slot.session = session
            slot.ready.set()
            await shutdown.wait()
    except Exception as exc:
        if slot.session is None:
            slot.error = exc
        else:
            # The session was in use: its callers saw the failure; closing it must not fail the
            # whole context (and the other servers with it).
            logger.warning("MCP server %r ended with an error: %r", server.name, _root_cause(exc))
    finally:
        slot.ready.set()


def _transport(mcp: Any, server: MCPServerConfig, errlog: IO[str] | None) -> Any:
    """The client transport of one entry: a started process (stdio), or HTTP to its ``url``.

    Either yields a tuple whose first two items are the read and write streams (the HTTP client
    of mcp 1.x adds a session-id getter).
    """
    if server.command is None:
        from mcp.client import streamable_http

        # mcp 2.x (and late 1.x) name it streamable_http_client; early 1.x streamablehttp_client.
        names = ("streamable_http_client", "streamablehttp_client")
        opener = next(getattr(streamable_http, n) for n in names if hasattr(streamable_http, n))
        return opener(server.url)
    params = mcp.StdioServerParameters(
        command=server.command, args=list(server.args), env=server.env or None, cwd=server.cwd
    )
    return mcp.stdio_client(params, errlog=errlog or sys.stderr)


async def _stderr_tail(errlog: IO[str]) -> str:
    def read() -> str:
        errlog.flush()
        errlog.seek(0)
        return errlog.read()

    return (await anyio.to_thread.run_sync(read)).strip()[-_STDERR_TAIL:]


async def _startup_error(
    failures: Mapping[str, Exception], captured: Mapping[str, IO[str]]
) -> MCPServerStartError:
    details = []
    for name, exc in failures.items():
        cause = _root_cause(exc)
        kind = (
            "timed out" if isinstance(cause, TimeoutError) else f"{type(cause).__name__}: {cause}"
        )
        detail = f"{name!r}: {kind}"
        if name in captured:
            tail = await _stderr_tail(captured[name])
            if tail:
                detail += f"; its stderr ended with:\n{tail}"
        details.append(detail)
    plural = "s" if len(failures) > 1 else ""
    return MCPServerStartError(
        f"MCP server{plural} {', '.join(map(repr, failures))} failed to start: "
        + "\n".join(details),
        servers=list(failures),
        hint="Check the server's command, args, env and cwd (or its url) in mcp.json; run the "
        "command by hand to see what it prints.",
    )


@asynccontextmanager
async def open_mcp_sessions(
    config: str | os.PathLike[str] | Mapping[str, Any],
    *,
    only: Collection[str] | None = None,
    errlog: IO[str] | None = None,
    startup_timeout: float = 30.0,
) -> AsyncIterator[dict[str, ClientSession]]:
    """Start (or connect to) the MCP servers of an ``mcp.json``; yield their initialised sessions.

    All servers start concurrently. If any fails to start, those already running are shut down
    and an error naming the failed server(s), with the end of their stderr, is raised. On exit
    (normal, error or cancellation) every server is shut down.

    Args:
        config: the path of an ``mcp.json`` file, or its parsed content.
        only: open just these servers (each must exist and be enabled).
        errlog: where the servers' stderr goes (a real file: it needs a file descriptor). By
            default each server's stderr is captured to a temporary file, used in startup
            error messages.
        startup_timeout: seconds each server may take to start and initialise.

    Yields:
        ``{name: ClientSession}`` in config order, for the enabled servers (stdio and remote).

    Raises:
        ImportError: the mcp SDK is not installed (``pip install 'lmbridge[mcp]'``).
        LMBridgeError: the config is invalid, ``only`` names an unusable server, or a server
            failed to start.
    """
    mcp = _import_mcp()
    if isinstance(config, Mapping):
        servers = parse_mcp_config(config)
    else:
        servers = await read_mcp_config(config)
    selected = _select(servers, only)
    slots = {name: _Slot() for name in selected}
    shutdown = anyio.Event()
    failures: dict[str, Exception] = {}
    body_error: Exception | None = None
    async with AsyncExitStack() as files:
        captured: dict[str, IO[str]] = {}
        if errlog is None:
            for name, server in selected.items():
                if server.command is None:
                    continue  # a remote server has no stderr of ours to capture
                log = await anyio.to_thread.run_sync(_temporary_log)
                files.push_async_callback(anyio.to_thread.run_sync, log.close)
                captured[name] = log
        async with anyio.create_task_group() as group:
            for name, server in selected.items():
                stderr_to = errlog or captured.get(name)
                group.start_soon(
                    _serve, mcp, server, slots[name], shutdown, stderr_to, startup_timeout
                )
            try:
                for slot in slots.values():
                    await slot.ready.wait()
                failures = {n: s.error for n, s in slots.items() if s.error is not None}
                if not failures:
                    try:
                        yield {name: slot.session for name, slot in slots.items()}
                    except Exception as exc:
                        # Shut the servers down gently before the error propagates: raised
                        # inside the task group it would cancel them instead.
                        body_error = exc
            finally:
                shutdown.set()
        if failures:
            error = await _startup_error(failures, captured)
            raise error from next(iter(failures.values()))
    if body_error is not None:
        raise body_error


def _temporary_log() -> IO[str]:
    return tempfile.TemporaryFile(mode="w+", encoding="utf-8", errors="replace")
