"""lmbridge's MCP server against the real llama-server: a real MCP client starts
``python -m lmbridge.mcp_server`` over stdio, as a host would.

The model is a base model whose words are nonsense: only the shape of each answer is checked.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.integration.bridge_support import SHORT, SLOW_MACHINE_S
from tests.mcp_server.support import (
    TOOL_NAMES,
    data_of,
    open_bridge_server,
    time_entry,
    write_mcp_json,
)

pytest.importorskip("mcp.server.mcpserver", reason="lmbridge's MCP server needs the mcp SDK 2.x")
pytestmark = pytest.mark.timeout(SLOW_MACHINE_S + 60)


async def test_tools_against_llama_server(llama_url: str, model_name: str, tmp_path: Path) -> None:
    mcp_json = write_mcp_json(
        tmp_path / "mcp.json",
        {
            "time": time_entry(),
            "self": {"command": sys.executable, "args": ["-m", "lmbridge.mcp_server"]},
        },
    )
    async with open_bridge_server(llama_url, mcp_json) as session:
        assert {tool.name for tool in (await session.list_tools()).tools} == TOOL_NAMES

        health = data_of(await session.call_tool("health_check", {}))
        assert health["reachable"] is True
        assert health["version"] is None  # llama-server has no /lms-status
        assert health["listing_source"] == "/v1/models"
        assert health["lms_usable"] is False

        # No `model`: llama-server cannot say what is loaded; the one model it lists is used.
        reply = data_of(
            await session.call_tool(
                "chat_completion", {"prompt": "Hello", "max_tokens": SHORT, "temperature": 0}
            )
        )
        assert isinstance(reply["text"], str)
        assert reply["model"] == model_name
        assert reply["usage"]["completion_tokens"] > 0

        vectors = data_of(
            await session.call_tool(
                "generate_embeddings", {"texts": ["one", "two"], "model": model_name}
            )
        )
        assert len(vectors["embeddings"]) == 2
        assert vectors["dimensions"] == 640

        # A whole autonomous run over mcp.json (the real time server; the entry that would
        # start this server again is left out). What the base model says does not matter.
        run = data_of(
            await session.call_tool(
                "autonomous_discover_and_execute", {"task": "What time is it?", "max_rounds": 1}
            )
        )
        assert run["stop_reason"] in {"completed", "max_rounds", "invalid_calls"}
        assert run["rounds"] == 1
        assert run["model"] == model_name
        assert all(call["server"] in {"time", None} for call in run["tool_calls"])
