"""The agent loop over a REAL mcp-server-time (stdio), with the model simulated.

One server is started for the whole module and shared by its tests (as one user would share a
session between runs); every test leaves it usable, which the later tests rely on and check.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest
import pytest_asyncio

from lmbridge.agent.tools import MCPToolset
from lmbridge.testing import Reply, ToolCallSpec
from tests.agent.conftest import open_stdio_session, server_name, time_server_args
from tests.agent.loop_support import (
    MODEL,
    AdvertisingSession,
    FakeServer,
    FakeSession2x,
    assert_valid_transcript,
    call,
    chat_bodies,
    echo_tools,
    hosted_session,
    new_bridge,
    new_sim,
    raw_is_error,
    skip_or_fail,
    tool_names,
    trailing_tool_messages,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def time_session() -> AsyncIterator[Any]:
    """One mcp-server-time session for the module."""
    for module in ("mcp", "mcp_server_time"):
        if importlib.util.find_spec(module) is None:
            skip_or_fail(f"{module} is not installed (pip install -e '.[dev]')")
    command, args = time_server_args()
    async with hosted_session(lambda: open_stdio_session(command, args)) as session:
        yield session


async def test_a_time_server_call_runs_end_to_end(time_session: Any) -> None:
    sim = new_sim()
    sim.responder(MODEL, echo_tools(call("get_current_time", timezone="Europe/Paris")))
    async with new_bridge(sim) as bridge:
        result = await bridge.run_agent(MODEL, "What time is it in Paris?", tools=[time_session])

    assert result.stop_reason == "completed"
    assert result.rounds == 2
    (record,) = result.tool_calls
    assert (record.round, record.name, record.tool) == (1, "get_current_time", "get_current_time")
    # the server's own name (mcp 2.x sessions know it; 1.x sources are numbered)
    assert record.source == ("mcp-time" if server_name(time_session) else "mcp1")
    assert record.arguments == {"timezone": "Europe/Paris"}
    assert json.loads(record.arguments_json) == {"timezone": "Europe/Paris"}
    assert not record.outcome.is_error and record.error is None
    assert record.result is not None and json.loads(record.result)["timezone"] == "Europe/Paris"
    assert record.duration > 0
    assert result.output == record.result  # the model read the tool's answer

    bodies = chat_bodies(sim)
    assert sorted(tool_names(bodies[0])) == ["convert_time", "get_current_time"]
    assert bodies[1]["messages"] == result.messages[:-1]
    assert [m["role"] for m in result.messages] == ["user", "assistant", "tool", "assistant"]
    assistant, answer = result.messages[1], result.messages[2]
    assert assistant["tool_calls"][0]["id"] == record.id == answer["tool_call_id"]
    assert answer["content"] == record.result
    assert_valid_transcript(result.messages)


async def test_a_bad_timezone_reaches_the_model_as_an_error(time_session: Any) -> None:
    sim = new_sim()
    sim.responder(MODEL, echo_tools(call("get_current_time", timezone="Mars/Olympus_Mons")))
    async with new_bridge(sim) as bridge:
        result = await bridge.run_agent(MODEL, "Time on Mars?", tools=[time_session])

    (record,) = result.tool_calls
    assert record.outcome.is_error and record.outcome.error_kind == "failed"
    assert record.result is None
    assert record.error is not None and "Mars/Olympus_Mons" in record.error
    (told,) = trailing_tool_messages(chat_bodies(sim)[1]["messages"])
    assert told["content"] == record.error
    assert result.stop_reason == "completed"
    assert result.output == record.error


async def test_unknown_tools_reach_the_model_as_errors(time_session: Any) -> None:
    # "get_weather" is no tool at all; "get_moon_phase" is still listed but the server no longer
    # has it, so the call reaches mcp-server-time, which answers with a protocol error.
    stale = MCPToolset(AdvertisingSession(time_session, ["get_moon_phase"]), name="time")
    sim = new_sim()
    sim.script(
        MODEL,
        Reply(tool_calls=[call("get_weather", city="Paris"), call("get_moon_phase")]),
        Reply(tool_calls=[call("get_current_time", timezone="UTC")]),
        Reply("Only the time then."),
    )
    async with new_bridge(sim) as bridge:
        result = await bridge.run_agent(MODEL, "Weather, moon, time?", tools=[stale])

    weather, moon, clock = result.tool_calls
    assert weather.outcome.error_kind == "unknown_tool" and weather.source is None
    assert weather.error is not None
    assert "get_weather" in weather.error and "get_current_time" in weather.error
    assert moon.outcome.error_kind == "failed" and moon.source == "time"
    assert moon.error is not None and "get_moon_phase" in moon.error
    told = trailing_tool_messages(chat_bodies(sim)[1]["messages"])
    assert [m["content"] for m in told] == [weather.error, moon.error]
    # The run went on, and the session still answers after the protocol error.
    assert clock.result is not None and json.loads(clock.result)["timezone"] == "UTC"
    assert result.stop_reason == "completed" and result.output == "Only the time then."
    assert_valid_transcript(result.messages)


async def test_invalid_json_arguments_are_reported_and_the_model_can_retry(
    time_session: Any,
) -> None:
    sim = new_sim()
    sim.script(
        MODEL,
        Reply(tool_calls=[ToolCallSpec("get_current_time", '{"timezone": "Asia/Tokyo"')]),
        Reply(tool_calls=[call("get_current_time", timezone="Asia/Tokyo")]),
        Reply("Fixed it."),
    )
    async with new_bridge(sim) as bridge:
        result = await bridge.run_agent(MODEL, "Time in Tokyo?", tools=[time_session])

    broken, fixed = result.tool_calls
    assert broken.outcome.error_kind == "invalid_arguments"
    assert broken.arguments == {} and broken.arguments_json == '{"timezone": "Asia/Tokyo"'
    assert broken.error is not None and "not valid JSON" in broken.error
    (told,) = trailing_tool_messages(chat_bodies(sim)[1]["messages"])
    assert told["content"] == broken.error
    assert '{"timezone": "Asia/Tokyo"' in told["content"], "the model is shown what it wrote"
    # the broken arguments go back to the server as {}: chat templates parse them
    sent_back = [m for m in chat_bodies(sim)[1]["messages"] if m.get("tool_calls")]
    assert sent_back[-1]["tool_calls"][0]["function"]["arguments"] == "{}"
    assert fixed.result is not None and json.loads(fixed.result)["timezone"] == "Asia/Tokyo"
    assert result.stop_reason == "completed" and result.rounds == 3
    assert_valid_transcript(result.messages)


async def test_colliding_tool_names_are_namespaced_per_session(time_session: Any) -> None:
    clock = FakeServer(pages=[["get_current_time"]])
    sim = new_sim()
    sim.responder(
        MODEL,
        echo_tools(
            call("time__get_current_time", timezone="Asia/Tokyo"),
            call("clock__get_current_time", x=1),
        ),
    )
    async with new_bridge(sim) as bridge:
        result = await bridge.run_agent(
            MODEL, "Two clocks.", tools={"time": time_session, "clock": FakeSession2x(clock)}
        )

    assert sorted(tool_names(chat_bodies(sim)[0])) == [
        "clock__get_current_time",
        "convert_time",  # no collision: keeps its plain name
        "time__get_current_time",
    ]
    real, fake = result.tool_calls
    assert (real.source, real.tool) == ("time", "get_current_time")
    assert real.result is not None and json.loads(real.result)["timezone"] == "Asia/Tokyo"
    assert (fake.source, fake.tool) == ("clock", "get_current_time")
    assert clock.calls == [("get_current_time", {"x": 1})]
    assert result.stop_reason == "completed"


async def test_three_runs_on_three_models_share_one_session(time_session: Any) -> None:
    zones = {
        "qwen/qwen3-4b": "Europe/Paris",
        "qwen/qwen3-4b-thinking-2507": "Asia/Tokyo",
        "openai/gpt-oss-20b": "America/New_York",
    }
    sim = new_sim(*zones)
    for model, zone in zones.items():
        sim.responder(model, echo_tools(call("get_current_time", timezone=zone), prefix="@"))
    async with new_bridge(sim) as bridge:
        results = await asyncio.gather(
            *(bridge.run_agent(model, "What time is it?", tools=[time_session]) for model in zones)
        )

    for (model, zone), result in zip(zones.items(), results, strict=True):
        assert result.model == model and result.stop_reason == "completed"
        (record,) = result.tool_calls
        assert record.arguments == {"timezone": zone}
        assert json.loads(result.output.removeprefix("@"))["timezone"] == zone
        assert_valid_transcript(result.messages)
    served = {body["model"] for body in chat_bodies(sim)}
    assert served == set(zones)


async def test_cancelling_run_agent_cancels_its_tools_and_keeps_the_session(
    time_session: Any,
) -> None:
    started = anyio.Event()
    cancelled = anyio.Event()

    async def wait_forever() -> str:
        """Wait for something that never comes."""
        started.set()
        try:
            await anyio.sleep_forever()
        except anyio.get_cancelled_exc_class():
            cancelled.set()
            raise
        return "unreachable"

    sim = new_sim()
    sim.script(
        MODEL, Reply(tool_calls=[call("get_current_time", timezone="UTC"), call("wait_forever")])
    )
    scope = anyio.CancelScope()
    finished: list[object] = []

    async def run(bridge: Any) -> None:
        with scope:
            finished.append(
                await bridge.run_agent(MODEL, "Wait.", tools=[time_session, wait_forever])
            )

    async with new_bridge(sim) as bridge:
        with anyio.fail_after(20):
            async with anyio.create_task_group() as group:
                group.start_soon(run, bridge)
                await started.wait()
                scope.cancel()

    assert scope.cancelled_caught and not finished
    assert cancelled.is_set()
    # The caller's session is still open and answers.
    after = await time_session.call_tool("get_current_time", {"timezone": "UTC"})
    assert not raw_is_error(after)
    assert json.loads(after.content[0].text)["timezone"] == "UTC"
