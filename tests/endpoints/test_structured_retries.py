"""validation_retries, StructuredOutputError.attempts, truncation and PartialParsed (simulator)."""

from __future__ import annotations

import pickle
from typing import Any

import pytest
from pydantic import BaseModel

import lmbridge
from lmbridge import Bridge, PartialParsed, TextDelta
from lmbridge.testing import Reply, SimulatedLMStudio

MODEL = "qwen/qwen3-4b"
CHAT = "/v1/chat/completions"


class City(BaseModel):
    name: str
    population: int


GOOD = '{"name": "Oslo", "population": 709000}'
WRONG_TYPE = '{"name": "Oslo", "population": "many"}'
NOT_JSON = "Oslo is a city of about 709,000 people."


@pytest.fixture
def sim() -> SimulatedLMStudio:
    return SimulatedLMStudio(loaded=[MODEL])


def chat_bodies(sim: SimulatedLMStudio) -> list[dict[str, Any]]:
    return [r.body for r in sim.requests if r.path == CHAT]


async def test_a_reply_that_does_not_validate_is_asked_again_with_the_error(
    sim: SimulatedLMStudio,
) -> None:
    sim.script(MODEL, Reply(WRONG_TYPE), Reply(GOOD))
    async with Bridge(transport=sim.transport()) as bridge:
        result = await bridge.chat(MODEL, "a city", response_format=City)
    assert result.parsed == City(name="Oslo", population=709000)
    first, second = chat_bodies(sim)
    assert first["messages"] == [{"role": "user", "content": "a city"}]
    assert second["messages"][:2] == [
        {"role": "user", "content": "a city"},
        {"role": "assistant", "content": WRONG_TYPE},
    ]
    feedback = second["messages"][2]
    assert feedback["role"] == "user"
    assert "population" in feedback["content"] and "integer" in feedback["content"]
    assert second["response_format"] == first["response_format"]


async def test_every_attempt_is_kept_when_none_validates(sim: SimulatedLMStudio) -> None:
    sim.script(MODEL, Reply(WRONG_TYPE), Reply(NOT_JSON), Reply('{"name": "Oslo"}'))
    async with Bridge(transport=sim.transport()) as bridge:
        with pytest.raises(lmbridge.StructuredOutputError) as caught:
            await bridge.chat(MODEL, "a city", response_format=City, validation_retries=2)
    error = caught.value
    assert [a.raw_text for a in error.attempts] == [WRONG_TYPE, NOT_JSON, '{"name": "Oslo"}']
    assert "population" in error.attempts[0].error
    assert "JSON" in error.attempts[1].error
    assert "population" in error.attempts[2].error and "required" in error.attempts[2].error.lower()
    assert error.raw_text == '{"name": "Oslo"}' and not error.truncated
    assert "3 attempts" in error.message
    assert len(chat_bodies(sim)) == 3
    again = pickle.loads(pickle.dumps(error))
    assert again.attempts == error.attempts and again.hint == error.hint


async def test_no_retries_when_asked_for_none(sim: SimulatedLMStudio) -> None:
    sim.script(MODEL, Reply(WRONG_TYPE), Reply(GOOD))
    async with Bridge(transport=sim.transport()) as bridge:
        with pytest.raises(lmbridge.StructuredOutputError) as caught:
            await bridge.chat(MODEL, "a city", response_format=City, validation_retries=0)
    assert len(caught.value.attempts) == 1
    assert len(chat_bodies(sim)) == 1


async def test_a_reply_cut_at_max_tokens_is_reported_as_such_not_retried(
    sim: SimulatedLMStudio,
) -> None:
    sim.script(MODEL, Reply('{"name": "Os', finish_reason="length"), Reply(GOOD))
    async with Bridge(transport=sim.transport()) as bridge:
        with pytest.raises(lmbridge.StructuredOutputError) as caught:
            await bridge.chat(MODEL, "a city", response_format=City, max_tokens=5)
    error = caught.value
    assert error.truncated
    assert "token limit" in error.message and "max_tokens" in (error.hint or "")
    assert error.attempts[0].finish_reason == "length"
    assert len(chat_bodies(sim)) == 1


