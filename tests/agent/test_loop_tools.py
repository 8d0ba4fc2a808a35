"""The agent loop with Python functions, wrappers and fake MCP sessions (simulated model)."""

from __future__ import annotations

import time
from typing import Any

import anyio
import pytest

from lmbridge.agent.tools import ApprovalToolset, FunctionToolset
from lmbridge.testing import Reply
from tests.agent.loop_support import (
    MODEL,
    FakeServer,
    FakeSession1x,
    FakeSession2x,
    assert_valid_transcript,
    call,
    chat_bodies,
    echo_tools,
    new_bridge,
    new_sim,
    tool_names,
)


def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


async def shout(text: str) -> str:
    """Say it louder.

    Args:
        text: what to say.
    """
    await anyio.sleep(0)
    return text.upper() + "!"


async def test_sync_and_async_functions_run_and_the_model_reads_their_results() -> None:
    sim = new_sim()
    sim.responder(MODEL, echo_tools(call("add", a=2, b=40), call("shout", text="hi")))
    async with new_bridge(sim) as bridge:
        result = await bridge.run_agent(MODEL, "Add, then shout.", tools=[add, shout])

    assert result.stop_reason == "completed" and result.completed
    assert result.rounds == 2
    assert result.output == "42 | HI!"
    assert [(r.name, r.source, r.arguments, r.result) for r in result.tool_calls] == [
        ("add", "py", {"a": 2, "b": 40}, "42"),
        ("shout", "py", {"text": "hi"}, "HI!"),
    ]
    first = chat_bodies(sim)[0]
    assert tool_names(first) == ["add", "shout"]
    shout_schema = first["tools"][1]["function"]
    assert shout_schema["description"] == "Say it louder."
    assert shout_schema["parameters"]["properties"]["text"]["description"] == "what to say."
    assert_valid_transcript(result.messages)


async def test_approval_hook_denies_a_call_and_the_model_is_told() -> None:
    deleted: list[str] = []

    def delete_file(path: str) -> str:
        """Delete a file."""
        deleted.append(path)
        return f"deleted {path}"

    asked: list[tuple[str, dict[str, Any]]] = []

    async def approve(name: str, arguments: dict[str, Any]) -> bool:
        asked.append((name, arguments))
        return str(arguments["path"]).startswith("/tmp/")

    sim = new_sim()
    sim.responder(
        MODEL,
        echo_tools(call("delete_file", path="/etc/passwd"), call("delete_file", path="/tmp/x")),
    )
    tools = [ApprovalToolset(FunctionToolset([delete_file]), approve)]
    async with new_bridge(sim) as bridge:
        result = await bridge.run_agent(MODEL, "Clean up.", tools=tools)

    assert deleted == ["/tmp/x"]  # the denied call never ran
    assert asked == [("delete_file", {"path": "/etc/passwd"}), ("delete_file", {"path": "/tmp/x"})]
    denied, allowed = result.tool_calls
    assert denied.outcome.is_error and denied.outcome.error_kind == "denied"
    assert denied.error is not None and "denied" in denied.error
    assert allowed.result == "deleted /tmp/x"
    # The model read both answers and the run went on to completion.
    assert result.stop_reason == "completed"
    assert result.output == f"{denied.error} | deleted /tmp/x"
    assert_valid_transcript(result.messages)


class Overlap:
    """Two tool calls that wait (briefly) for each other, recording when each ran.

    When the calls run concurrently both start at once; the first finishes only after the second,
    so results arrive out of call order. Run one at a time, each wait just times out.
    """

    def __init__(self, wait: float) -> None:
        self.wait = wait
        self.intervals: dict[str, tuple[float, float]] = {}
        self.started: set[str] = set()
        self.both_started = anyio.Event()
        self.second_done = anyio.Event()

    async def work(self, tag: str) -> str:
        """Do some slow work.

        Args:
            tag: ``first`` or ``second``.
        """
        begin = time.monotonic()
        self.started.add(tag)
        if len(self.started) == 2:
            self.both_started.set()
        with anyio.move_on_after(self.wait):
            await self.both_started.wait()
        if tag == "first":
            with anyio.move_on_after(self.wait):
                await self.second_done.wait()
        self.intervals[tag] = (begin, time.monotonic())
        if tag == "second":
            self.second_done.set()
        return f"{tag} done"


async def test_parallel_calls_overlap_and_answer_in_call_order() -> None:
    overlap = Overlap(wait=5.0)
    sim = new_sim()
    sim.responder(MODEL, echo_tools(call("work", tag="first"), call("work", tag="second")))
    async with new_bridge(sim) as bridge:
        result = await bridge.run_agent(MODEL, "Work.", tools=[overlap.work])

    (start1, end1), (start2, end2) = overlap.intervals["first"], overlap.intervals["second"]
    assert max(start1, start2) < min(end1, end2), "the two calls did not run at the same time"
    assert end2 <= end1  # the second finished first...
    # ...yet the model gets the results in call order, and the records follow call order too.
    assert result.output == "first done | second done"
    assert [r.arguments["tag"] for r in result.tool_calls] == ["first", "second"]
    assert_valid_transcript(result.messages)


