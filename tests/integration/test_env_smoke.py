"""The real-server environment behaves as docs/compatibility.md says (plain httpx, no lmbridge).

The model is a base model whose text is nonsense: these tests assert protocol shape, never content.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from tests.integration.fewshot import (
    GET_TIME,
    TOOL_CALL_STOP,
    get_time_tool,
    tool_call_fewshot_messages,
)
from tests.integration.llama_server import PrivateLlamaServer

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

EMBEDDING_DIM = 640  # Gemma 3 270M hidden size


@pytest.fixture
async def client(llama_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=llama_url, timeout=60.0) as client:
        yield client


@pytest.fixture
async def auth_client(llama_auth_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=llama_auth_url, timeout=60.0) as client:
        yield client


def chat_body(model: str, **extra: Any) -> dict[str, Any]:
    return {
        "model": model,
        "messages": [{"role": "user", "content": "Say hello."}],
        "max_tokens": 8,
        "temperature": 0,
        **extra,
    }


async def test_health_is_ok(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_models_lists_the_alias(client: httpx.AsyncClient, model_name: str) -> None:
    response = await client.get("/v1/models")

    assert response.status_code == 200
    body = response.json()
    assert body["object"] == "list"
    assert [(m["id"], m["object"]) for m in body["data"]] == [(model_name, "model")]


async def test_chat_returns_a_message(client: httpx.AsyncClient, model_name: str) -> None:
    response = await client.post("/v1/chat/completions", json=chat_body(model_name))

    assert response.status_code == 200
    body = response.json()
    assert body["object"] == "chat.completion"
    assert body["model"] == model_name
    [choice] = body["choices"]
    assert choice["message"]["role"] == "assistant"
    assert isinstance(choice["message"]["content"], str)
    assert choice["finish_reason"] in {"stop", "length"}
    assert body["usage"]["completion_tokens"] >= 1


async def test_stream_ends_with_usage_chunk_then_done(
    client: httpx.AsyncClient, model_name: str
) -> None:
    body = chat_body(model_name, stream=True, stream_options={"include_usage": True})
    async with client.stream("POST", "/v1/chat/completions", json=body) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        payloads = [
            line.removeprefix("data: ")
            async for line in response.aiter_lines()
            if line.startswith("data: ")
        ]

    assert payloads[-1] == "[DONE]"
    chunks = [json.loads(payload) for payload in payloads[:-1]]
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    finishing = [c for c in chunks if c["choices"] and c["choices"][0]["finish_reason"]]
    assert len(finishing) == 1
    usage_chunk = chunks[-1]
    assert usage_chunk["choices"] == []
    assert usage_chunk["usage"]["total_tokens"] >= usage_chunk["usage"]["completion_tokens"] >= 1


async def test_embeddings_are_640_dimensional(client: httpx.AsyncClient, model_name: str) -> None:
    response = await client.post(
        "/v1/embeddings", json={"model": model_name, "input": ["first text", "second text"]}
    )

    assert response.status_code == 200
    data = response.json()["data"]
    assert [item["index"] for item in data] == [0, 1]
    assert [len(item["embedding"]) for item in data] == [EMBEDDING_DIM, EMBEDDING_DIM]


async def test_wrong_api_key_is_401(
    auth_client: httpx.AsyncClient, model_name: str, api_key: str
) -> None:
    wrong = await auth_client.post(
        "/v1/chat/completions",
        json=chat_body(model_name),
        headers={"Authorization": f"Bearer not-{api_key}"},
    )
    right = await auth_client.get("/v1/models", headers={"Authorization": f"Bearer {api_key}"})

    assert wrong.status_code == 401
    assert wrong.json()["error"]["type"] == "authentication_error"
    assert right.status_code == 200


async def test_embeddings_without_embeddings_flag_is_501(
    auth_client: httpx.AsyncClient, model_name: str, api_key: str
) -> None:
    response = await auth_client.post(
        "/v1/embeddings",
        json={"model": model_name, "input": "text"},
        headers={"Authorization": f"Bearer {api_key}"},
    )

    assert response.status_code == 501
    assert response.json()["error"]["type"] == "not_supported_error"


async def test_fewshot_history_yields_one_tool_call(
    client: httpx.AsyncClient, model_name: str
) -> None:
    response = await client.post(
        "/v1/chat/completions",
        json={
            "model": model_name,
            "messages": tool_call_fewshot_messages(),
            "tools": [get_time_tool()],
            "stop": list(TOOL_CALL_STOP),
            "temperature": 0,
            "max_tokens": 64,
        },
    )

    assert response.status_code == 200
    [choice] = response.json()["choices"]
    assert choice["finish_reason"] == "tool_calls"
    [call] = choice["message"]["tool_calls"]
    assert call["type"] == "function"
    assert call["id"]
    assert call["function"]["name"] == GET_TIME
    assert isinstance(json.loads(call["function"]["arguments"]), dict)


async def stream_and_kill_after_first_chunk(
    client: httpx.AsyncClient, body: dict[str, Any], server: PrivateLlamaServer
) -> None:
    async with client.stream("POST", "/v1/chat/completions", json=body) as response:
        response.raise_for_status()
        async for line in response.aiter_lines():
            if line.startswith("data: ") and server.process.returncode is None:
                await server.kill()


async def test_private_server_killed_mid_stream_cuts_the_stream(
    private_llama_server: PrivateLlamaServer, model_name: str
) -> None:
    body = chat_body(model_name, stream=True, max_tokens=512)
    async with httpx.AsyncClient(base_url=private_llama_server.url, timeout=30.0) as client:
        with pytest.raises(httpx.RemoteProtocolError):
            await stream_and_kill_after_first_chunk(client, body, private_llama_server)

    assert private_llama_server.process.returncode is not None
