"""Autonomous tools: a scripted model drives the real mcp-server-time through lmbridge's server."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest

from lmbridge.testing import Reply, ToolCallSpec
from tests.mcp_server.conftest import Served
from tests.mcp_server.support import (
    GEMMA,
    QWEN,
    data_of,
    open_bridge_server,
    text_of,
    time_entry,
    write_mcp_json,
)

SELF_ENTRY = {"command": sys.executable, "args": ["-m", "lmbridge.mcp_server"]}
ASK_TIME = ToolCallSpec("get_current_time", {"timezone": "UTC"})


def offered_tools(body: Any) -> set[str]:
    return {tool["function"]["name"] for tool in body.get("tools") or []}


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def test_autonomous_with_mcp_runs_the_real_time_server(
    served: Served, tmp_path: Path
) -> None:
    sim = served.sim
    mcp_json = write_mcp_json(
        tmp_path / "mcp.json",
        {
            "time": time_entry(),
            "lmbridge": SELF_ENTRY,
            "off": {"command": "does-not-exist", "disabled": True},
        },
    )
    reports: list[tuple[float, float | None, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        reports.append((progress, total, message))

    sim.script(QWEN, Reply(tool_calls=[ASK_TIME]), Reply("It is noon in UTC."))
    async with open_bridge_server(served.url, mcp_json, env=served.env) as session:
        result = await session.call_tool(
            "autonomous_with_mcp",
            {"mcp_name": "time", "task": "What time is it in UTC?", "max_rounds": 5},
            progress_callback=on_progress,
        )
        report = data_of(result)
        assert report["output"] == "It is noon in UTC."
        assert report["stop_reason"] == "completed"
        assert report["rounds"] == 2
        assert report["model"] == QWEN
        [call] = report["tool_calls"]
        assert (call["round"], call["server"], call["tool"]) == (1, "time", "get_current_time")
        assert call["arguments"] == {"timezone": "UTC"}
        assert call["error"] is None and '"timezone": "UTC"' in call["result"]
        assert offered_tools(sim.requests[-1].body) == {"get_current_time", "convert_time"}
        assert [message for _, _, message in reports] == [
            f"round 1: asking {QWEN}",
            "round 1: calling get_current_time",
            f"round 2: asking {QWEN}",
        ]
        assert [(p, t) for p, t, _ in reports] == [(0, 5), (0.5, 5), (1, 5)]

        itself = await session.call_tool(
            "autonomous_with_mcp", {"mcp_name": "lmbridge", "task": "Hi", "model": QWEN}
        )
        assert itself.is_error
        assert "lmbridge's own MCP server" in text_of(itself)
        assert "Use another server: time" in text_of(itself)

        # Discovery opens every enabled server but lmbridge's own entry.
        sim.script(QWEN, "Nothing to do.")
        found = data_of(
            await session.call_tool("autonomous_discover_and_execute", {"task": "Say hi"})
        )
        assert (found["output"], found["rounds"], found["tool_calls"]) == ("Nothing to do.", 1, [])
        assert offered_tools(sim.requests[-1].body) == {"get_current_time", "convert_time"}


async def test_multiple_mcps_share_one_run(served: Served, tmp_path: Path) -> None:
    sim = served.sim
    mcp_json = write_mcp_json(tmp_path / "mcp.json", {"time": time_entry(), "clock": time_entry()})
    sim.script(
        QWEN,
        Reply(tool_calls=[ToolCallSpec("clock__get_current_time", {"timezone": "Asia/Tokyo"})]),
        Reply("Done."),
    )
    async with open_bridge_server(served.url, mcp_json, env=served.env) as session:
        report = data_of(
            await session.call_tool(
                "autonomous_with_multiple_mcps",
                {"mcp_names": ["time", "clock"], "task": "Time in Tokyo?", "model": QWEN},
            )
        )
    chats = [r for r in sim.requests if r.path == "/v1/chat/completions"]
    assert offered_tools(chats[0].body) == {
        f"{server}__{tool}"
        for server in ("time", "clock")
        for tool in ("get_current_time", "convert_time")
    }
    [call] = report["tool_calls"]
    assert (call["server"], call["tool"]) == ("clock", "get_current_time")
    assert "Asia/Tokyo" in call["result"]


async def test_two_runs_with_two_models_run_concurrently(served: Served, tmp_path: Path) -> None:
    sim = served.sim
    sim.load(GEMMA)
    mcp_json = write_mcp_json(tmp_path / "mcp.json", {"time": time_entry()})
    arrived = {QWEN: anyio.Event(), GEMMA: anyio.Event()}

    def final_answer(model: str, other: str) -> Any:
        # Each run's last round waits for the other's: only concurrent runs can both finish.
        async def respond(body: dict[str, Any]) -> Reply:
            arrived[model].set()
            with anyio.fail_after(30):
                await arrived[other].wait()
            return Reply(f"{model} is done")

        return respond

    for model, other in ((QWEN, GEMMA), (GEMMA, QWEN)):
        sim.script(model, Reply(tool_calls=[ASK_TIME]))
        sim.responder(model, final_answer(model, other))
    reports: dict[str, Any] = {}
    async with open_bridge_server(served.url, mcp_json, env=served.env) as session:

        async def run(model: str) -> None:
            result = await session.call_tool(
                "autonomous_with_mcp", {"mcp_name": "time", "task": "Time?", "model": model}
            )
            reports[model] = data_of(result)

        with anyio.fail_after(60):
            async with anyio.create_task_group() as group:
                group.start_soon(run, QWEN)
                group.start_soon(run, GEMMA)
    for model in (QWEN, GEMMA):
        assert reports[model]["output"] == f"{model} is done"
        assert reports[model]["model"] == model
        assert [c["tool"] for c in reports[model]["tool_calls"]] == ["get_current_time"]


async def test_cancelling_a_run_stops_it_and_the_servers_it_opened(
    served: Served, tmp_path: Path
) -> None:
    sim = served.sim
    pid_file = tmp_path / "time.pid"
    mcp_json = write_mcp_json(tmp_path / "mcp.json", {"time": time_entry(pid_file)})
    sim.script(QWEN, Reply(tool_calls=[ASK_TIME]), Reply("too late", delay=120))
    second_round = anyio.Event()

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        if message and message.startswith("round 2"):
            second_round.set()

    async with open_bridge_server(served.url, mcp_json, env=served.env) as session:
        scope = anyio.CancelScope()

        async def call() -> None:
            with scope:
                await session.call_tool(
                    "autonomous_with_mcp",
                    {"mcp_name": "time", "task": "Time?"},
                    progress_callback=on_progress,
                )
                pytest.fail("the call should have been cancelled")

        async with anyio.create_task_group() as group:
            group.start_soon(call)
            with anyio.fail_after(60):
                await second_round.wait()
            pid = int(pid_file.read_text())
            assert alive(pid)
            scope.cancel()

        # The run's model request is abandoned and the time server it started is shut down.
        await sim.wait_idle(timeout=20)
        assert sim.requests[-1].outcome == "disconnected"
        with anyio.fail_after(20):
            while alive(pid):
                await anyio.sleep(0.1)

        # The server goes on serving.
        sim.script(QWEN, "fresh")
        after = data_of(await session.call_tool("chat_completion", {"prompt": "Hi"}))
        assert after["text"] == "fresh"
