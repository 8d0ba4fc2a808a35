"""The agent loop end to end with nothing mocked: the real model calls the real mcp-server-time.

The few-shot history (passed as the task) shows two earlier ``get_current_time`` rounds, so the base
model answers the new question with a call; lmbridge runs it on mcp-server-time over stdio and sends
the result back. What the model then says is nonsense, so only the run's structure is checked.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import pytest

from lmbridge import Bridge
from lmbridge.agent.events import RunFinished, ToolCallRequested, ToolResultReady
from tests.integration.bridge_support import (
    DETERMINISTIC,
    SLOW_MACHINE_S,
    TOOL_TOKENS,
    fewshot_messages,
)
from tests.integration.fewshot import TOOL_CALL_STOP

pytestmark = pytest.mark.timeout(SLOW_MACHINE_S + 60)

GET_CURRENT_TIME = "get_current_time"
SOURCE = "time"
# A city the model tends to answer with a real IANA zone ("Tokyo" gets "America/Tokyo"), so that
# the tool usually succeeds; a made-up zone is a tool error, which the test accepts as well.
QUESTION = "What time is it in Berlin?"


@pytest.fixture(autouse=True)
def _need_mcp_server_time() -> None:
    for module in ("mcp", "mcp_server_time"):
        if importlib.util.find_spec(module) is None:
            pytest.fail(f"{module} is not installed: pip install -e '.[dev]'")


@asynccontextmanager
async def time_server() -> AsyncIterator[Any]:
    """An initialised ClientSession with a fresh mcp-server-time (entered in the test's own task)."""
    from mcp import ClientSession, StdioServerParameters
    from mcp.client.stdio import stdio_client

    params = StdioServerParameters(command=sys.executable, args=["-m", "mcp_server_time"])
    with tempfile.TemporaryFile(mode="w+") as errlog:
        async with stdio_client(params, errlog=errlog) as (read, write):  # noqa: SIM117
            async with ClientSession(read, write) as session:
                await session.initialize()
                yield session


def run_options() -> dict[str, Any]:
    return {
        "max_rounds": 2,
        "stop": TOOL_CALL_STOP,
        "max_tokens": TOOL_TOKENS,
        "tool_timeout": 30.0,
        **DETERMINISTIC,
    }


async def test_the_model_calls_mcp_server_time_and_reads_the_answer(
    bridge: Bridge, model_name: str
) -> None:
    with anyio.fail_after(SLOW_MACHINE_S):
        async with time_server() as session:
            result = await bridge.run_agent(
                model_name,
                fewshot_messages(GET_CURRENT_TIME, QUESTION),
                tools={SOURCE: session},
                **run_options(),
            )
            # The session is still usable after the run.
            after = await session.call_tool(GET_CURRENT_TIME, {"timezone": "UTC"})

    assert result.stop_reason in {"completed", "max_rounds", "loop_detected"}
    assert 1 <= result.rounds <= 2
    assert result.model == model_name
    first = result.tool_calls[0]
    assert (first.round, first.name, first.tool, first.source) == (
        1,
        GET_CURRENT_TIME,
        GET_CURRENT_TIME,
        SOURCE,
    )
    assert set(first.arguments) == {"timezone"}
    assert json.loads(first.arguments_json) == first.arguments
    # Whatever timezone the model made up, the server answered: a result or a tool error.
    assert first.outcome.text
    assert (first.result is None) == first.outcome.is_error
    if first.result is not None:
        assert json.loads(first.result)["timezone"] == first.arguments["timezone"]
    # The transcript: few-shot, the assistant's call, the tool's answer, then the next round.
    fewshot = fewshot_messages(GET_CURRENT_TIME, QUESTION)
    assert result.messages[: len(fewshot)] == fewshot
    call_message, tool_message = result.messages[len(fewshot) : len(fewshot) + 2]
    assert call_message["role"] == "assistant"
    assert [c["id"] for c in call_message["tool_calls"]] == [first.id]
    assert tool_message == {
        "role": "tool",
        "tool_call_id": first.id,
        "content": first.outcome.text,
    }
    assert result.usage.total_tokens >= result.usage.completion_tokens >= 1
    assert not after.is_error


async def test_streaming_the_run_shows_the_call_and_its_result(
    bridge: Bridge, model_name: str
) -> None:
    events: list[Any] = []
    with anyio.fail_after(SLOW_MACHINE_S):
        async with (
            time_server() as session,
            bridge.stream_agent(
                model_name,
                fewshot_messages(GET_CURRENT_TIME, QUESTION),
                tools={SOURCE: session},
                **run_options(),
            ) as run,
        ):
            events = [event async for event in run]
            result = await run.result()

    requested = [event for event in events if isinstance(event, ToolCallRequested)]
    answered = [event for event in events if isinstance(event, ToolResultReady)]
    assert requested and answered
    assert requested[0].name == GET_CURRENT_TIME
    assert answered[0].record == result.tool_calls[0]
    assert isinstance(events[-1], RunFinished) and events[-1].result == result
