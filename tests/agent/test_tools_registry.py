"""ToolRegistry: naming, routing, and calls that never raise for model or tool misbehaviour."""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from typing import Any

import anyio
import pytest
from hypothesis import given, strategies as st

from lmbridge.agent.tools import (
    BaseToolset,
    FunctionToolset,
    RegisteredTool,
    ToolDef,
    ToolOutcome,
    ToolRegistry,
    ToolTimeoutError,
    function_tool,
)
from lmbridge.agent.tools.naming import assign_names, sanitize_name, shorten_name
from lmbridge.errors import LMBridgeError, ToolListingError

VALID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


def lookup(key: str) -> str:
    """Look a key up."""
    return f"value of {key}"


def count(items: list[int], limit: int | None = None) -> int:
    """Count items."""
    return len(items[:limit])


class StaticToolset:
    """A toolset implementing the protocol without lmbridge's base class."""

    def __init__(self, tools: Sequence[ToolDef], outcome: Any = None) -> None:
        self.tools = list(tools)
        self.outcome = outcome
        self.calls: list[tuple[str, dict[str, Any]]] = []

    async def list_tools(self) -> Sequence[ToolDef]:
        return self.tools

    async def call_tool(self, name: str, arguments: dict[str, Any]) -> ToolOutcome:
        self.calls.append((name, arguments))
        if isinstance(self.outcome, BaseException):
            raise self.outcome
        return self.outcome or ToolOutcome.from_text(f"{name} ran")


def tool(name: str, **properties: str) -> ToolDef:
    schema = {"type": "object", "properties": {k: {"type": v} for k, v in properties.items()}}
    return ToolDef(name, f"the {name} tool", schema)


# --- naming ---------------------------------------------------------------------------------


def test_sanitize_and_shorten() -> None:
    assert sanitize_name("get.time/now ü") == "get_time_now__"
    assert sanitize_name("") == "tool"
    long = "x" * 80
    short = shorten_name(long)
    assert len(short) == 64
    assert short.startswith("x" * 55 + "_")
    assert short == shorten_name(long)  # stable
    assert shorten_name("y" * 64) == "y" * 64


def test_colliding_names_are_namespaced_only_where_needed() -> None:
    names = assign_names([("a", "lookup"), ("b", "lookup"), ("a", "other"), ("c", "x.y")])
    assert names == ["a__lookup", "b__lookup", "other", "x_y"]


def test_names_that_still_collide_get_stable_hashes() -> None:
    entries = [("s", "a.b"), ("s", "a_b"), ("t", "s__a_b")]
    names = assign_names(entries)
    assert len(set(names)) == 3
    assert all(VALID.match(name) for name in names)
    assert names == assign_names(entries)


@given(st.lists(st.tuples(st.text(max_size=8), st.text(max_size=90)), max_size=12))
def test_names_are_always_valid_and_unique(entries: list[tuple[str, str]]) -> None:
    names = assign_names(entries)
    assert len(names) == len(entries)
    assert len(set(names)) == len(names)
    assert all(VALID.match(name) for name in names)


async def test_sources_get_labels_and_collisions_are_namespaced() -> None:
    class Session:  # looks like an mcp ClientSession: has initialize()
        def __init__(self, name: str) -> None:
            self.name = name

        async def initialize(self) -> None: ...

        async def list_tools(self) -> Any:
            return {"tools": [{"name": "lookup", "inputSchema": {"type": "object"}}]}

        async def call_tool(self, name: str, arguments: dict[str, Any]) -> Any:
            return {"content": [{"type": "text", "text": f"{self.name}:{name}"}]}

    registry = await ToolRegistry.build([lookup, Session("one"), Session("two"), count])
    assert registry.names == ["py__lookup", "count", "mcp1__lookup", "mcp2__lookup"]
    assert [t.source for t in registry.tools] == ["py", "py", "mcp1", "mcp2"]
    assert (await registry.call("mcp2__lookup", "{}")).text == "two:lookup"
    assert (await registry.call("py__lookup", {"key": "k"})).text == "value of k"

    named = await ToolRegistry.build({"left": Session("l"), "right": Session("r"), "fn": lookup})
    assert named.names == ["left__lookup", "right__lookup", "fn__lookup"]


async def test_shared_labels_are_numbered() -> None:
    first = FunctionToolset([lookup], name="kv")
    second = FunctionToolset([function_tool(count, name="lookup")], name="kv")
    registry = await ToolRegistry.build([first, second])
    assert registry.names == ["kv1__lookup", "kv2__lookup"]


