"""The command line's frame: help, version, usage errors, errors without tracebacks, and the
hand-over to the MCP server."""

from __future__ import annotations

import os
import sys
import types
from pathlib import Path

import pytest

from lmbridge import __version__
from lmbridge.cli import main
from tests.cli.conftest import CLI, assert_no_traceback

# Nothing listens on the discard port: connecting is refused at once.
UNREACHABLE = "http://127.0.0.1:9"


@pytest.fixture
def offline(tmp_path: Path) -> CLI:
    return CLI(url=UNREACHABLE, home=tmp_path)


async def test_version_and_clean_help(offline: CLI) -> None:
    version = await offline("--version")
    assert (version.status, version.stdout.strip()) == (0, f"lmbridge {__version__}")

    shown = await offline("--help")
    assert shown.status == 0
    for command in ("doctor", "models (ls)", "ps", "load", "unload", "chat", "demo"):
        assert command in shown.stdout
    # reST markup from docstrings has no business in a terminal.
    for markup in ("``", ":class:", ":meth:", ":mod:"):
        assert markup not in shown.stdout


@pytest.mark.parametrize(
    "args",
    [
        ["frobnicate"],
        [],
        ["unload"],
        ["load", "qwen/qwen3-4b", "--gpu", "lots"],
        ["load", "qwen/qwen3-4b", "--ttl", "-5"],
    ],
    ids=["unknown-command", "no-command", "unload-nothing", "bad-gpu", "bad-ttl"],
)
async def test_usage_errors_exit_2(offline: CLI, args: list[str]) -> None:
    run = await offline(*args)
    assert run.status == 2
    assert "usage: lmbridge" in run.stderr
    assert_no_traceback(run)


@pytest.mark.parametrize("args", [["models"], ["ps"], ["models", "--json"]])
async def test_an_unreachable_server_is_a_message_and_a_hint(offline: CLI, args: list[str]) -> None:
    run = await offline(*args)
    assert run.status == 1
    assert run.stdout == ""
    assert f"error: could not reach {UNREACHABLE}" in run.stderr
    assert "hint: Is LM Studio" in run.stderr
    assert "--base-url" in run.stderr  # the shell's way to fix it, not Bridge(...)'s alone
    assert_no_traceback(run)


async def test_global_options_work_before_and_after_the_command(tmp_path: Path) -> None:
    # LMBRIDGE_BASE_URL points nowhere useful; --base-url decides, wherever it is written.
    cli = CLI(url="http://127.0.0.1:1", home=tmp_path)
    before = await cli("--base-url", UNREACHABLE, "ps")
    after = await cli("ps", "--base-url", UNREACHABLE)
    for run in (before, after):
        assert run.status == 1
        assert f"could not reach {UNREACHABLE}" in run.stderr


def test_mcp_server_gets_the_arguments_after_it_in_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    received: list[tuple[list[str] | None, str | None]] = []

    def server_main(argv: list[str] | None) -> int:
        received.append((argv, os.environ.get("LMBRIDGE_BASE_URL")))
        return 3

    module = types.ModuleType("lmbridge.mcp_server")
    module.main = server_main  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "lmbridge.mcp_server", module)
    monkeypatch.delenv("LMBRIDGE_BASE_URL", raising=False)  # restored after the test

    status = main(["--base-url", "http://127.0.0.1:4321", "mcp-server", "--help", "-x", "ps"])

    assert status == 3
    # The options before `mcp-server` reach the server's Bridge through the environment.
    assert received == [(["--help", "-x", "ps"], "http://127.0.0.1:4321")]


def test_mcp_server_missing_is_one_line_and_exit_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "lmbridge.mcp_server", None)  # import fails as if absent

    assert main(["mcp-server"]) == 1

    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "lmbridge.mcp_server" in err
