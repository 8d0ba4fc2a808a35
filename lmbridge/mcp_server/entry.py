"""``lmbridge mcp-server`` / ``python -m lmbridge.mcp_server``: parse the options and serve."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

import anyio

from lmbridge.mcp_config import lmstudio_mcp_json_path

__all__ = ["main"]

_DESCRIPTION = (
    "Serve lmbridge to MCP hosts (Claude Code, Claude Desktop, LM Studio...) over stdio: chat "
    "with local models, manage them, and run autonomous tasks over the MCP servers of mcp.json."
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lmbridge mcp-server", description=_DESCRIPTION)
    parser.add_argument(
        "--mcp-json",
        default=None,
        help=f"the mcp.json autonomous tools open servers from (default: $LMBRIDGE_MCP_JSON, "
        f"else {lmstudio_mcp_json_path()})",
    )
    parser.add_argument(
        "--base-url",
        default=None,
        help="the LLM server (default: $LMBRIDGE_BASE_URL or localhost:1234)",
    )
    parser.add_argument(
        "--token", default=None, help="API token (default: $LM_API_TOKEN); prefer the variable"
    )
    return parser


def _sdk_problem() -> str | None:
    """Why the installed mcp SDK cannot run the server, or ``None``."""
    try:
        import mcp.server.mcpserver  # noqa: F401
    except ImportError:
        return (
            "lmbridge's MCP server needs the mcp SDK 2.x: pip install 'lmbridge[mcp]' "
            "(with 'mcp>=2'); the SDK installed is missing or 1.x"
        )
    return None


def main(argv: list[str] | None = None) -> int:
    """Run the server until the host disconnects; returns the exit status."""
    args = _parser().parse_args(argv)
    problem = _sdk_problem()
    if problem is not None:
        print(problem, file=sys.stderr)
        return 2
    # stdout carries the protocol: every log line goes to stderr, which hosts show or keep.
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    mcp_json = Path(
        args.mcp_json or os.environ.get("LMBRIDGE_MCP_JSON") or lmstudio_mcp_json_path()
    ).expanduser()
    anyio.run(_serve, args.base_url, args.token, mcp_json)
    return 0


async def _serve(base_url: str | None, token: str | None, mcp_json: Path) -> None:
    from lmbridge.mcp_server.server import serve_stdio

    await serve_stdio(base_url=base_url, token=token, mcp_json=mcp_json)