async def test_long_names_are_shortened_and_routed() -> None:
    long_name = "a_really_" + "very_" * 20 + "long_tool_name"
    toolset = StaticToolset([tool(long_name)])
    registry = await ToolRegistry.build([toolset])
    (name,) = registry.names
    assert len(name) == 64
    assert VALID.match(name)
    route = registry.get(name)
    assert route is not None
    assert route.original_name == long_name
    await registry.call(name, "{}")
    assert toolset.calls == [(long_name, {})]


async def test_openai_and_responses_tool_shapes() -> None:
    registry = await ToolRegistry.build([lookup])
    (chat,) = registry.openai_tools()
    assert chat["type"] == "function"
    assert chat["function"]["name"] == "lookup"
    assert chat["function"]["description"] == "Look a key up."
    assert chat["function"]["parameters"]["required"] == ["key"]
    (flat,) = registry.responses_tools()
    assert flat == {"type": "function", **chat["function"]}
    assert len(registry) == 1
    assert "lookup" in registry
    assert [t.name for t in registry] == ["lookup"]


async def test_source_kinds_are_detected() -> None:
    custom = StaticToolset([tool("static")])
    registry = await ToolRegistry.build([custom])
    assert registry.names == ["static"]
    assert registry.tools[0].toolset is custom
    assert registry.tools[0].source == "tools1"

    class BareSession:  # no initialize(): what list_tools returns decides
        async def list_tools(self) -> Any:
            return {"tools": [{"name": "remote"}]}

        async def call_tool(self, name: str, arguments: dict[str, Any]) -> Any:
            return {"content": [{"type": "text", "text": "from afar"}]}

    remote = await ToolRegistry.build([BareSession()])
    assert remote.names == ["remote"]
    assert (await remote.call("remote", None)).text == "from afar"

    with pytest.raises(TypeError, match="not a tool source"):
        await ToolRegistry.build([42])  # type: ignore[list-item]


async def test_listing_failure_names_the_source() -> None:
    class Broken(StaticToolset):
        async def list_tools(self) -> Sequence[ToolDef]:
            raise ConnectionResetError("gone")

    with pytest.raises(ToolListingError, match=r"'dead'.*ConnectionResetError: gone") as caught:
        await ToolRegistry.build({"ok": lookup, "dead": Broken([])})
    assert caught.value.source == "dead"
    assert isinstance(caught.value.__cause__, ConnectionResetError)

    class BrokenBase(BaseToolset):
        @property
        def label(self) -> str:
            return "flaky"

        async def list_tools(self) -> Sequence[ToolDef]:
            raise OSError("pipe closed")

        async def call_tool(self, name: str, arguments: dict[str, Any]) -> ToolOutcome:
            raise AssertionError("never called")

    with pytest.raises(LMBridgeError, match=r"'flaky' failed: OSError: pipe closed"):
        await ToolRegistry.build([lookup, BrokenBase()])


async def test_prepared_function_tools_join_the_py_toolset() -> None:
    registry = await ToolRegistry.build([function_tool(lookup, name="find"), count])
    assert registry.names == ["find", "count"]
    assert {t.source for t in registry.tools} == {"py"}
    assert (await registry.call("find", {"key": "k"})).text == "value of k"


# --- calling --------------------------------------------------------------------------------


async def registry_of(*tools: ToolDef, outcome: Any = None) -> tuple[ToolRegistry, StaticToolset]:
    toolset = StaticToolset(tools, outcome)
    return await ToolRegistry.build([toolset]), toolset


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (
            '{"key": ',
            """The arguments were not valid JSON: Expecting value at position 8 of '{"key": '.""",
        ),
        ("[1, 2]", "The arguments must be a JSON object, not an array."),
        ('"key"', "The arguments must be a JSON object, not a string."),
        ("42", "The arguments must be a JSON object, not a int."),
    ],
)
async def test_bad_argument_json_is_an_invalid_call(arguments: str, message: str) -> None:
    registry, toolset = await registry_of(tool("t", key="string"))
    outcome = await registry.call("t", arguments)
    assert outcome.is_error
    assert outcome.invalid_call
    assert outcome.text.startswith(message)
    assert toolset.calls == []


@pytest.mark.parametrize("arguments", ["", "  ", "null", None, "{}"])
async def test_empty_arguments_mean_no_arguments(arguments: str | None) -> None:
    registry, toolset = await registry_of(tool("t"))
    outcome = await registry.call("t", arguments)
    assert not outcome.is_error
    assert toolset.calls == [("t", {})]


async def test_unknown_tool_lists_the_available_names() -> None:
    registry, _ = await registry_of(tool("alpha"), tool("beta"))
    outcome = await registry.call("gamma", "{}")
    assert outcome.is_error
    assert outcome.error_kind == "unknown_tool"
    assert outcome.text == "Unknown tool 'gamma'. Available tools: alpha, beta."


