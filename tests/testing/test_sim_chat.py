"""Chat and legacy completions on the simulator, through the in-process transport with plain httpx."""

from __future__ import annotations

import json
from typing import Any

import anyio
import httpx
import pytest

from lmbridge.testing import Reply, SimError, SimulatedLMStudio, ToolCallSpec

QWEN = "qwen/qwen3-4b"
USER = [{"role": "user", "content": "What time is it in Tokyo?"}]


def chat_body(**extra: Any) -> dict[str, Any]:
    return {"model": QWEN, "messages": USER, **extra}


async def stream_events(http: httpx.AsyncClient, path: str, body: dict[str, Any]) -> list[Any]:
    """Every `data:` payload of a stream, JSON-decoded (`[DONE]` kept as the string)."""
    events: list[Any] = []
    async with http.stream("POST", path, json=body) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        async for line in response.aiter_lines():
            if line.startswith("data: "):
                data = line[len("data: ") :]
                events.append(data if data == "[DONE]" else json.loads(data))
    return events


def deltas(events: list[Any]) -> list[dict[str, Any]]:
    return [e["choices"][0]["delta"] for e in events if isinstance(e, dict) and e.get("choices")]


@pytest.fixture
def sim() -> SimulatedLMStudio:
    return SimulatedLMStudio(loaded=[QWEN])


# --- plain replies --------------------------------------------------------------------------


