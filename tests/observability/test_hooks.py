"""Event hooks receive typed events in order: chat, stream, retry, load, heal, tool calls."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import pytest

from lmbridge import (
    Bridge,
    Event,
    Heal,
    ModelLoadFinished,
    RequestFinished,
    RequestStarted,
    Retry,
    RetryPolicy,
    ToolCallFinished,
)
from lmbridge.testing import Reply, SimError, SimulatedLMStudio, ToolCallSpec
from tests.observability.support import NOMIC, QWEN, Recorder, no_lms, no_sleep


async def test_a_chat_is_a_started_then_a_finished_event_with_usage_and_timing() -> None:
    sim = SimulatedLMStudio(loaded=[QWEN])
    sim.script(QWEN, Reply("Hello there"))
    hook = Recorder()
    async with Bridge(transport=sim.transport(), event_hooks=[hook]) as bridge:
        result = await bridge.chat(QWEN, "hi")
    assert hook.kinds == ["request_started", "request_finished"]
    (started,), (finished,) = hook.of(RequestStarted), hook.of(RequestFinished)
    assert (started.operation, started.model, started.stream) == ("chat", QWEN, False)
    assert finished.status == 200 and finished.error is None
    assert finished.sent_model == QWEN
    assert result.usage is not None
    assert finished.prompt_tokens == result.usage.prompt_tokens
    assert finished.completion_tokens == result.usage.completion_tokens
    assert finished.finish_reasons == ("stop",)
    assert finished.timing == result.timing
    assert started.time <= finished.time


async def test_a_stream_reports_when_it_ends_with_its_time_to_first_token() -> None:
    sim = SimulatedLMStudio(loaded=[QWEN])
    sim.script(QWEN, Reply("one two three four", chunk_size=4))
    hook = Recorder()
    async with (
        Bridge(transport=sim.transport(), event_hooks=[hook]) as bridge,
        bridge.stream(QWEN, "count") as stream,
    ):
        async for _ in stream:
            assert hook.kinds == ["request_started"], "finished only when the stream is"
        result = await stream.result()
    assert hook.kinds == ["request_started", "request_finished"]
    (finished,) = hook.of(RequestFinished)
    assert finished.stream and finished.status == 200
    assert result.usage is not None
    assert finished.completion_tokens == result.usage.completion_tokens
    assert result.timing.time_to_first_token is not None
    assert finished.timing == result.timing


async def test_a_retry_is_an_event_with_its_reason_and_wait() -> None:
    sim = SimulatedLMStudio(loaded=[QWEN])
    sim.fail_next(QWEN, SimError(503, {"error": "busy"}, {"Retry-After": "2"}))
    hook = Recorder()
    policy = RetryPolicy(max_retries=2, sleep=no_sleep)
    async with Bridge(transport=sim.transport(), retry_policy=policy, event_hooks=[hook]) as b:
        await b.chat(QWEN, "hi")
    assert hook.kinds == ["request_started", "retry", "request_finished"]
    (retry,) = hook.of(Retry)
    assert (retry.model, retry.method, retry.path) == (QWEN, "POST", "/v1/chat/completions")
    assert (retry.attempt, retry.status, retry.wait) == (1, 503, 2.0)
    assert retry.reason == "ServerError 503"


async def test_a_load_then_a_heal_are_reported(tmp_path: Path) -> None:
    sim = SimulatedLMStudio(jit=False)  # nothing loaded: the first call loads through REST
    hook = Recorder()
    async with Bridge(
        transport=sim.transport(), lms_path=no_lms(tmp_path), event_hooks=[hook]
    ) as bridge:
        await bridge.chat(QWEN, "first")
        assert hook.kinds == [
            "request_started",
            "model_load_started",
            "model_load_progress",
            "model_load_finished",
            "request_finished",
        ]
        (finished,) = hook.of(ModelLoadFinished)
        assert (finished.model, finished.via, finished.error) == (QWEN, "rest", None)
        assert finished.duration >= 0
        hook.events.clear()
        sim.evict(QWEN)  # LM Studio evicted it: the next call fails "not loaded" and heals
        await bridge.chat(QWEN, "second")
    kinds = hook.kinds
    assert kinds[0] == "request_started" and kinds[-2:] == ["heal", "request_finished"]
    assert kinds.count("model_load_finished") == 1
    (heal,) = hook.of(Heal)
    assert (heal.model, heal.requested, heal.reason) == (QWEN, QWEN, "ModelNotLoadedError")


async def test_a_failed_call_reports_its_error_type_and_status() -> None:
    sim = SimulatedLMStudio(loaded=[QWEN])
    sim.fail_next(QWEN, SimError(400, {"error": "bad request"}))
    hook = Recorder()
    async with Bridge(transport=sim.transport(), event_hooks=[hook]) as bridge:
        with pytest.raises(Exception, match="bad request"):
            await bridge.chat(QWEN, "hi")
    (finished,) = hook.of(RequestFinished)
    assert (finished.status, finished.error) == (400, "BadRequestError")


async def test_tool_calls_are_reported_with_their_duration_and_outcome() -> None:
    sim = SimulatedLMStudio(loaded=[QWEN])
    sim.script(
        QWEN,
        Reply(tool_calls=[ToolCallSpec("add", {"a": 1, "b": 2}), ToolCallSpec("boom", {})]),
        Reply("3"),
    )

    def add(a: int, b: int) -> int:
        """Add two numbers."""
        return a + b

    def boom() -> str:
        """Always fails."""
        raise RuntimeError("no")

    hook = Recorder()
    async with Bridge(transport=sim.transport(), event_hooks=[hook]) as bridge:
        result = await bridge.run_agent(QWEN, "add 1 and 2", tools=[add, boom])
    assert result.output == "3"
    tools = [e for e in hook.events if e.kind.startswith("tool_call")]
    assert sorted(e.kind for e in tools) == ["tool_call_finished"] * 2 + ["tool_call_started"] * 2
    done = {e.tool: e for e in hook.of(ToolCallFinished)}
    assert done["add"].error is False and done["boom"].error is True
    assert all(e.model == QWEN and e.round == 1 and e.duration >= 0 for e in done.values())
    assert hook.kinds.count("request_finished") == 2, "one per round"
    first_tool = hook.kinds.index("tool_call_started")
    assert hook.kinds[:first_tool] == ["request_started", "request_finished"]


async def test_async_hooks_are_awaited_and_events_are_immutable() -> None:
    sim = SimulatedLMStudio(loaded=[NOMIC])
    seen: list[Event] = []

    async def hook(event: Event) -> None:
        seen.append(event)

    async with Bridge(transport=sim.transport(), event_hooks=[hook]) as bridge:
        await bridge.embed(NOMIC, "text")
    assert [e.kind for e in seen] == ["request_started", "request_finished"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        seen[0].model = "other"  # type: ignore[misc]
    assert isinstance(seen[1], RequestFinished) and seen[1].operation == "embeddings"


async def test_a_raising_hook_is_logged_and_never_breaks_the_request(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sim = SimulatedLMStudio(loaded=[QWEN])
    sim.script(QWEN, Reply("still fine"))
    after = Recorder()

    def broken(event: Event) -> None:
        raise ValueError("dashboard bug")

    async def broken_async(event: Event) -> None:
        raise KeyError("also broken")

    with caplog.at_level(logging.WARNING, logger="lmbridge"):
        async with Bridge(
            transport=sim.transport(), event_hooks=[broken, broken_async, after]
        ) as b:
            result = await b.chat(QWEN, "hi")
    assert result.text == "still fine"
    assert after.kinds == ["request_started", "request_finished"], "later hooks still run"
    failures = [r for r in caplog.records if r.name == "lmbridge.hooks"]
    assert len(failures) == 4  # two hooks, two events
    assert failures[0].exc_info is not None and "broken" in failures[0].getMessage()


def test_a_hook_that_is_not_callable_is_refused_at_once() -> None:
    with pytest.raises(TypeError, match="callable"):
        Bridge("http://127.0.0.1:9", event_hooks=["not a function"])  # type: ignore[list-item]