async def test_original_and_padded_names_still_route() -> None:
    registry, toolset = await registry_of(tool("get.time"))
    assert registry.names == ["get_time"]
    assert not (await registry.call("get.time", "{}")).is_error
    assert not (await registry.call(" get_time ", "{}")).is_error
    assert toolset.calls == [("get.time", {}), ("get.time", {})]


async def test_schema_failures_are_reported_before_the_call() -> None:
    registry = await ToolRegistry.build([count])
    outcome = await registry.call("count", '{"items": [1, "two"], "limit": "3", "extra": true}')
    assert outcome.is_error
    assert outcome.error_kind == "invalid_arguments"
    assert outcome.text == (
        "Invalid arguments for tool 'count': argument 'items[1]' must be integer, got string; "
        "argument 'limit' does not match any allowed type (integer, null); "
        "unexpected argument 'extra' (expected: items, limit)."
    )
    ok = await registry.call("count", '{"items": [1, 2, 3], "limit": 2}')
    assert ok.text == "2"


async def test_exceptions_become_short_error_outcomes() -> None:
    registry, _ = await registry_of(tool("t"), outcome=ValueError("bad value " + "x" * 2000))
    outcome = await registry.call("t", "{}")
    assert outcome.is_error
    assert outcome.error_kind == "failed"
    assert outcome.text.startswith("The tool raised ValueError: bad value x")
    assert len(outcome.text) <= 1000

    registry, _ = await registry_of(tool("t"), outcome=RuntimeError())
    assert (await registry.call("t", "{}")).text == "The tool raised RuntimeError"

    registry, _ = await registry_of(tool("t"), outcome=ToolTimeoutError("the API was too slow"))
    outcome = await registry.call("t", "{}")
    assert outcome.text == "the API was too slow"
    assert outcome.error_kind == "timeout"


async def test_error_results_get_a_kind() -> None:
    registry, _ = await registry_of(tool("t"), outcome=ToolOutcome(text="nope", is_error=True))
    outcome = await registry.call("t", "{}")
    assert outcome.error_kind == "failed"
    assert not outcome.invalid_call


async def test_keyboard_interrupt_propagates() -> None:
    registry, _ = await registry_of(tool("t"), outcome=KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        await registry.call("t", "{}")


async def test_cancellation_propagates() -> None:
    async def forever() -> str:
        await anyio.sleep(60)
        return "never"

    registry = await ToolRegistry.build([forever])
    reached_after_call = False
    with anyio.move_on_after(0.05) as scope:
        await registry.call("forever", "{}")
        reached_after_call = True
    assert scope.cancelled_caught
    assert not reached_after_call


async def test_timeouts_for_async_and_sync_tools() -> None:
    release = threading.Event()

    async def slow_async() -> str:
        await anyio.sleep(60)
        return "never"

    def slow_sync() -> str:
        release.wait(30)
        return "late"

    registry = await ToolRegistry.build([slow_async, slow_sync])
    try:
        for name in ("slow_async", "slow_sync"):
            outcome = await registry.call(name, "{}", timeout=0.1)
            assert outcome.is_error
            assert outcome.error_kind == "timeout"
            assert outcome.text == f"The tool '{name}' timed out after 0.1 s."
    finally:
        release.set()


async def test_a_timeout_error_raised_by_the_tool_is_not_our_timeout() -> None:
    registry, _ = await registry_of(tool("t"), outcome=TimeoutError("upstream"))
    outcome = await registry.call("t", "{}", timeout=30)
    assert outcome.error_kind == "failed"
    assert outcome.text == "The tool raised TimeoutError: upstream"


async def test_long_results_are_truncated_with_a_marker() -> None:
    def big() -> str:
        return "a" * 250

    registry = await ToolRegistry.build([big], max_result_chars=100)
    outcome = await registry.call("big", "{}")
    assert outcome.text == "a" * 100 + "\n…[truncated: 150 more characters]"
    registry.max_result_chars = None
    assert (await registry.call("big", "{}")).text == "a" * 250
    default = await ToolRegistry.build([big])
    assert default.max_result_chars == 20_000


async def test_registry_rejects_duplicate_routes() -> None:
    toolset = StaticToolset([tool("t")])
    entry = RegisteredTool("t", tool("t"), toolset, "s")
    with pytest.raises(ValueError, match="unique"):
        ToolRegistry([entry, entry])


def test_outcome_helpers() -> None:
    outcome = ToolOutcome.from_text("hi")
    assert outcome.to_message("call_1") == {
        "role": "tool",
        "tool_call_id": "call_1",
        "content": "hi",
    }
    assert outcome.error_kind is None
    error = ToolOutcome.from_error("broken", kind="invalid_arguments")
    assert error.is_error
    assert error.invalid_call
