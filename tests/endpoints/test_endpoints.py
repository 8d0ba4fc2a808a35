"""embed(), complete(), respond() and Bridge options, against the simulated LM Studio."""

from __future__ import annotations

import json

import httpx
import pytest

import lmbridge
from lmbridge import Bridge
from lmbridge.testing import Reply, SimulatedLMStudio, ToolCallSpec

CHAT_MODEL = "qwen/qwen3-4b"
EMBED_MODEL = "text-embedding-nomic-embed-text-v1.5"


@pytest.fixture
def sim() -> SimulatedLMStudio:
    return SimulatedLMStudio(loaded=[CHAT_MODEL, EMBED_MODEL])


def last_body(sim: SimulatedLMStudio, path: str) -> dict:  # type: ignore[type-arg]
    bodies = [r.body for r in sim.requests if r.path == path]
    assert bodies, f"no request to {path}"
    return bodies[-1]  # type: ignore[no-any-return]


async def test_embed_vectors_in_input_order_float_and_base64_agree(sim: SimulatedLMStudio) -> None:
    texts = ["alpha", "beta", "gamma"]
    async with Bridge(transport=sim.transport()) as bridge:
        plain = await bridge.embed(EMBED_MODEL, texts)
        packed = await bridge.embed(EMBED_MODEL, texts, encoding_format="base64")
        single = await bridge.embed(EMBED_MODEL, "beta")
    assert last_body(sim, "/v1/embeddings")["input"] == ["beta"]
    assert len(plain) == 3 and list(plain) == plain.vectors
    assert plain.vectors == packed.vectors, "base64 decodes to the same float32 values"
    assert single[0] == plain[1]
    assert plain.vectors[0] != plain.vectors[1]
    assert plain.model == f"{EMBED_MODEL}@q4_k_m" and not plain.model_mismatch
    assert plain.usage is not None


async def test_embed_rejects_empty_input(sim: SimulatedLMStudio) -> None:
    async with Bridge(transport=sim.transport()) as bridge:
        with pytest.raises(ValueError, match="empty"):
            await bridge.embed(EMBED_MODEL, [])


async def test_complete_uses_v1_completions(sim: SimulatedLMStudio) -> None:
    sim.script(CHAT_MODEL, Reply(" there was a model.", finish_reason="length"))
    async with Bridge(transport=sim.transport()) as bridge:
        result = await bridge.complete(CHAT_MODEL, "Once upon a time", max_tokens=5, stop=["\n"])
    body = last_body(sim, "/v1/completions")
    assert (
        body["prompt"] == "Once upon a time" and body["max_tokens"] == 5 and body["stop"] == ["\n"]
    )
    assert result.text == " there was a model."
    assert result.truncated and result.usage is not None


async def test_respond_is_stateful_and_flattens_chat_tools(sim: SimulatedLMStudio) -> None:
    sim.script(
        CHAT_MODEL,
        Reply("Hello Ada."),
        Reply(tool_calls=[ToolCallSpec("get_time", {"timezone": "UTC"})]),
    )
    chat_tool = {
        "type": "function",
        "function": {"name": "get_time", "description": "time", "parameters": {"type": "object"}},
    }
    async with Bridge(transport=sim.transport()) as bridge:
        first = await bridge.respond(CHAT_MODEL, "I'm Ada", reasoning_effort="low")
        second = await bridge.respond(
            CHAT_MODEL, "What time is it?", previous_response_id=first.id, tools=[chat_tool]
        )
    assert first.id.startswith("resp_") and first.text == "Hello Ada."
    body = last_body(sim, "/v1/responses")
    assert body["previous_response_id"] == first.id
    assert body["tools"] == [
        {
            "type": "function",
            "name": "get_time",
            "description": "time",
            "parameters": {"type": "object"},
        }
    ]
    assert [(c.name, c.arguments) for c in second.tool_calls] == [("get_time", {"timezone": "UTC"})]
    assert second.output and second.output[0]["type"] == "function_call"


async def test_respond_with_unknown_previous_id_is_a_bad_request(sim: SimulatedLMStudio) -> None:
    async with Bridge(transport=sim.transport()) as bridge:
        with pytest.raises(lmbridge.BadRequestError, match="resp_missing"):
            await bridge.respond(CHAT_MODEL, "hi", previous_response_id="resp_missing")


async def test_user_supplied_http_client_is_used_and_not_closed(sim: SimulatedLMStudio) -> None:
    client = httpx.AsyncClient(transport=sim.transport(), headers={"X-Trace": "abc"})
    async with Bridge("http://lmstudio.sim", http_client=client) as bridge:
        await bridge.chat(CHAT_MODEL, "hi")
    assert not client.is_closed
    assert sim.requests[-1].headers.get("x-trace") == "abc"
    await client.aclose()


async def test_per_call_timeout_and_extra_body_reach_the_request(sim: SimulatedLMStudio) -> None:
    sim.script(CHAT_MODEL, Reply("slow", delay=1.0))
    async with Bridge(transport=sim.transport(), max_retries=0) as bridge:
        with pytest.raises(lmbridge.ReadTimeoutError):
            await bridge.chat(CHAT_MODEL, "hi", timeout=0.2)
        result = await bridge.chat(
            CHAT_MODEL, "hi", timeout=httpx.Timeout(5.0), extra_body={"repeat_penalty": 1.2}
        )
    assert result.text
    assert last_body(sim, "/v1/chat/completions")["repeat_penalty"] == 1.2


async def test_token_from_environment_authenticates(
    sim: SimulatedLMStudio, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim.auth_token = "sk-lm-test:secret"
    async with Bridge(transport=sim.transport(), max_retries=0) as bridge:
        with pytest.raises(lmbridge.AuthenticationError):
            await bridge.chat(CHAT_MODEL, "hi")
    monkeypatch.setenv("LM_API_TOKEN", "sk-lm-test:secret")
    async with Bridge(transport=sim.transport()) as bridge:
        assert (await bridge.chat(CHAT_MODEL, "hi")).text


async def test_streamed_structured_output_parses_at_the_end(sim: SimulatedLMStudio) -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    async with (
        Bridge(transport=sim.transport()) as bridge,
        bridge.stream(CHAT_MODEL, "a number", response_format=schema) as stream,
    ):
        result = await stream.result()
    assert isinstance(result.parsed, dict) and isinstance(result.parsed["n"], int)
    sent = last_body(sim, "/v1/chat/completions")
    assert sent["response_format"]["type"] == "json_schema"
    assert json.loads(result.text) == result.parsed
