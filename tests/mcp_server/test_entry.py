"""The command line and the rule that keeps the server from starting itself."""

from __future__ import annotations

import sys

import pytest

from lmbridge.mcp_config import parse_mcp_config
from lmbridge.mcp_server import main
from lmbridge.mcp_server.entries import is_bridge_entry


def test_main_without_the_2x_sdk_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "mcp.server.mcpserver", None)
    assert main(["--base-url", "http://127.0.0.1:9"]) == 2
    assert "needs the mcp SDK 2.x" in capsys.readouterr().err


def test_help_names_the_options(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    for option in ("--mcp-json", "--base-url", "--token", "LMBRIDGE_MCP_JSON"):
        assert option in out


@pytest.mark.parametrize(
    ("entry", "is_bridge"),
    [
        ({"command": "lmbridge", "args": ["mcp-server"]}, True),
        (
            {"command": "/home/u/.venv/bin/lmbridge", "args": ["mcp-server", "--mcp-json", "x"]},
            True,
        ),
        ({"command": "uvx", "args": ["--from", "lmbridge[mcp]", "lmbridge", "mcp-server"]}, True),
        ({"command": sys.executable, "args": ["-m", "lmbridge.mcp_server"]}, True),
        ({"command": "uvx", "args": ["lmstudio-bridge-enhanced"]}, True),
        ({"command": "python", "args": ["-m", "lmstudio_bridge.main"]}, True),
        ({"command": "lmbridge", "args": ["demo"]}, False),
        ({"command": "uvx", "args": ["mcp-server-time"]}, False),
        ({"command": "npx", "args": ["-y", "@modelcontextprotocol/server-filesystem", "."]}, False),
        ({"url": "https://example.com/mcp"}, False),
    ],
)
def test_bridge_entries_are_recognised(entry: dict[str, object], is_bridge: bool) -> None:
    server = parse_mcp_config({"mcpServers": {"x": entry}})["x"]
    assert is_bridge_entry(server) is is_bridge
