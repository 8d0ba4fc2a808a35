"""/v1/responses: output items, state through previous_response_id, flat tools, named stream events."""

from __future__ import annotations

import json
from typing import Any

import httpx

from lmbridge.testing import Reply, SimulatedLMStudio, ToolCallSpec

OSS = "openai/gpt-oss-20b"
QWEN = "qwen/qwen3-4b"


async def named_events(http: httpx.AsyncClient, body: dict[str, Any]) -> list[tuple[str, Any]]:
    events: list[tuple[str, Any]] = []
    name = "message"
    async with http.stream("POST", "/v1/responses", json=body) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        async for line in response.aiter_lines():
            if line.startswith("event: "):
                name = line[len("event: ") :]
            elif line.startswith("data: "):
                events.append((name, json.loads(line[len("data: ") :])))
                name = "message"
    return events


async def test_plain_response_with_reasoning() -> None:
    sim = SimulatedLMStudio(loaded=[OSS])
    async with sim.client() as http:
        body = (await http.post("/v1/responses", json={"model": OSS, "input": "Hi there"})).json()
    assert body["id"].startswith("resp_")
    assert body["object"] == "response"
    assert body["status"] == "completed"
    assert body["model"] == OSS
    reasoning, message = body["output"]
    assert reasoning["type"] == "reasoning"
    assert reasoning["content"][0]["text"] == "The user said: Hi there"
    assert message["type"] == "message"
    assert message["role"] == "assistant"
    assert message["content"][0] == {
        "type": "output_text",
        "text": f"Simulated reply from {OSS} to: Hi there",
        "annotations": [],
    }
    usage = body["usage"]
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]
    assert usage["output_tokens_details"]["reasoning_tokens"] > 0


async def test_function_calls_and_continuation_by_previous_response_id() -> None:
    sim = SimulatedLMStudio(loaded=[QWEN])
    sim.script(QWEN, Reply(tool_calls=[ToolCallSpec("get_time", {"tz": "UTC"})]))
    tools = [{"type": "function", "name": "get_time", "parameters": {"type": "object"}}]
    seen: list[dict[str, Any]] = []
    async with sim.client() as http:
        first = (
            await http.post("/v1/responses", json={"model": QWEN, "input": "time?", "tools": tools})
        ).json()
        (call,) = first["output"]
        assert call["type"] == "function_call"
        assert call["name"] == "get_time"
        assert json.loads(call["arguments"]) == {"tz": "UTC"}
        sim.responder(QWEN, lambda body: seen.append(body) or Reply("It is noon."))  # type: ignore[func-returns-value]
        second = (
            await http.post(
                "/v1/responses",
                json={
                    "model": QWEN,
                    "previous_response_id": first["id"],
                    "input": [
                        {
                            "type": "function_call_output",
                            "call_id": call["call_id"],
                            "output": "12:00",
                        }
                    ],
                },
            )
        ).json()
    assert second["previous_response_id"] == first["id"]
    assert second["output"][0]["content"][0]["text"] == "It is noon."
    assert seen[0]["previous_response_id"] == first["id"]
    history = sim.responses[second["id"]]["history"]
    assert [item.get("type", item.get("role")) for item in history] == [
        "user",
        "function_call",
        "function_call_output",
        "message",
    ]


async def test_default_reply_after_a_tool_result_mentions_it() -> None:
    sim = SimulatedLMStudio(loaded=[QWEN])
    async with sim.client() as http:
        body = (
            await http.post(
                "/v1/responses",
                json={
                    "model": QWEN,
                    "input": [{"type": "function_call_output", "call_id": "c1", "output": "12:00"}],
                },
            )
        ).json()
    assert body["output"][0]["content"][0]["text"].endswith("to: 12:00")


async def test_unknown_previous_response_and_nested_tools_are_400() -> None:
    sim = SimulatedLMStudio(loaded=[QWEN])
    nested = [{"type": "function", "function": {"name": "f", "parameters": {}}}]
    async with sim.client() as http:
        unknown = await http.post(
            "/v1/responses", json={"model": QWEN, "input": "x", "previous_response_id": "resp_nope"}
        )
        chat_tools = await http.post(
            "/v1/responses", json={"model": QWEN, "input": "x", "tools": nested}
        )
        no_input = await http.post("/v1/responses", json={"model": QWEN})
    assert unknown.status_code == 400
    assert unknown.json()["error"]["code"] == "previous_response_not_found"
    assert chat_tools.status_code == 400
    error = chat_tools.json()["error"]
    assert error["param"] == "tools.0.name"
    assert "Required" in error["message"]
    assert no_input.status_code == 400


async def test_store_false_is_not_kept() -> None:
    sim = SimulatedLMStudio(loaded=[QWEN])
    async with sim.client() as http:
        body = (
            await http.post("/v1/responses", json={"model": QWEN, "input": "x", "store": False})
        ).json()
    assert body["id"] not in sim.responses


async def test_stream_events_are_named_and_ordered() -> None:
    sim = SimulatedLMStudio(loaded=[QWEN])
    sim.script(QWEN, Reply("Hello!", chunk_size=2, tool_calls=[ToolCallSpec("f", {"a": 1})]))
    async with sim.client() as http:
        events = await named_events(http, {"model": QWEN, "input": "x", "stream": True})
    names = [name for name, _ in events]
    assert all(name == payload["type"] for name, payload in events)
    assert [payload["sequence_number"] for _, payload in events] == list(range(len(events)))
    assert names[:2] == ["response.created", "response.in_progress"]
    assert names[-1] == "response.completed"
    text = "".join(p["delta"] for n, p in events if n == "response.output_text.delta")
    assert text == "Hello!"
    args = "".join(p["delta"] for n, p in events if n == "response.function_call_arguments.delta")
    assert json.loads(args) == {"a": 1}
    created = events[0][1]["response"]
    assert (created["status"], created["output"]) == ("in_progress", [])
    final = events[-1][1]["response"]
    assert [item["type"] for item in final["output"]] == ["message", "function_call"]
    assert final["id"] in sim.responses


async def test_stream_faults_and_truncation() -> None:
    sim = SimulatedLMStudio(loaded=[QWEN])
    sim.script(
        QWEN,
        Reply("Hello!", omit_done=True),
        Reply("Hello!", stream_error=3, stream_error_message="boom"),
        Reply("a long answer"),
    )
    async with sim.client() as http:
        no_end = await named_events(http, {"model": QWEN, "input": "x", "stream": True})
        broken = await named_events(http, {"model": QWEN, "input": "x", "stream": True})
        cut = (
            await http.post(
                "/v1/responses", json={"model": QWEN, "input": "x", "max_output_tokens": 1}
            )
        ).json()
    assert no_end[-1][0] == "response.output_item.done"
    assert broken[-1] == (
        "error",
        {"type": "error", "code": "server_error", "message": "boom", "param": None},
    )
    assert len(broken) == 4
    assert cut["status"] == "incomplete"
    assert cut["incomplete_details"] == {"reason": "max_output_tokens"}
