"""The agent loop over a REAL server-everything (npm, stdio), with the model simulated.

The server is installed by ``scripts/install-mcp-servers.sh``; without it these tests skip (or
fail when ``LMBRIDGE_REQUIRE_MCP=1``). One server is shared by the module's tests; each leaves it
usable, which the later tests rely on and check.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest
import pytest_asyncio

from lmbridge.agent.tools import MCPToolset
from lmbridge.testing import Reply
from tests.agent.conftest import EVERYTHING_INSTALL, everything_command, open_stdio_session
from tests.agent.loop_support import (
    MODEL,
    AdvertisingSession,
    WatchedSession,
    assert_valid_transcript,
    call,
    chat_bodies,
    echo_tools,
    hosted_session,
    new_bridge,
    new_sim,
    raw_is_error,
    skip_or_fail,
    trailing_tool_messages,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")

VISION_MODEL = "google/gemma-3-4b"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def everything_session() -> AsyncIterator[Any]:
    """One server-everything session for the module."""
    command = everything_command()
    if command is None:
        skip_or_fail(
            "server-everything is not installed: run scripts/install-mcp-servers.sh "
            f"(or {EVERYTHING_INSTALL}), or set LMBRIDGE_MCP_EVERYTHING"
        )
    async with hosted_session(lambda: open_stdio_session(command, ["stdio"])) as session:
        yield session


async def echo_works(session: Any, message: str) -> None:
    """The session still answers a call."""
    result = await session.call_tool("echo", {"message": message})
    assert not raw_is_error(result)
    assert message in result.content[0].text


async def test_an_unknown_tool_result_reaches_the_model_as_an_error(
    everything_session: Any,
) -> None:
    # Still listed, but gone from the server: server-everything answers isError (no exception).
    stale = MCPToolset(AdvertisingSession(everything_session, ["ghost-tool"]), name="everything")
    sim = new_sim()
    sim.responder(MODEL, echo_tools(call("ghost-tool"), call("echo", message="still here")))
    async with new_bridge(sim) as bridge:
        result = await bridge.run_agent(MODEL, "Try both.", tools=[stale])

    ghost, echo = result.tool_calls
    assert ghost.outcome.is_error and ghost.outcome.error_kind == "failed"
    assert ghost.error is not None and "ghost-tool" in ghost.error
    assert echo.result is not None and "still here" in echo.result
    told = trailing_tool_messages(chat_bodies(sim)[1]["messages"])
    assert told[0]["content"] == ghost.error
    assert result.stop_reason == "completed"
    assert_valid_transcript(result.messages)


async def test_a_tool_timeout_is_an_error_outcome_and_the_session_stays_usable(
    everything_session: Any,
) -> None:
    sim = new_sim()
    sim.script(
        MODEL,
        Reply(tool_calls=[call("trigger-long-running-operation", duration=30, steps=30)]),
        Reply(tool_calls=[call("echo", message="after the timeout")]),
        Reply("Gave up on the long one."),
    )
    async with new_bridge(sim) as bridge:
        with anyio.fail_after(20):
            result = await bridge.run_agent(
                MODEL, "Run it.", tools=[everything_session], tool_timeout=1
            )

    slow, echo = result.tool_calls
    assert slow.outcome.is_error and slow.outcome.error_kind == "timeout"
    assert slow.error is not None and "timed out" in slow.error
    (told,) = trailing_tool_messages(chat_bodies(sim)[1]["messages"])
    assert told["content"] == slow.error
    assert echo.result is not None and "after the timeout" in echo.result  # same run
    assert result.stop_reason == "completed"
    await echo_works(everything_session, "and after the run")


async def test_an_image_result_is_described_and_optionally_shown_to_the_model(
    everything_session: Any,
) -> None:
    sim = new_sim(VISION_MODEL)
    sim.responder(VISION_MODEL, echo_tools(call("get-tiny-image")))
    async with new_bridge(sim) as bridge:
        described = await bridge.run_agent(VISION_MODEL, "Show me.", tools=[everything_session])
        shown = await bridge.run_agent(
            VISION_MODEL, "Show me.", tools=[everything_session], pass_images=True
        )

    (record,) = described.tool_calls
    assert record.result is not None
    assert "[image: image/png," in record.result and "MCP logo" in record.result
    assert record.outcome.images and record.outcome.images[0][0] == "image/png"
    assert not any(
        m["role"] == "user" and isinstance(m["content"], list) for m in described.messages
    )

    roles = [m["role"] for m in shown.messages]
    assert roles == ["user", "assistant", "tool", "user", "assistant"]
    parts = shown.messages[3]["content"]
    images = [p for p in parts if p["type"] == "image_url"]
    assert len(images) == 1
    assert images[0]["image_url"]["url"].startswith("data:image/png;base64,")
    assert any(p["type"] == "text" and "get-tiny-image" in p["text"] for p in parts)
    # The vision model received the picture with the second round's request.
    assert chat_bodies(sim)[-1]["messages"] == shown.messages[:-1]
    assert_valid_transcript(shown.messages)


async def test_cancelling_run_agent_cancels_the_mcp_call_and_keeps_the_session(
    everything_session: Any,
) -> None:
    watched = WatchedSession(everything_session)
    sim = new_sim()
    sim.script(MODEL, Reply(tool_calls=[call("trigger-long-running-operation", duration=30)]))
    scope = anyio.CancelScope()
    finished: list[object] = []

    async def run(bridge: Any) -> None:
        with scope:
            finished.append(
                await bridge.run_agent(MODEL, "Run it.", tools=[MCPToolset(watched, name="ev")])
            )

    async with new_bridge(sim) as bridge:
        with anyio.fail_after(20):
            async with anyio.create_task_group() as group:
                group.start_soon(run, bridge)
                await watched.started.wait()
                scope.cancel()

    assert scope.cancelled_caught and not finished
    assert watched.cancelled.is_set()  # the in-flight MCP call itself was cancelled
    await echo_works(everything_session, "session still open")
