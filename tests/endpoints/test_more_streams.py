"""stream_complete(), stream_respond(), structured respond() and batched embed() (simulator)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from pydantic import BaseModel

import lmbridge
from lmbridge import (
    Bridge,
    PartialParsed,
    ReasoningDelta,
    TextDelta,
    ToolCallReady,
    UsageReport,
)
from lmbridge.testing import Reply, SimError, SimulatedLMStudio, ToolCallSpec
from tests.pool import pool_states

MODEL = "qwen/qwen3-4b"
EMBED_MODEL = "text-embedding-nomic-embed-text-v1.5"
LONG = Reply("word " * 400, chunk_size=5, chunk_delay=0.005)


class City(BaseModel):
    name: str
    population: int


@pytest.fixture
def sim() -> SimulatedLMStudio:
    return SimulatedLMStudio(loaded=[MODEL, EMBED_MODEL])


def bodies(sim: SimulatedLMStudio, path: str) -> list[dict[str, Any]]:
    return [r.body for r in sim.requests if r.path == path]


@asynccontextmanager
async def served() -> AsyncIterator[tuple[SimulatedLMStudio, Bridge]]:
    sim = SimulatedLMStudio(loaded=[MODEL])
    async with sim.serve() as url, Bridge(url) as bridge:
        yield sim, bridge


# --- stream_complete ------------------------------------------------------------------------


async def test_stream_complete_yields_text_and_usage_then_the_result(
    sim: SimulatedLMStudio,
) -> None:
    sim.script(MODEL, Reply(" there was a model.", chunk_size=4), Reply(" there was a model."))
    async with Bridge(transport=sim.transport()) as bridge:
        async with bridge.stream_complete(MODEL, "Once upon a time", max_tokens=50) as stream:
            events = [event async for event in stream]
            result = await stream.result()
        whole = await bridge.complete(MODEL, "Once upon a time", max_tokens=50)
    texts = [e.text for e in events if isinstance(e, TextDelta)]
    assert len(texts) > 1 and "".join(texts) == result.text == whole.text
    assert isinstance(events[-1], UsageReport) and result.usage == events[-1].usage
    assert result.finish_reason == "stop" and result.sent_model == MODEL
    body = bodies(sim, "/v1/completions")[0]
    assert body["stream"] is True and body["prompt"] == "Once upon a time"


async def test_stream_complete_raises_the_typed_error_after_the_events_before_it(
    sim: SimulatedLMStudio,
) -> None:
    sim.script(MODEL, Reply("abcdefgh", chunk_size=2, stream_error=2))
    async with (
        Bridge(transport=sim.transport()) as bridge,
        bridge.stream_complete(MODEL, "x") as stream,
    ):
        seen: list[str] = []
        with pytest.raises(lmbridge.LMBridgeError) as caught:
            async for event in stream:
                if isinstance(event, TextDelta):
                    seen.append(event.text)
        with pytest.raises(type(caught.value)):
            await stream.result()
    assert seen == ["ab", "cd"]


async def test_a_cut_completion_stream_is_never_passed_off_as_complete(
    sim: SimulatedLMStudio,
) -> None:
    sim.script(MODEL, Reply("abcdefgh", chunk_size=2, stop_after_chunks=2, omit_done=True))
    async with (
        Bridge(transport=sim.transport()) as bridge,
        bridge.stream_complete(MODEL, "x") as stream,
    ):
        with pytest.raises(lmbridge.StreamError):
            await stream.result()


async def test_leaving_a_completion_stream_early_frees_the_connection() -> None:
    async with served() as (sim, bridge):
        sim.script(MODEL, LONG)
        async with bridge.stream_complete(MODEL, "long please") as stream:
            async for event in stream:
                if isinstance(event, TextDelta):
                    break
            assert "active" in pool_states(bridge)
        assert "active" not in pool_states(bridge)
        async with bridge.stream_complete(MODEL, "short") as stream:
            assert (await stream.result()).text
        assert pool_states(bridge) == ["idle"]


# --- stream_respond ---------------------------------------------------------------------------


async def test_stream_respond_yields_events_and_a_result_that_continues(
    sim: SimulatedLMStudio,
) -> None:
    sim.script(
        MODEL,
        Reply("It is noon.", reasoning="check the clock", chunk_size=3),
        Reply(tool_calls=[ToolCallSpec("get_time", {"zone": "UTC"})]),
    )
    async with Bridge(transport=sim.transport()) as bridge:
        async with bridge.stream_respond(MODEL, "What time is it?") as stream:
            events = [event async for event in stream]
            first = await stream.result()
        async with bridge.stream_respond(
            MODEL, "And in UTC?", previous_response_id=first.id
        ) as stream:
            calls = [e.call async for e in stream if isinstance(e, ToolCallReady)]
            second = await stream.result()
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == first.text
    assert first.text == "It is noon."
    assert "".join(e.text for e in events if isinstance(e, ReasoningDelta)) == "check the clock"
    usage = [e.usage for e in events if isinstance(e, UsageReport)]
    assert usage and usage[0].total_tokens > 0
    assert first.id.startswith("resp_")
    assert bodies(sim, "/v1/responses")[1]["previous_response_id"] == first.id
    assert [(c.name, c.arguments) for c in calls] == [("get_time", {"zone": "UTC"})]
    assert second.tool_calls == calls


async def test_stream_respond_reports_an_in_stream_error(sim: SimulatedLMStudio) -> None:
    sim.script(MODEL, Reply("abcdefgh", chunk_size=2, stream_error=3))
    async with (
        Bridge(transport=sim.transport()) as bridge,
        bridge.stream_respond(MODEL, "x") as stream,
    ):
        with pytest.raises(lmbridge.LMBridgeError, match="crashed"):
            await stream.result()


async def test_a_response_stream_without_its_final_event_is_a_stream_error(
    sim: SimulatedLMStudio,
) -> None:
    sim.script(MODEL, Reply("abcdefgh", omit_done=True))
    async with (
        Bridge(transport=sim.transport()) as bridge,
        bridge.stream_respond(MODEL, "x") as stream,
    ):
        with pytest.raises(lmbridge.StreamError):
            await stream.result()


# --- structured respond() -------------------------------------------------------------------


async def test_respond_is_structured_like_chat(sim: SimulatedLMStudio) -> None:
    async with Bridge(transport=sim.transport()) as bridge:
        result = await bridge.respond(MODEL, "a city", response_format=City)
    assert isinstance(result.parsed, City)
    fmt = bodies(sim, "/v1/responses")[0]["text"]["format"]
    assert fmt["type"] == "json_schema" and fmt["name"] == "City" and fmt["strict"] is True
    assert fmt["schema"]["required"] == ["name", "population"]


async def test_respond_asks_again_with_the_error(sim: SimulatedLMStudio) -> None:
    sim.script(MODEL, Reply('{"name": "Oslo"}'), Reply('{"name": "Oslo", "population": 7}'))
    async with Bridge(transport=sim.transport()) as bridge:
        result = await bridge.respond(MODEL, "a city", response_format=City)
    assert result.parsed == City(name="Oslo", population=7)
    again = bodies(sim, "/v1/responses")[1]["input"]
    assert again[0] == {"role": "user", "content": "a city"}
    assert again[1] == {"role": "assistant", "content": '{"name": "Oslo"}'}
    assert "population" in again[2]["content"]


async def test_a_structured_respond_answered_in_prose_says_the_schema_was_ignored(
    sim: SimulatedLMStudio,
) -> None:
    # What LM Studio versions with bug #2403 do: the schema is dropped, the model chats.
    sim.script(MODEL, Reply("Oslo is a lovely city of about 700,000 people."))
    async with Bridge(transport=sim.transport()) as bridge:
        with pytest.raises(lmbridge.StructuredOutputIgnoredError) as caught:
            await bridge.respond(MODEL, "a city", response_format=City)
    assert isinstance(caught.value, lmbridge.StructuredOutputError)
    assert caught.value.raw_text.startswith("Oslo is")
    assert "chat(" in (caught.value.hint or "")
    assert len(bodies(sim, "/v1/responses")) == 1, "asking again would not help"


async def test_a_structured_respond_cut_at_the_limit_is_reported_as_such(
    sim: SimulatedLMStudio,
) -> None:
    sim.script(MODEL, Reply('{"name": "Os', finish_reason="length"))
    async with Bridge(transport=sim.transport()) as bridge:
        with pytest.raises(lmbridge.StructuredOutputError) as caught:
            await bridge.respond(MODEL, "a city", response_format=City, max_output_tokens=4)
    assert caught.value.truncated and "max_output_tokens" in (caught.value.hint or "")


# --- batched embeddings ---------------------------------------------------------------------


async def test_embed_in_batches_keeps_order_and_sums_usage(sim: SimulatedLMStudio) -> None:
    texts = [f"text number {i}" for i in range(10)]
    async with Bridge(transport=sim.transport()) as bridge:
        whole = await bridge.embed(EMBED_MODEL, texts)
        batched = await bridge.embed(EMBED_MODEL, texts, batch_size=3)
    sent = [b["input"] for b in bodies(sim, "/v1/embeddings")]
    assert sent[0] == texts
    assert sorted(sent[1:]) == sorted([texts[0:3], texts[3:6], texts[6:9], texts[9:]])
    assert batched.vectors == whole.vectors
    assert batched.usage is not None and whole.usage is not None
    assert batched.usage.total_tokens == whole.usage.total_tokens


async def test_embed_batch_size_is_checked(sim: SimulatedLMStudio) -> None:
    async with Bridge(transport=sim.transport()) as bridge:
        with pytest.raises(ValueError, match="batch_size"):
            await bridge.embed(EMBED_MODEL, ["a"], batch_size=0)
        one = await bridge.embed(EMBED_MODEL, "solo", batch_size=8)
    assert len(one) == 1


async def test_a_failing_batch_raises_its_own_typed_error(sim: SimulatedLMStudio) -> None:
    sim.fail_next(EMBED_MODEL, SimError.bad_request("too long"), times=1)
    async with Bridge(transport=sim.transport(), max_retries=0) as bridge:
        with pytest.raises(lmbridge.BadRequestError, match="too long"):
            await bridge.embed(EMBED_MODEL, ["a", "b", "c"], batch_size=1)


async def test_stream_respond_is_structured_like_stream(sim: SimulatedLMStudio) -> None:
    sim.script(
        MODEL,
        Reply('{"name": "Oslo", "population": "many"}', chunk_size=4),
        Reply('{"name": "Oslo", "population": 7}'),
    )
    async with (
        Bridge(transport=sim.transport()) as bridge,
        bridge.stream_respond(MODEL, "a city", response_format=City) as stream,
    ):
        partial = [e.value async for e in stream if isinstance(e, PartialParsed)]
        result = await stream.result()
        assert await stream.result() is result
    assert partial and partial[-1] == {"name": "Oslo", "population": "many"}
    assert result.parsed == City(name="Oslo", population=7)
    first, second = bodies(sim, "/v1/responses")
    assert first["stream"] is True and first["text"]["format"]["name"] == "City"
    assert "stream" not in second, "the re-ask is not streamed"
