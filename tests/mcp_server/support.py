"""Starting ``python -m lmbridge.mcp_server`` as a host would, and reading its answers.

The simulator runs in the test process on a loopback port (scripted directly); the server is a
real subprocess spoken to by the SDK's ``ClientSession`` over stdio, exactly as Claude Code does.
Sessions are opened in the test body: an MCP session must be entered and left in one task.
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from mcp import ClientSession, StdioServerParameters, stdio_client
from mcp.types import CallToolResult, TextContent

QWEN = "qwen/qwen3-4b"
GEMMA = "google/gemma-3-4b"
NOMIC = "text-embedding-nomic-embed-text-v1.5"

TOOL_NAMES = {
    "health_check",
    "list_models",
    "list_loaded_models",
    "load_model",
    "unload_model",
    "chat_completion",
    "text_completion",
    "create_response",
    "generate_embeddings",
    "analyze_image",
    "autonomous_with_mcp",
    "autonomous_with_multiple_mcps",
    "autonomous_discover_and_execute",
}


def time_entry(pid_file: Path | None = None) -> dict[str, Any]:
    """An ``mcp.json`` entry running the real mcp-server-time with this interpreter.

    With ``pid_file``, the entry records the server's process id there first (``exec`` keeps the
    id), so a test can check the process is gone afterwards.
    """
    if pid_file is None:
        return {"command": sys.executable, "args": ["-m", "mcp_server_time"]}
    script = f'echo $$ > "$0"; exec "{sys.executable}" -m mcp_server_time'
    return {"command": "/bin/sh", "args": ["-c", script, str(pid_file)]}


def write_mcp_json(path: Path, servers: dict[str, Any]) -> Path:
    path.write_text(json.dumps({"mcpServers": servers}), encoding="utf-8")
    return path


@asynccontextmanager
async def open_bridge_server(
    base_url: str, mcp_json: Path, *, env: dict[str, str] | None = None
) -> AsyncIterator[ClientSession]:
    """Start lmbridge's MCP server on ``base_url`` and yield an initialised client session."""
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "lmbridge.mcp_server", "--base-url", base_url, "--mcp-json", str(mcp_json)],
        env=env,
    )
    with tempfile.TemporaryFile(mode="w+") as errlog:
        async with (
            stdio_client(params, errlog=errlog) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            yield session


def text_of(result: CallToolResult) -> str:
    return "".join(part.text for part in result.content if isinstance(part, TextContent))


def data_of(result: CallToolResult) -> Any:
    """A successful call's structured result (a bare list comes wrapped as ``{"result": ...}``)."""
    assert not result.is_error, text_of(result)
    assert result.structured_content is not None
    content = result.structured_content
    return content["result"] if set(content) == {"result"} else content
