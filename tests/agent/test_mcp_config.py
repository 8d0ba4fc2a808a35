"""Reading LM Studio's mcp.json and opening its servers (real mcp-server-time over stdio)."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import anyio
import pytest

from lmbridge.agent.tools import MCPToolset
from lmbridge.errors import LMBridgeError, MCPConfigError, MCPServerStartError
from lmbridge.mcp_config import (
    MCPServerConfig,
    lmstudio_mcp_json_path,
    open_mcp_sessions,
    parse_mcp_config,
    read_mcp_config,
)

# Runs mcp-server-time after writing its pid (to check it is gone later) and a line on stderr.
TIME_WRAPPER = """\
import os, runpy, sys
with open(sys.argv[1], "w") as f:
    f.write(str(os.getpid()))
sys.stderr.write("time server starting\\n")
sys.stderr.flush()
sys.argv = ["mcp_server_time"]
runpy.run_module("mcp_server_time", run_name="__main__")
"""


def time_entry(tmp_path: Path, label: str) -> dict[str, Any]:
    script = tmp_path / "time_wrapper.py"
    script.write_text(TIME_WRAPPER)
    return {"command": sys.executable, "args": [str(script), str(tmp_path / f"{label}.pid")]}


def assert_exited(tmp_path: Path, label: str) -> None:
    pid = int((tmp_path / f"{label}.pid").read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def python_entry(code: str) -> dict[str, Any]:
    return {"command": sys.executable, "args": ["-c", code]}


# --- parsing --------------------------------------------------------------------------------


def test_parse_entries_in_file_order() -> None:
    servers = parse_mcp_config(
        {
            "mcpServers": {
                "time": {"command": "uvx", "args": ["mcp-server-time", 3], "env": {"N": 1}},
                "off": {"command": "x", "disabled": True, "cwd": "/tmp"},
                "remote": {"url": "https://example.com/mcp"},
            }
        }
    )
    assert list(servers) == ["time", "off", "remote"]
    assert servers["time"] == MCPServerConfig(
        name="time", command="uvx", args=("mcp-server-time", "3"), env={"N": "1"}
    )
    assert servers["off"].disabled
    assert servers["off"].cwd == "/tmp"
    assert servers["remote"].url == "https://example.com/mcp"
    assert servers["remote"].command is None


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({}, "no 'mcpServers' object"),
        ({"mcpServers": []}, "no 'mcpServers' object"),
        ({"mcpServers": {"a": "uvx thing"}}, "server 'a' must be an object"),
        ({"mcpServers": {"a": {"args": []}}}, "server 'a' has neither 'command' nor 'url'"),
        ({"mcpServers": {"a": {"command": "x", "args": "y"}}}, "'args' must be a list of strings"),
        ({"mcpServers": {"a": {"command": "x", "env": ["A=1"]}}}, "'env' must be an object"),
        ({"mcpServers": {"a": {"command": ["x"]}}}, "'command' must be a string"),
    ],
)
def test_bad_documents_are_clear_errors(document: dict[str, Any], message: str) -> None:
    with pytest.raises(MCPConfigError, match=message) as caught:
        parse_mcp_config(document)
    assert caught.value.hint is not None
    assert "mcpServers" in caught.value.hint


async def test_reading_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "mcp.json"
    path.write_text(json.dumps({"mcpServers": {"a": {"command": "x"}}}))
    assert list(await read_mcp_config(path)) == ["a"]
    monkeypatch.setenv("HOME", str(tmp_path))
    assert list(await read_mcp_config("~/mcp.json")) == ["a"]

    path.write_text('{"mcpServers": {"a": }')
    with pytest.raises(
        LMBridgeError, match=r"not valid JSON: Expecting value \(line 1, column 22\)"
    ):
        await read_mcp_config(path)

    with pytest.raises(LMBridgeError, match="Cannot read the MCP config") as caught:
        await read_mcp_config(tmp_path / "missing.json")
    assert str(lmstudio_mcp_json_path()) in (caught.value.hint or "")


# --- selecting ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("only", "message"),
    [
        (["nope"], "No MCP server named 'nope'"),
        (["off"], "MCP server 'off' is disabled"),
    ],
)
async def test_only_must_name_usable_servers(only: list[str], message: str) -> None:
    config = {
        "mcpServers": {
            "off": {"command": "x", "disabled": True},
            "remote": {"url": "https://example.com/mcp"},
        }
    }
    with pytest.raises(LMBridgeError, match=message):
        async with open_mcp_sessions(config, only=only):
            pytest.fail("must not open")


async def test_nothing_to_open_yields_nothing() -> None:
    config = {"mcpServers": {"off": {"command": "does-not-exist", "disabled": True}}}
    async with open_mcp_sessions(config) as sessions:
        assert sessions == {}


async def test_missing_sdk_gives_an_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "mcp", None)
    with pytest.raises(ImportError, match=r"pip install 'lmbridge\[mcp\]'"):
        async with open_mcp_sessions({"mcpServers": {}}):
            pytest.fail("must not open")


# --- running real servers -------------------------------------------------------------------


async def test_opens_enabled_servers_and_shuts_them_down(tmp_path: Path) -> None:
    path = tmp_path / "mcp.json"
    config = {
        "mcpServers": {
            "time": time_entry(tmp_path, "time"),
            "off": {"command": "does-not-exist", "disabled": True},
            "clock": time_entry(tmp_path, "clock"),
        }
    }
    path.write_text(json.dumps(config))
    async with open_mcp_sessions(path) as sessions:
        assert list(sessions) == ["time", "clock"]
        for name, session in sessions.items():
            tools = await MCPToolset(session, name=name).list_tools()
            assert {t.name for t in tools} == {"get_current_time", "convert_time"}
        async with open_mcp_sessions(path, only="clock") as just_one:
            assert list(just_one) == ["clock"]
    assert_exited(tmp_path, "time")
    assert_exited(tmp_path, "clock")


async def test_errlog_receives_the_servers_stderr(tmp_path: Path) -> None:
    config = {"mcpServers": {"time": time_entry(tmp_path, "time")}}
    with tempfile.TemporaryFile(mode="w+") as errlog:
        async with open_mcp_sessions(config, errlog=errlog) as sessions:
            assert "time" in sessions
        errlog.seek(0)
        assert "time server starting" in errlog.read()


async def test_a_failed_server_is_named_and_the_others_are_shut_down(tmp_path: Path) -> None:
    config = {
        "mcpServers": {
            "time": time_entry(tmp_path, "time"),
            "crash": python_entry(
                "import sys; sys.stderr.write('boom: API_KEY is not set\\n'); sys.exit(3)"
            ),
            "missing": {"command": str(tmp_path / "no-such-program")},
        }
    }
    with pytest.raises(MCPServerStartError) as caught:
        async with open_mcp_sessions(config):
            pytest.fail("must not open")
    assert caught.value.servers == ["crash", "missing"]
    message = str(caught.value)
    assert message.startswith("MCP servers 'crash', 'missing' failed to start:")
    assert "boom: API_KEY is not set" in message
    assert "'missing': " in message
    assert "mcp.json" in (caught.value.hint or "")
    assert caught.value.__cause__ is not None
    assert_exited(tmp_path, "time")


async def test_startup_timeout(tmp_path: Path) -> None:
    silent = python_entry("import sys; sys.stdin.read()")  # reads, never answers
    with pytest.raises(
        MCPServerStartError, match="MCP server 'silent' failed to start: 'silent': timed out"
    ):
        async with open_mcp_sessions({"mcpServers": {"silent": silent}}, startup_timeout=1):
            pytest.fail("must not open")


async def test_an_error_in_the_body_propagates_after_shutdown(tmp_path: Path) -> None:
    config = {"mcpServers": {"time": time_entry(tmp_path, "time")}}
    with pytest.raises(KeyError, match="from the body"):
        async with open_mcp_sessions(config):
            raise KeyError("from the body")
    assert_exited(tmp_path, "time")


async def test_cancellation_shuts_servers_down(tmp_path: Path) -> None:
    config = {"mcpServers": {"time": time_entry(tmp_path, "time")}}
    opened = False
    with anyio.move_on_after(30) as scope:
        async with open_mcp_sessions(config) as sessions:
            opened = "time" in sessions
            scope.cancel()
            await anyio.sleep(30)
    assert opened
    assert scope.cancelled_caught
    assert_exited(tmp_path, "time")
