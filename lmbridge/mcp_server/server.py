"""The MCP server: one Bridge for its lifetime, the tools of every group, stdio transport.

Built on the SDK's high-level ``MCPServer`` (mcp 2.x) rather than the low-level ``Server``: each
tool is a typed function, so its JSON schema, its description and its output schema come from one
declaration; a ``ToolError`` becomes an ``isError`` result; progress and cancellation come with
the request context. The low-level server would mean writing every schema twice, by hand.
"""

from __future__ import annotations

import importlib.metadata
from pathlib import Path
from typing import Any

from mcp.server.mcpserver import MCPServer

from lmbridge.bridge import Bridge
from lmbridge.mcp_server.context import ServerContext
from lmbridge.mcp_server.tools_agent import register_agent_tools
from lmbridge.mcp_server.tools_chat import register_chat_tools
from lmbridge.mcp_server.tools_models import register_model_tools

__all__ = ["build_server", "serve_stdio"]

_INSTRUCTIONS = (
    "Tools to delegate work to local LLMs (LM Studio or any OpenAI-compatible server): chat with "
    "a model, manage loaded models, and run autonomous tasks in which a local model drives the "
    "MCP servers of the user's mcp.json. A call without `model` uses the one loaded model. Start "
    "with health_check or list_loaded_models."
)


def build_server(state: ServerContext) -> MCPServer[Any]:
    """An ``MCPServer`` with every lmbridge tool, working through ``state``."""
    server: MCPServer[Any] = MCPServer(
        name="lmbridge",
        version=importlib.metadata.version("lmbridge"),
        instructions=_INSTRUCTIONS,
    )
    register_model_tools(server, state)
    register_chat_tools(server, state)
    register_agent_tools(server, state)
    return server


async def serve_stdio(*, base_url: str | None, token: str | None, mcp_json: Path) -> None:
    """Serve on stdin/stdout until the host closes the connection."""
    async with Bridge(base_url, api_token=token) as bridge:
        await build_server(ServerContext(bridge=bridge, mcp_json=mcp_json)).run_stdio_async()