async def test_max_parallel_tools_1_runs_calls_one_at_a_time() -> None:
    overlap = Overlap(wait=0.2)
    sim = new_sim()
    sim.responder(MODEL, echo_tools(call("work", tag="first"), call("work", tag="second")))
    async with new_bridge(sim) as bridge:
        result = await bridge.run_agent(MODEL, "Work.", tools=[overlap.work], max_parallel_tools=1)

    (_, end1), (start2, _) = overlap.intervals["first"], overlap.intervals["second"]
    assert end1 <= start2, "with max_parallel_tools=1 the calls overlapped"
    assert result.output == "first done | second done"


async def test_every_page_of_a_paged_tool_list_reaches_the_model() -> None:
    server = FakeServer(pages=[["alpha", "beta"], ["gamma"], ["delta"]])
    sim = new_sim()
    sim.responder(MODEL, echo_tools(call("delta", x=1)))
    async with new_bridge(sim) as bridge:
        result = await bridge.run_agent(MODEL, "Use delta.", tools={"fake": FakeSession2x(server)})

    assert server.cursors == [None, "page-1", "page-2"]
    assert tool_names(chat_bodies(sim)[0]) == ["alpha", "beta", "gamma", "delta"]
    assert server.calls == [("delta", {"x": 1})]
    (record,) = result.tool_calls
    assert (record.name, record.source, record.result) == ("delta", "fake", "delta: [('x', 1)]")
    assert result.output == "delta: [('x', 1)]"


@pytest.mark.parametrize("session_class", [FakeSession1x, FakeSession2x], ids=["mcp1", "mcp2"])
async def test_mcp_1x_and_2x_shaped_sessions_work_alike(
    session_class: type[FakeSession1x] | type[FakeSession2x],
) -> None:
    server = FakeServer(pages=[["alpha"], ["broken"]], failing={"broken"})
    sim = new_sim()
    sim.responder(MODEL, echo_tools(call("alpha", x=2), call("broken", x=3)))
    async with new_bridge(sim) as bridge:
        result = await bridge.run_agent(MODEL, "Use both.", tools=[session_class(server)])

    assert server.cursors == [None, "page-1"]  # camelCase nextCursor / cursor= work as well
    assert tool_names(chat_bodies(sim)[0]) == ["alpha", "broken"]
    ok, failed = result.tool_calls
    assert ok.result == "alpha: [('x', 2)]"
    assert ok.outcome.structured == {"tool": "alpha", "x": 2}
    assert failed.outcome.is_error and failed.outcome.error_kind == "failed"
    assert failed.error == "broken failed on purpose"
    assert result.output == "alpha: [('x', 2)] | broken failed on purpose"
    assert result.stop_reason == "completed"


async def test_tool_calls_left_in_the_text_are_executed() -> None:
    sim = new_sim()
    sim.script(
        MODEL,
        Reply('Let me add.\n<tool_call>{"name": "add", "arguments": {"a": 1, "b": 2}}</tool_call>'),
        Reply("It is 3."),
    )
    async with new_bridge(sim) as bridge:
        result = await bridge.run_agent(MODEL, "1+2?", tools=[add])

    (record,) = result.tool_calls
    assert (record.name, record.arguments, record.result) == ("add", {"a": 1, "b": 2}, "3")
    assistant = result.messages[1]
    assert assistant["content"].strip() == "Let me add."  # the markup became a real tool call
    assert assistant["tool_calls"][0]["function"]["name"] == "add"
    assert result.messages[2] == {"role": "tool", "tool_call_id": record.id, "content": "3"}
    assert chat_bodies(sim)[1]["messages"] == result.messages[:3]
    assert result.output == "It is 3."
    assert_valid_transcript(result.messages)


async def test_a_task_given_as_messages_continues_a_previous_run() -> None:
    def city_time(city: str) -> str:
        """The local time in a city."""
        return f"noon in {city}"

    sim = new_sim()
    sim.responder(MODEL, echo_tools(call("city_time", city="Paris")))
    async with new_bridge(sim) as bridge:
        first = await bridge.run_agent(MODEL, "Time in Paris?", tools=[city_time])
        sim.responder(MODEL, echo_tools(call("city_time", city="Tokyo")))
        task = [*first.messages, {"role": "user", "content": "And in Tokyo?"}]
        second = await bridge.run_agent(MODEL, task, tools=[city_time], temperature=0.25)

    assert first.output == "noon in Paris"
    assert second.output == "noon in Tokyo"
    bodies = chat_bodies(sim)
    assert len(bodies) == 4
    assert bodies[2]["messages"] == task  # the whole earlier conversation, tool round included
    assert second.messages[: len(task)] == task
    assert [r.arguments for r in second.tool_calls] == [{"city": "Tokyo"}]
    assert [b.get("temperature") for b in bodies] == [None, None, 0.25, 0.25]
    assert_valid_transcript(second.messages)