async def test_bad_validation_retries_fail_before_sending(sim: SimulatedLMStudio) -> None:
    async with Bridge(transport=sim.transport()) as bridge:
        with pytest.raises(ValueError, match="validation_retries"):
            await bridge.chat(MODEL, "a city", response_format=City, validation_retries=-1)
        with pytest.raises(TypeError, match="validation_retries"):
            await bridge.chat(MODEL, "a city", response_format=City, validation_retries="2")  # type: ignore[call-overload]
    assert chat_bodies(sim) == []


async def test_without_response_format_retries_change_nothing(sim: SimulatedLMStudio) -> None:
    sim.script(MODEL, Reply(NOT_JSON))
    async with Bridge(transport=sim.transport()) as bridge:
        result = await bridge.chat(MODEL, "a city", validation_retries=3)
    assert result.text == NOT_JSON and result.parsed is None
    assert len(chat_bodies(sim)) == 1


async def test_a_stream_yields_partial_objects_then_the_validated_result(
    sim: SimulatedLMStudio,
) -> None:
    sim.script(MODEL, Reply(GOOD, chunk_size=3))
    async with (
        Bridge(transport=sim.transport()) as bridge,
        bridge.stream(MODEL, "a city", response_format=City) as stream,
    ):
        events = [event async for event in stream]
        result = await stream.result()
    partial = [e.value for e in events if isinstance(e, PartialParsed)]
    assert partial, "partial objects arrive while the JSON streams"
    assert partial[0] == {"name": "O"} or list(partial[0]) == ["name"]
    assert partial[-1] == {"name": "Oslo", "population": 709000}
    assert len(partial) == len({repr(p) for p in partial}), "only changes are reported"
    first_partial = next(i for i, e in enumerate(events) if isinstance(e, PartialParsed))
    assert any(isinstance(e, TextDelta) for e in events[:first_partial])
    assert result.parsed == City(name="Oslo", population=709000)


async def test_a_stream_without_response_format_yields_no_partial_objects(
    sim: SimulatedLMStudio,
) -> None:
    sim.script(MODEL, Reply(GOOD))
    async with (
        Bridge(transport=sim.transport()) as bridge,
        bridge.stream(MODEL, "a city") as stream,
    ):
        events = [event async for event in stream]
    assert not any(isinstance(e, PartialParsed) for e in events)


async def test_a_streamed_reply_that_does_not_validate_is_asked_again_by_result(
    sim: SimulatedLMStudio,
) -> None:
    sim.script(MODEL, Reply(WRONG_TYPE), Reply(GOOD))
    async with (
        Bridge(transport=sim.transport()) as bridge,
        bridge.stream(MODEL, "a city", response_format=City) as stream,
    ):
        result = await stream.result()
        assert await stream.result() is result
    assert result.parsed == City(name="Oslo", population=709000)
    first, second = chat_bodies(sim)
    assert first["stream"] is True
    assert "stream" not in second, "the re-ask is not streamed"
    assert second["messages"][1] == {"role": "assistant", "content": WRONG_TYPE}


async def test_a_streamed_failure_is_raised_again_without_asking_again(
    sim: SimulatedLMStudio,
) -> None:
    sim.script(MODEL, Reply(WRONG_TYPE), Reply(WRONG_TYPE), Reply(GOOD))
    async with (
        Bridge(transport=sim.transport()) as bridge,
        bridge.stream(MODEL, "a city", response_format=City) as stream,
    ):
        with pytest.raises(lmbridge.StructuredOutputError) as first:
            await stream.result()
        with pytest.raises(lmbridge.StructuredOutputError) as second:
            await stream.result()
    assert second.value is first.value and len(first.value.attempts) == 2
    assert len(chat_bodies(sim)) == 2
