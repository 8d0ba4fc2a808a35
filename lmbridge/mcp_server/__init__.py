"""lmbridge as an MCP server: local models for MCP hosts (``lmbridge mcp-server``).

Importing this package needs nothing beyond lmbridge; :func:`main` checks for the mcp SDK (2.x)
before it loads the server.
"""

from lmbridge.mcp_server.entry import main

__all__ = ["main"]
