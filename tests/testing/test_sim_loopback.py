"""The simulator over real HTTP on loopback: openai-python, disconnects, drops, the CLI."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator

import anyio
import httpx
import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam

from lmbridge.testing import Reply, SimulatedLMStudio, ToolCallSpec

QWEN = "qwen/qwen3-4b"
MESSAGES: list[ChatCompletionMessageParam] = [{"role": "user", "content": "Hello"}]


@pytest.fixture
async def served() -> AsyncIterator[tuple[SimulatedLMStudio, str]]:
    """An async fixture: setup and teardown may run in different tasks, which serve() allows."""
    sim = SimulatedLMStudio(loaded=[QWEN])
    async with sim.serve() as url:
        yield sim, url
    assert sim.port is None


async def test_openai_client_chats_and_streams(served: tuple[SimulatedLMStudio, str]) -> None:
    sim, url = served
    assert url == f"http://127.0.0.1:{sim.port}"
    sim.script(
        QWEN,
        "Hi!",
        Reply("streamed", chunk_size=3),
        Reply(tool_calls=[ToolCallSpec("get_time", {"tz": "UTC"}), ToolCallSpec("f", "{}")]),
    )
    async with openai.AsyncOpenAI(base_url=url + "/v1", api_key="x", max_retries=0) as client:
        reply = await client.chat.completions.create(model=QWEN, messages=MESSAGES)
        assert reply.choices[0].message.content == "Hi!"
        assert reply.model == QWEN

        stream = await client.chat.completions.create(
            model=QWEN,
            messages=MESSAGES,
            stream=True,
            stream_options={"include_usage": True},
        )
        text, usage = "", None
        async for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                text += chunk.choices[0].delta.content
            usage = chunk.usage or usage
        assert text == "streamed"
        assert usage is not None and usage.total_tokens > 0

        calls = await client.chat.completions.create(model=QWEN, messages=MESSAGES)
        tool_calls = calls.choices[0].message.tool_calls
        assert tool_calls is not None
        assert [c.function.name for c in tool_calls] == ["get_time", "f"]  # type: ignore[union-attr]

        models = await client.models.list()
        assert QWEN in [m.id for m in models.data]
        embedding = await client.embeddings.create(
            model="text-embedding-nomic-embed-text-v1.5", input=["a", "b"]
        )
        assert len(embedding.data) == 2
        assert len(embedding.data[0].embedding) == 8
    async with httpx.AsyncClient(base_url=url) as http:
        state = (await http.get("/__sim__/state")).json()
    assert state["server"] == {"running": True, "port": sim.port}


async def test_client_disconnect_is_seen_by_the_server(
    served: tuple[SimulatedLMStudio, str],
) -> None:
    sim, url = served
    sim.script(QWEN, Reply("x" * 200, chunk_size=1, chunk_delay=0.01))
    body = {"model": QWEN, "messages": MESSAGES, "stream": True}
    async with (
        httpx.AsyncClient(base_url=url) as http,
        http.stream("POST", "/v1/chat/completions", json=body) as response,
    ):
        async for _ in response.aiter_lines():
            assert sim.loaded[0].status == "generating"
            break
    await sim.wait_idle(timeout=10)
    assert sim.requests[-1].outcome == "disconnected"
    assert (sim.loaded[0].status, sim.loaded[0].queued) == ("idle", 0)


async def test_dropped_connection_is_a_protocol_error(
    served: tuple[SimulatedLMStudio, str],
) -> None:
    sim, url = served
    sim.script(QWEN, Reply("abcdefgh", stop_after_chunks=2, drop_connection=True))
    body = {"model": QWEN, "messages": MESSAGES, "stream": True}
    async with httpx.AsyncClient(base_url=url) as http:
        with pytest.raises(httpx.RemoteProtocolError):
            async with http.stream("POST", "/v1/chat/completions", json=body) as response:
                async for _ in response.aiter_lines():
                    pass
    await sim.wait_idle(timeout=10)
    assert sim.requests[-1].outcome == "disconnected"


async def test_serve_in_a_plain_block_and_stop_with_a_request_running() -> None:
    sim = SimulatedLMStudio(loaded=[QWEN])
    sim.script(QWEN, Reply("slow", delay=30))
    async with sim.serve() as url:

        async def hang() -> None:
            async with httpx.AsyncClient(base_url=url) as http:
                with pytest.raises(httpx.HTTPError):
                    await http.post(
                        "/v1/chat/completions", json={"model": QWEN, "messages": MESSAGES}
                    )

        async with anyio.create_task_group() as tg:
            tg.start_soon(hang)
            await anyio.sleep(0.1)
            tg.cancel_scope.cancel()
    async with httpx.AsyncClient(base_url=url) as http:
        with pytest.raises(httpx.ConnectError):
            await http.get("/lmstudio-greeting")


async def test_cli_serves_until_terminated() -> None:
    command = [
        sys.executable,
        "-m",
        "lmbridge.testing",
        "serve",
        "--port",
        "0",
        "--load",
        QWEN,
        "--no-jit",
        "--auth-token",
        "tok",
        "--memory-gb",
        "4",
    ]
    async with await anyio.open_process(command, stderr=subprocess.PIPE) as process:
        try:
            assert process.stderr is not None
            banner = b""
            with anyio.fail_after(30):
                while b"\n" not in banner:
                    banner += await process.stderr.receive()
            url = banner.split(b" on ", 1)[1].split(b" ", 1)[0].decode()
            headers = {"Authorization": "Bearer tok"}
            async with httpx.AsyncClient(base_url=url, headers=headers) as http:
                with anyio.fail_after(30):
                    while True:
                        try:
                            response = await http.get("/v1/models")
                            break
                        except httpx.ConnectError:
                            await anyio.sleep(0.05)
                assert [m["id"] for m in response.json()["data"]] == [QWEN]
                state = (await http.get("/__sim__/state")).json()
                assert state["server"]["port"] == int(url.rsplit(":", 1)[1])
                # 4 GB hold the preloaded qwen3-4b (2.5 GB) but not a second model of its size.
                refused = await http.post("/api/v1/models/load", json={"model": QWEN})
                assert "insufficient system resources" in refused.text
        finally:
            process.terminate()
            with anyio.fail_after(10):
                await process.wait()


async def test_serving_leaves_signal_handlers_alone() -> None:
    import signal

    before = signal.getsignal(signal.SIGINT)
    sim = SimulatedLMStudio()
    async with sim.serve():
        assert signal.getsignal(signal.SIGINT) is before
    assert signal.getsignal(signal.SIGINT) is before