async def test_default_reply_is_a_deterministic_echo(sim: SimulatedLMStudio) -> None:
    async with sim.client() as http:
        response = await http.post("/v1/chat/completions", json=chat_body())
    assert response.status_code == 200
    body = response.json()
    assert body["object"] == "chat.completion"
    assert body["model"] == QWEN
    assert body["id"].startswith("chatcmpl-")
    (choice,) = body["choices"]
    assert choice["finish_reason"] == "stop"
    assert choice["message"] == {
        "role": "assistant",
        "content": f"Simulated reply from {QWEN} to: What time is it in Tokyo?",
    }
    usage = body["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


async def test_scripted_replies_are_consumed_in_order_then_default(sim: SimulatedLMStudio) -> None:
    sim.script(QWEN, Reply("first"), "second")
    async with sim.client() as http:
        texts = [
            (await http.post("/v1/chat/completions", json=chat_body())).json()["choices"][0][
                "message"
            ]["content"]
            for _ in range(3)
        ]
    assert texts[:2] == ["first", "second"]
    assert texts[2].startswith("Simulated reply from")
    assert sim.pending_replies(QWEN) == 0


async def test_script_for_any_model_and_for_an_identifier() -> None:
    sim = SimulatedLMStudio(loaded=[QWEN, QWEN])  # qwen/qwen3-4b and qwen/qwen3-4b:2
    sim.script("*", "anyone")
    sim.script(f"{QWEN}:2", "the second instance")
    async with sim.client() as http:
        second = await http.post("/v1/chat/completions", json=chat_body(model=f"{QWEN}:2"))
        first = await http.post("/v1/chat/completions", json=chat_body())
    assert second.json()["choices"][0]["message"]["content"] == "the second instance"
    assert second.json()["model"] == f"{QWEN}:2"
    assert first.json()["choices"][0]["message"]["content"] == "anyone"


async def test_sync_and_async_responders_see_the_request_body(sim: SimulatedLMStudio) -> None:
    seen: list[dict[str, Any]] = []

    def sync_responder(body: dict[str, Any]) -> Reply:
        seen.append(body)
        return Reply(f"{len(body['messages'])} messages")

    async def async_responder(body: dict[str, Any]) -> str:
        await anyio.sleep(0)
        return "async " + str(body["messages"][-1]["content"])

    sim.responder(QWEN, sync_responder)
    async with sim.client() as http:
        r1 = await http.post("/v1/chat/completions", json=chat_body(temperature=0.2))
        sim.responder(QWEN, async_responder)
        r2 = await http.post("/v1/chat/completions", json=chat_body())
    assert r1.json()["choices"][0]["message"]["content"] == "1 messages"
    assert seen[0]["temperature"] == 0.2
    assert r2.json()["choices"][0]["message"]["content"] == "async What time is it in Tokyo?"


async def test_tool_calls_non_streamed_keep_invalid_json_arguments(sim: SimulatedLMStudio) -> None:
    sim.script(
        QWEN,
        Reply(
            tool_calls=[
                ToolCallSpec("get_time", {"timezone": "Asia/Tokyo"}),
                ToolCallSpec("broken", '{"a": 1', id="call_custom"),
            ]
        ),
    )
    async with sim.client() as http:
        body = (await http.post("/v1/chat/completions", json=chat_body())).json()
    choice = body["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    message = choice["message"]
    assert message["content"] is None
    first, second = message["tool_calls"]
    assert first["type"] == "function"
    assert first["id"].startswith("call_")
    assert first["function"] == {"name": "get_time", "arguments": '{"timezone": "Asia/Tokyo"}'}
    assert second == {
        "id": "call_custom",
        "type": "function",
        "function": {"name": "broken", "arguments": '{"a": 1'},
    }


async def test_tool_call_ids_are_unique_across_requests(sim: SimulatedLMStudio) -> None:
    sim.script(QWEN, Reply(tool_calls=[ToolCallSpec("f")]), Reply(tool_calls=[ToolCallSpec("f")]))
    async with sim.client() as http:
        ids = [
            (await http.post("/v1/chat/completions", json=chat_body())).json()["choices"][0][
                "message"
            ]["tool_calls"][0]["id"]
            for _ in range(2)
        ]
    assert ids[0] != ids[1]


@pytest.mark.parametrize("shape", ["reasoning_content", "reasoning"])
async def test_separate_reasoning_shapes_non_streamed(sim: SimulatedLMStudio, shape: str) -> None:
    sim.script(QWEN, Reply("42", reasoning="Let me think.", reasoning_shape=shape))  # type: ignore[arg-type]
    async with sim.client() as http:
        message = (await http.post("/v1/chat/completions", json=chat_body())).json()["choices"][0][
            "message"
        ]
    assert message["content"] == "42"
    assert message[shape] == "Let me think."
    other = {"reasoning_content", "reasoning"} - {shape}
    assert not other & message.keys()


async def test_think_shape_puts_reasoning_inline(sim: SimulatedLMStudio) -> None:
    sim.script(QWEN, Reply("42", reasoning="Let me think.", reasoning_shape="think"))
    async with sim.client() as http:
        message = (await http.post("/v1/chat/completions", json=chat_body())).json()["choices"][0][
            "message"
        ]
    assert message["content"] == "<think>Let me think.</think>\n\n42"
    assert "reasoning_content" not in message


async def test_reasoning_model_with_tiny_max_tokens_answers_with_reasoning_only() -> None:
    sim = SimulatedLMStudio(loaded=["openai/gpt-oss-20b"])
    async with sim.client() as http:
        body = (
            await http.post(
                "/v1/chat/completions",
                json={"model": "openai/gpt-oss-20b", "messages": USER, "max_tokens": 2},
            )
        ).json()
    choice = body["choices"][0]
    assert choice["finish_reason"] == "length"
    assert choice["message"]["content"] == ""
    assert choice["message"]["reasoning"]


async def test_stop_strings_cut_the_text(sim: SimulatedLMStudio) -> None:
    sim.script(QWEN, "one two three")
    async with sim.client() as http:
        body = (await http.post("/v1/chat/completions", json=chat_body(stop=[" three"]))).json()
    assert body["choices"][0]["message"]["content"] == "one two"


async def test_structured_output_default_is_a_valid_instance(sim: SimulatedLMStudio) -> None:
    schema = {
        "type": "object",
        "properties": {
            "city": {"type": "string"},
            "count": {"type": "integer", "minimum": 3},
            "tags": {"type": "array", "items": {"type": "string"}},
            "unit": {"enum": ["C", "F"]},
            "optional": {"type": "string"},
        },
        "required": ["city", "count", "tags", "unit"],
    }
    response_format = {
        "type": "json_schema",
        "json_schema": {"name": "weather", "strict": True, "schema": schema},
    }
    async with sim.client() as http:
        body = (
            await http.post("/v1/chat/completions", json=chat_body(response_format=response_format))
        ).json()
    content = json.loads(body["choices"][0]["message"]["content"])
    assert content == {"city": "", "count": 3, "tags": [], "unit": "C"}


async def test_json_object_response_format_is_rejected_like_lm_studio(
    sim: SimulatedLMStudio,
) -> None:
    async with sim.client() as http:
        response = await http.post(
            "/v1/chat/completions", json=chat_body(response_format={"type": "json_object"})
        )
    assert response.status_code == 400
    assert response.json() == {"error": "'response_format.type' must be 'json_schema' or 'text'"}


async def test_tool_choice_required_makes_a_call_with_minimal_arguments(
    sim: SimulatedLMStudio,
) -> None:
    tools = [
        {
            "type": "function",
            "function": {
                "name": "get_time",
                "parameters": {
                    "type": "object",
                    "properties": {"timezone": {"type": "string", "minLength": 1}},
                    "required": ["timezone"],
                },
            },
        }
    ]
    async with sim.client() as http:
        body = (
            await http.post(
                "/v1/chat/completions", json=chat_body(tools=tools, tool_choice="required")
            )
        ).json()
    (call,) = body["choices"][0]["message"]["tool_calls"]
    assert call["function"]["name"] == "get_time"
    assert json.loads(call["function"]["arguments"]) == {"timezone": "x"}


async def test_fail_next_then_success(sim: SimulatedLMStudio) -> None:
    sim.fail_next(QWEN, SimError.server_error(503), times=2)
    async with sim.client() as http:
        statuses = [
            (await http.post("/v1/chat/completions", json=chat_body())).status_code
            for _ in range(3)
        ]
    assert statuses == [503, 503, 200]


async def test_reply_error_answers_with_that_error(sim: SimulatedLMStudio) -> None:
    sim.script(QWEN, SimError.rate_limited(2))
    async with sim.client() as http:
        response = await http.post("/v1/chat/completions", json=chat_body())
    assert response.status_code == 429
    assert response.headers["retry-after"] == "2"


async def test_v0_chat_adds_stats_model_info_and_runtime(sim: SimulatedLMStudio) -> None:
    sim.script(QWEN, Reply(tool_calls=[ToolCallSpec("f", {})]))
    async with sim.client() as http:
        body = (await http.post("/api/v0/chat/completions", json=chat_body())).json()
    assert body["object"] == "chat.completion"
    assert body["stats"]["stop_reason"] == "toolCalls"
    assert body["stats"]["tokens_per_second"] > 0
    assert body["model_info"] == {
        "arch": "qwen3",
        "quant": "Q4_K_M",
        "format": "gguf",
        "context_length": 4096,
    }
    assert "name" in body["runtime"]


async def test_scripted_stats_override(sim: SimulatedLMStudio) -> None:
    stats = {"tokens_per_second": 1.0, "stop_reason": "userStopped"}
    sim.script(QWEN, Reply("x", stats=stats))
    async with sim.client() as http:
        body = (await http.post("/api/v0/chat/completions", json=chat_body())).json()
    assert body["stats"] == stats


# --- streaming ------------------------------------------------------------------------------


async def test_stream_chunk_sequence_with_usage(sim: SimulatedLMStudio) -> None:
    sim.script(QWEN, Reply("Hello world!", chunk_size=5))
    async with sim.client() as http:
        events = await stream_events(
            http,
            "/v1/chat/completions",
            chat_body(stream=True, stream_options={"include_usage": True}),
        )
    assert events[-1] == "[DONE]"
    chunks = events[:-1]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert len({c["id"] for c in chunks}) == 1
    assert all(c["model"] == QWEN for c in chunks)
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": None}
    assert [c["choices"][0]["delta"]["content"] for c in chunks[1:4]] == ["Hello", " worl", "d!"]
    final = chunks[4]
    assert final["choices"][0]["delta"] == {}
    assert final["choices"][0]["finish_reason"] == "stop"
    usage_chunk = chunks[5]
    assert usage_chunk["choices"] == []
    assert usage_chunk["usage"]["completion_tokens"] > 0
    assert len(chunks) == 6


async def test_stream_without_include_usage_or_with_send_usage_off(sim: SimulatedLMStudio) -> None:
    sim.script(QWEN, "abc", Reply("abc", send_usage=False))
    async with sim.client() as http:
        plain = await stream_events(http, "/v1/chat/completions", chat_body(stream=True))
        old = await stream_events(
            http,
            "/v1/chat/completions",
            chat_body(stream=True, stream_options={"include_usage": True}),
        )
    for events in (plain, old):
        assert not any(isinstance(e, dict) and "usage" in e for e in events)
        assert events[-2]["choices"][0]["finish_reason"] == "stop"


@pytest.mark.parametrize("shape", ["reasoning_content", "reasoning"])
async def test_streamed_reasoning_fields(sim: SimulatedLMStudio, shape: str) -> None:
    sim.script(QWEN, Reply("ok", reasoning="abcdefgh", reasoning_shape=shape, chunk_size=3))  # type: ignore[arg-type]
    async with sim.client() as http:
        events = await stream_events(http, "/v1/chat/completions", chat_body(stream=True))
    ds = deltas(events)
    assert "".join(d.get(shape, "") for d in ds) == "abcdefgh"
    assert "".join(d.get("content") or "" for d in ds) == "ok"
    first_content = next(i for i, d in enumerate(ds) if d.get("content"))
    last_reasoning = max(i for i, d in enumerate(ds) if d.get(shape))
    assert last_reasoning < first_content


async def test_streamed_think_tags_are_whole_deltas(sim: SimulatedLMStudio) -> None:
    sim.script(QWEN, Reply("ok", reasoning="hmm", reasoning_shape="think"))
    async with sim.client() as http:
        events = await stream_events(http, "/v1/chat/completions", chat_body(stream=True))
    pieces = [d["content"] for d in deltas(events) if d.get("content")]
    assert pieces == ["<think>", "hmm", "</think>", "\n\n", "ok"]


def _calls(events: list[Any]) -> list[dict[str, Any]]:
    return [piece for d in deltas(events) for piece in d.get("tool_calls", [])]


def _accumulate(pieces: list[dict[str, Any]]) -> dict[int, dict[str, str]]:
    calls: dict[int, dict[str, str]] = {}
    for piece in pieces:
        call = calls.setdefault(piece["index"], {"id": "", "name": "", "arguments": ""})
        if piece.get("id"):
            call["id"] = piece["id"]
        if piece.get("function", {}).get("name"):
            call["name"] = piece["function"]["name"]
        call["arguments"] += piece.get("function", {}).get("arguments", "")
    return calls


TWO_CALLS = [
    ToolCallSpec("get_time", {"timezone": "Asia/Tokyo"}, id="call_a"),
    ToolCallSpec("get_weather", {"city": "Paris"}, id="call_b"),
]


async def test_tool_call_deltas_first_only_interleaved(sim: SimulatedLMStudio) -> None:
    sim.script(QWEN, Reply(tool_calls=TWO_CALLS, chunk_size=6))
    async with sim.client() as http:
        events = await stream_events(http, "/v1/chat/completions", chat_body(stream=True))
    pieces = _calls(events)
    assert [p["index"] for p in pieces[:4]] == [0, 1, 0, 1]
    for index in (0, 1):
        mine = [p for p in pieces if p["index"] == index]
        assert "id" in mine[0]
        assert mine[0]["type"] == "function"
        assert all("id" not in p and "name" not in p["function"] for p in mine[1:])
    assert _accumulate(pieces) == {
        0: {"id": "call_a", "name": "get_time", "arguments": '{"timezone": "Asia/Tokyo"}'},
        1: {"id": "call_b", "name": "get_weather", "arguments": '{"city": "Paris"}'},
    }
    assert events[-2]["choices"][0]["finish_reason"] == "tool_calls"
    assert events[-2]["choices"][0]["delta"] == {}


async def test_tool_call_deltas_repeat_style_sequential(sim: SimulatedLMStudio) -> None:
    sim.script(
        QWEN, Reply(tool_calls=TWO_CALLS, tool_call_style="repeat", interleave_tool_calls=False)
    )
    async with sim.client() as http:
        events = await stream_events(http, "/v1/chat/completions", chat_body(stream=True))
    pieces = _calls(events)
    indices = [p["index"] for p in pieces]
    assert indices == sorted(indices)
    assert all(p["id"] and p["function"]["name"] for p in pieces)


async def test_tool_call_deltas_empty_name_style(sim: SimulatedLMStudio) -> None:
    sim.script(QWEN, Reply(tool_calls=TWO_CALLS[:1], tool_call_style="empty_name"))
    async with sim.client() as http:
        events = await stream_events(http, "/v1/chat/completions", chat_body(stream=True))
    pieces = _calls(events)
    assert pieces[0]["function"]["name"] == "get_time"
    assert len(pieces) > 1
    assert all(p["function"]["name"] == "" for p in pieces[1:])
    assert _accumulate(pieces)[0]["name"] == "get_time"


async def test_stop_after_chunks_with_and_without_done(sim: SimulatedLMStudio) -> None:
    sim.script(
        QWEN,
        Reply("abcdefgh", stop_after_chunks=2),
        Reply("abcdefgh", stop_after_chunks=2, omit_done=True),
    )
    async with sim.client() as http:
        cut = await stream_events(http, "/v1/chat/completions", chat_body(stream=True))
        dropped = await stream_events(http, "/v1/chat/completions", chat_body(stream=True))
    assert len(cut) == 3
    assert cut[-1] == "[DONE]"
    assert len(dropped) == 2
    assert all(c["choices"][0]["finish_reason"] is None for c in dropped)


async def test_omit_done_after_a_complete_stream(sim: SimulatedLMStudio) -> None:
    sim.script(QWEN, Reply("ab", omit_done=True))
    async with sim.client() as http:
        events = await stream_events(http, "/v1/chat/completions", chat_body(stream=True))
    assert events[-1]["choices"][0]["finish_reason"] == "stop"
    assert "[DONE]" not in events


async def test_in_stream_error_after_n_chunks(sim: SimulatedLMStudio) -> None:
    sim.script(QWEN, Reply("abcdefgh", stream_error=2, stream_error_message="boom"))
    async with sim.client() as http:
        events = await stream_events(http, "/v1/chat/completions", chat_body(stream=True))
    assert len(events) == 3
    assert events[-1] == {
        "error": {"message": "boom", "type": "server_error", "param": None, "code": None}
    }


async def test_drop_connection_raises_a_protocol_error_in_process(sim: SimulatedLMStudio) -> None:
    sim.script(QWEN, Reply("abcdefgh", stop_after_chunks=2, drop_connection=True))
    async with sim.client() as http:
        with pytest.raises(httpx.RemoteProtocolError):
            await stream_events(http, "/v1/chat/completions", chat_body(stream=True))
    assert sim.requests[-1].outcome == "disconnected"
    assert sim.loaded[0].status == "idle"


async def test_eviction_cuts_a_running_stream(sim: SimulatedLMStudio) -> None:
    sim.script(QWEN, Reply("abcdefghijkl", chunk_size=1))
    lines: list[str] = []
    async with (
        sim.client() as http,
        http.stream("POST", "/v1/chat/completions", json=chat_body(stream=True)) as response,
    ):
        async for line in response.aiter_lines():
            if not line:
                continue
            lines.append(line)
            if len(lines) == 3:
                assert sim.evict(QWEN) == [QWEN]
    assert len(lines) == 4
    last = json.loads(lines[-1].removeprefix("data: "))
    assert "unloaded" in last["error"]["message"]
    assert "[DONE]" not in lines[-1]
    assert sim.cut_off == [QWEN]  # the record tests read to prove no reply was cut


# --- status, timeouts, early close ----------------------------------------------------------


async def test_status_follows_the_request(sim: SimulatedLMStudio) -> None:
    inst = sim.loaded[0]
    sim.script(QWEN, Reply("abcdefgh", chunk_size=1))
    async with sim.client() as http:
        async with http.stream("POST", "/v1/chat/completions", json=chat_body(stream=True)) as r:
            assert (inst.status, inst.queued) == ("processingPrompt", 1)
            async for _ in r.aiter_lines():
                assert (inst.status, inst.queued) == ("generating", 1)
                break
        assert (inst.status, inst.queued) == ("idle", 0)
    assert sim.requests[-1].outcome == "disconnected"


async def test_non_streamed_request_shows_processing_prompt(sim: SimulatedLMStudio) -> None:
    seen: list[tuple[str, int]] = []

    def responder(body: dict[str, Any]) -> str:
        inst = sim.loaded[0]
        seen.append((inst.status, inst.queued))
        return "ok"

    sim.responder(QWEN, responder)
    async with sim.client() as http:
        await http.post("/v1/chat/completions", json=chat_body())
    assert seen == [("processingPrompt", 1)]
    assert sim.loaded[0].status == "idle"
    assert sim.loaded[0].last_used_ms is not None


async def test_pinned_status_wins_until_unpinned(sim: SimulatedLMStudio) -> None:
    sim.set_status(QWEN, "generating", queued=3)
    assert (sim.loaded[0].status, sim.loaded[0].queued) == ("generating", 3)
    sim.set_status(QWEN, None)
    assert (sim.loaded[0].status, sim.loaded[0].queued) == ("idle", 0)
    with pytest.raises(KeyError):
        sim.set_status("nope", "idle")


async def test_closing_a_stream_without_reading_ends_the_request(sim: SimulatedLMStudio) -> None:
    async with sim.client() as http:
        request = http.build_request("POST", "/v1/chat/completions", json=chat_body(stream=True))
        response = await http.send(request, stream=True)
        assert sim.loaded[0].queued == 1
        await response.aclose()
    assert sim.loaded[0].queued == 0
    assert sim.requests[-1].outcome == "disconnected"


async def test_read_timeout_applies_in_process(sim: SimulatedLMStudio) -> None:
    sim.script(QWEN, Reply("late", delay=5), Reply("slow", chunk_delay=5, chunk_size=1))
    async with sim.client(timeout=httpx.Timeout(5, read=0.05)) as http:
        with pytest.raises(httpx.ReadTimeout):
            await http.post("/v1/chat/completions", json=chat_body())
        assert sim.requests[-1].outcome == "disconnected"
        with pytest.raises(httpx.ReadTimeout):
            await stream_events(http, "/v1/chat/completions", chat_body(stream=True))
    assert sim.requests[-1].outcome == "disconnected"
    assert sim.loaded[0].queued == 0


async def test_many_concurrent_chats(sim: SimulatedLMStudio) -> None:
    statuses: list[int] = []
    sim.responder(QWEN, lambda body: Reply("ok", delay=0.01))

    async def one(http: httpx.AsyncClient, stream: bool) -> None:
        if stream:
            events = await stream_events(http, "/v1/chat/completions", chat_body(stream=True))
            statuses.append(200 if events[-1] == "[DONE]" else 0)
        else:
            statuses.append((await http.post("/v1/chat/completions", json=chat_body())).status_code)

    async with sim.client() as http, anyio.create_task_group() as tg:
        for i in range(200):
            tg.start_soon(one, http, i % 2 == 0)
    assert statuses == [200] * 200
    assert sim.loaded[0].queued == 0
    assert len(sim.loaded) == 1


async def test_one_model_answers_all() -> None:
    sim = SimulatedLMStudio(loaded=[QWEN], one_model_answers_all=True)
    async with sim.client() as http:
        body = (await http.post("/v1/chat/completions", json=chat_body(model="gpt-4o"))).json()
    assert body["model"] == QWEN
    assert body["choices"][0]["message"]["content"].startswith(f"Simulated reply from {QWEN}")


async def test_reply_model_override(sim: SimulatedLMStudio) -> None:
    sim.script(QWEN, Reply("x", model="something-else"))
    async with sim.client() as http:
        body = (await http.post("/v1/chat/completions", json=chat_body())).json()
    assert body["model"] == "something-else"


# --- legacy completions ---------------------------------------------------------------------


async def test_completions_plain_and_streamed(sim: SimulatedLMStudio) -> None:
    sim.script(QWEN, "once upon", Reply("a time", chunk_size=2))
    async with sim.client() as http:
        plain = (
            await http.post("/v1/completions", json={"model": QWEN, "prompt": "Tell me"})
        ).json()
        events = await stream_events(
            http,
            "/v1/completions",
            {
                "model": QWEN,
                "prompt": "Tell me",
                "stream": True,
                "stream_options": {"include_usage": True},
            },
        )
    assert plain["object"] == "text_completion"
    assert plain["id"].startswith("cmpl-")
    assert plain["choices"][0]["text"] == "once upon"
    assert plain["choices"][0]["finish_reason"] == "stop"
    assert "usage" in plain
    assert events[-1] == "[DONE]"
    texts = [e["choices"][0]["text"] for e in events[:-1] if e["choices"]]
    assert "".join(texts) == "a time"
    assert events[-3]["choices"][0]["finish_reason"] == "stop"
    assert events[-2]["choices"] == [] and "usage" in events[-2]


async def test_completions_default_and_v0_stats(sim: SimulatedLMStudio) -> None:
    async with sim.client() as http:
        body = (await http.post("/api/v0/completions", json={"model": QWEN, "prompt": "Hi"})).json()
    assert body["choices"][0]["text"] == f"Simulated completion from {QWEN} to: Hi"
    assert body["stats"]["stop_reason"] == "eosFound"


async def test_missing_messages_or_prompt_is_a_400(sim: SimulatedLMStudio) -> None:
    async with sim.client() as http:
        no_messages = await http.post("/v1/chat/completions", json={"model": QWEN})
        no_prompt = await http.post("/v1/completions", json={"model": QWEN})
    assert no_messages.status_code == 400
    assert "messages" in no_messages.json()["error"]["message"]
    assert no_prompt.status_code == 400
