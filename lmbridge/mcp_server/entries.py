"""Which ``mcp.json`` entries an autonomous run may open.

The host's own ``mcp.json`` (and LM Studio's) often lists lmbridge's MCP server itself, or the
server it replaces (lmstudio-bridge-enhanced). Opening such an entry would start another copy of
this server, which could start another: an entry that runs an MCP bridge to local models is never
opened, whether named by a call or found by discovery.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path, PurePath

from lmbridge.errors import MCPConfigError
from lmbridge.mcp_config import MCPServerConfig, read_mcp_config

__all__ = ["is_bridge_entry", "select_servers"]

# `python -m lmbridge.mcp_server`, and the seed project under its package and module names.
_MODULE_MARKERS = ("lmbridge.mcp_server", "lmstudio-bridge", "lmstudio_bridge")


def is_bridge_entry(server: MCPServerConfig) -> bool:
    """Whether ``server`` starts lmbridge's MCP server (or the seed's): it must not be opened."""
    words = [server.command or "", *server.args]
    if any(marker in word for word in words for marker in _MODULE_MARKERS):
        return True
    # `lmbridge mcp-server ...`, directly or through uvx/pipx/a virtualenv's bin/.
    names = [PurePath(word).name for word in words]
    return any(
        name in ("lmbridge", "lmbridge.exe") and "mcp-server" in names[index + 1 :]
        for index, name in enumerate(names)
    )


async def select_servers(path: Path, names: Sequence[str] | None) -> list[str]:
    """The entries of ``path`` to open: ``names`` (checked), or every usable one (discovery).

    Raises:
        MCPConfigError: a name is unknown or is a bridge entry, or discovery found nothing.
        LMBridgeError: the file cannot be read or parsed.
    """
    servers = await read_mcp_config(path)
    usable = [
        name
        for name, server in servers.items()
        if not server.disabled and not is_bridge_entry(server)
    ]
    if names is None:
        if not usable:
            raise MCPConfigError(
                f"{path} has no enabled MCP server to use",
                hint="Add servers to mcp.json, or point --mcp-json at another file.",
            )
        return usable
    for name in names:
        if name not in servers:
            raise MCPConfigError(
                f"No MCP server named {name!r} in {path}",
                hint=f"Configured servers: {', '.join(usable) or 'none'}.",
            )
        if is_bridge_entry(servers[name]):
            raise MCPConfigError(
                f"MCP server {name!r} is lmbridge's own MCP server (or another bridge to local "
                "models): a run cannot start it",
                hint=f"Use another server: {', '.join(usable) or 'none configured'}.",
            )
    return list(dict.fromkeys(names))
