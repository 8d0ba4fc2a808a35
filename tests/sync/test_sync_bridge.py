"""SyncBridge: the Bridge without await, where a loop already runs, from threads, and closed."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from pydantic import BaseModel
from typing_extensions import assert_type

from lmbridge import (
    AgentResult,
    Bridge,
    BridgeClosedError,
    ChatResult,
    CompletionResult,
    EmbeddingResult,
    ModelList,
    ResponseResult,
    StreamEvent,
    SyncBridge,
    TextDelta,
    UsageReport,
    WrongModelTypeError,
)
from lmbridge.testing import Reply, SimulatedLMStudio
from tests.pool import pool_states
from tests.served import served_in_thread

MODEL = "qwen/qwen3-4b"
EMBEDDER = "text-embedding-nomic-embed-text-v1.5"


class City(BaseModel):
    name: str
    population: int


@pytest.fixture
def sim() -> SimulatedLMStudio:
    return SimulatedLMStudio(loaded=[MODEL])


@pytest.fixture
def bridge(sim: SimulatedLMStudio) -> Iterator[SyncBridge]:
    with SyncBridge(transport=sim.transport()) as bridge:
        yield bridge


def test_every_method_answers_like_the_async_bridge(
    sim: SimulatedLMStudio, bridge: SyncBridge
) -> None:
    sim.script(MODEL, Reply("hello"))
    sim.script(MODEL, Reply('{"name": "Tokyo", "population": 37400000}'))

    chat = bridge.chat(MODEL, "hi")
    city = bridge.chat(MODEL, "a city", response_format=City)
    vectors = bridge.embed(EMBEDDER, ["a", "b"])
    models = bridge.models.list()
    run = bridge.run_agent(MODEL, "task")

    # mypy sees the async methods' parameter and return types, overloads included
    assert_type(chat, ChatResult[Any])
    assert_type(city, ChatResult[City])
    assert_type(vectors, EmbeddingResult)
    assert_type(models, ModelList)
    assert_type(run, AgentResult)
    assert chat.text == "hello"
    assert city.parsed == City(name="Tokyo", population=37_400_000)
    assert len(vectors) == 2
    assert MODEL in [model.key for model in models]
    assert bridge.complete(MODEL, "Once").text
    assert bridge.respond(MODEL, "hi").id
    assert run.completed
    assert [i.identifier for i in bridge.models.loaded()] == [
        i.identifier for i in asyncio.run(_loaded_async(sim))
    ]


async def _loaded_async(sim: SimulatedLMStudio) -> list[Any]:
    async with Bridge(transport=sim.transport()) as bridge:
        return await bridge.models.loaded()


def test_a_stream_iterates_the_same_events_and_gives_the_result(
    sim: SimulatedLMStudio, bridge: SyncBridge
) -> None:
    sim.script(MODEL, Reply("one two three", chunk_size=4))
    with bridge.stream(MODEL, "count") as stream:
        events: list[StreamEvent] = list(stream)
        result = stream.result()
    assert_type(result, ChatResult[Any])
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "one two three"
    assert isinstance(events[-1], UsageReport)
    assert result.text == "one two three"


def test_works_where_a_loop_is_already_running_as_in_jupyter(
    sim: SimulatedLMStudio, bridge: SyncBridge
) -> None:
    sim.script(MODEL, Reply("from inside a running loop"))
    answers: list[str] = []

    async def notebook_cell() -> None:
        # asyncio.run() here would fail: "cannot be called from a running event loop"
        answers.append(bridge.chat(MODEL, "hi").text)
        with bridge.stream(MODEL, "hi") as stream:
            answers.append(stream.result().text)

    # A thread with its own running loop, as an IPython kernel has.
    thread = threading.Thread(target=asyncio.run, args=(notebook_cell(),))
    thread.start()
    thread.join(timeout=30)
    assert answers[0] == "from inside a running loop"
    assert answers[1]


async def test_works_inside_the_running_loop_of_this_very_thread(
    sim: SimulatedLMStudio, bridge: SyncBridge
) -> None:
    # pytest-asyncio runs this test on a loop in this thread: exactly a notebook cell's situation
    sim.script(MODEL, Reply("ok"))
    assert bridge.chat(MODEL, "hi").text == "ok"


def test_one_sync_bridge_serves_several_threads_at_once(sim: SimulatedLMStudio) -> None:
    for _ in range(8):
        sim.script(MODEL, Reply("slow", delay=0.4))
    with SyncBridge(transport=sim.transport()) as bridge:
        bridge.models.list()  # the listing is warm: what is timed is the chats
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=8) as pool:
            texts = list(pool.map(lambda n: bridge.chat(MODEL, f"q{n}").text, range(8)))
        elapsed = time.monotonic() - started
    assert texts == ["slow"] * 8
    assert elapsed < 8 * 0.4 / 2, f"the calls ran one after another ({elapsed:.2f} s)"


def test_leaving_a_stream_early_returns_its_connection() -> None:
    sim = SimulatedLMStudio(loaded=[MODEL])
    sim.script(MODEL, Reply("word " * 400, chunk_size=5, chunk_delay=0.005))
    with served_in_thread(sim) as url, SyncBridge(url) as bridge:
        with bridge.stream(MODEL, "long please") as stream:
            for event in stream:
                if isinstance(event, TextDelta):
                    break
            assert "active" in pool_states(bridge.bridge)
        assert "active" not in pool_states(bridge.bridge)
        assert bridge.chat(MODEL, "next").text, "the next request works"


def test_an_exception_in_a_stream_block_propagates_and_closes_it(
    sim: SimulatedLMStudio, bridge: SyncBridge
) -> None:
    with pytest.raises(KeyError), bridge.stream(MODEL, "hi") as stream:
        for _ in stream:
            raise KeyError("user code")
    assert bridge.chat(MODEL, "again").text


def test_a_stream_used_outside_its_block_says_how_to_use_it(bridge: SyncBridge) -> None:
    stream = bridge.stream(MODEL, "hi")
    with pytest.raises(RuntimeError, match="with"):
        list(stream)


def test_errors_come_through_typed(bridge: SyncBridge) -> None:
    from lmbridge import ModelNotFoundError

    with pytest.raises(ModelNotFoundError):
        bridge.chat("no/such-model", "hi")
    with pytest.raises(TypeError, match="did you mean `temperature`"):
        bridge.chat(MODEL, "hi", temprature=0.5)  # type: ignore[call-overload]


@pytest.mark.parametrize(
    "call",
    [
        lambda b: b.chat(MODEL, "hi"),
        lambda b: b.embed(EMBEDDER, "a"),
        lambda b: b.models.list(),
        lambda b: b.stream(MODEL, "hi").__enter__(),
    ],
    ids=["chat", "embed", "models.list", "stream"],
)
def test_calls_on_a_closed_sync_bridge_raise_bridge_closed(
    sim: SimulatedLMStudio, call: Any
) -> None:
    bridge = SyncBridge(transport=sim.transport())
    bridge.close()
    bridge.close()  # idempotent
    assert bridge.closed
    with pytest.raises(BridgeClosedError, match="closed") as caught:
        call(bridge)
    assert caught.value.hint


async def test_calls_on_a_closed_bridge_raise_the_same_error(sim: SimulatedLMStudio) -> None:
    bridge = Bridge(transport=sim.transport())
    await bridge.aclose()
    with pytest.raises(BridgeClosedError, match="is closed"):
        await bridge.chat(MODEL, "hi")
    with pytest.raises(BridgeClosedError):
        await bridge.models.list()
    with pytest.raises(BridgeClosedError):
        async with bridge.stream(MODEL, "hi"):
            pass


def test_the_loop_thread_ends_on_close(sim: SimulatedLMStudio) -> None:
    before = {t.name for t in threading.enumerate()}
    bridge = SyncBridge(transport=sim.transport())
    started = {t.name for t in threading.enumerate()} - before
    assert any(name.startswith("lmbridge-sync") for name in started)
    bridge.close()
    assert not ({t.name for t in threading.enumerate()} & started)


def test_a_sync_bridge_dropped_without_close_stops_its_thread(sim: SimulatedLMStudio) -> None:
    import gc

    before = set(threading.enumerate())
    assert SyncBridge(transport=sim.transport()).models.list()  # kept alive while in use
    gc.collect()
    assert set(threading.enumerate()) - before == set()


def test_every_async_method_has_a_sync_twin_made_from_it() -> None:
    # Made from the method itself (not a copy), the twin has its parameters, types and docstring.
    # Bridge's own methods and those it inherits from the facade's other modules.
    members = {k: v for cls in reversed(Bridge.__mro__[:-1]) for k, v in vars(cls).items()}
    names = [
        name
        for name, member in members.items()
        if not name.startswith("_") and callable(member) and name != "aclose"
    ]
    assert {"chat", "stream", "embed", "complete", "respond", "run_agent"} <= set(names)
    assert {"stream_complete", "stream_respond", "check_vision"} <= set(names)
    for name in names:
        assert getattr(SyncBridge, name).__wrapped__ is getattr(Bridge, name), name


def test_an_agent_run_streams_its_events_without_async(
    sim: SimulatedLMStudio, bridge: SyncBridge
) -> None:
    from lmbridge.agent.events import RunFinished, ToolResultReady
    from lmbridge.testing import ToolCallSpec

    sim.script(MODEL, Reply(tool_calls=[ToolCallSpec("double", {"n": 21})]), Reply("42"))

    def double(n: int) -> int:
        """Twice n."""
        return 2 * n

    with bridge.stream_agent(MODEL, "twice 21?", tools=[double]) as run:
        events = list(run)
        result = run.result()
    assert_type(result, AgentResult)
    assert [e.record.result for e in events if isinstance(e, ToolResultReady)] == ["42"]
    assert isinstance(events[-1], RunFinished)
    assert result.output == "42"


def test_tools_may_use_the_sync_bridge_from_a_thread_not_from_its_loop(
    sim: SimulatedLMStudio, bridge: SyncBridge
) -> None:
    from lmbridge.testing import ToolCallSpec

    calls = [ToolCallSpec("ask_sync", {}), ToolCallSpec("ask_async", {})]
    sim.script(MODEL, Reply(tool_calls=calls), Reply("inner"), Reply("done"))

    def ask_sync() -> str:
        """A sync tool runs in a worker thread: a nested call is fine."""
        return bridge.chat(MODEL, "nested").text

    async def ask_async() -> str:
        """An async tool runs on the loop itself: a blocking call there would deadlock."""
        return bridge.chat(MODEL, "nested").text

    result = bridge.run_agent(MODEL, "go", tools=[ask_sync, ask_async], max_parallel_tools=1)
    outcomes = {call.name: call for call in result.tool_calls}
    assert outcomes["ask_sync"].result == "inner"
    assert "its own event loop" in (outcomes["ask_async"].error or "")


def test_completions_and_responses_stream_without_async(
    sim: SimulatedLMStudio, bridge: SyncBridge
) -> None:
    sim.script(MODEL, Reply("once more", chunk_size=2), Reply("a reply", chunk_size=2))
    with bridge.stream_complete(MODEL, "Once upon a time") as stream:
        pieces = [e.text for e in stream if isinstance(e, TextDelta)]
        completed = stream.result()
    with bridge.stream_respond(MODEL, "hi") as stream:
        replied = [e.text for e in stream if isinstance(e, TextDelta)]
        response = stream.result()
    assert_type(completed, CompletionResult)
    assert_type(response, ResponseResult)
    assert "".join(pieces) == completed.text == "once more"
    assert "".join(replied) == response.text == "a reply"
    bridge.check_vision("google/gemma-3-4b")
    with pytest.raises(WrongModelTypeError, match="cannot see"):
        bridge.check_vision(MODEL)
