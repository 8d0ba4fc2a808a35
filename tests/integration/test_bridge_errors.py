"""Real failures of a real server become lmbridge's typed errors, carrying status, URL and model."""

from __future__ import annotations

from typing import TYPE_CHECKING

import anyio
import pytest

from lmbridge import (
    APIConnectionError,
    AuthenticationError,
    Bridge,
    ContextLengthExceededError,
    ServerError,
    StreamError,
    TextDelta,
)
from tests.integration.bridge_support import (
    DETERMINISTIC,
    KEEP_GOING,
    REQUEST_TIMEOUT_S,
    SHORT,
    SLOW_MACHINE_S,
)
from tests.integration.llama_server import free_loopback_port
from tests.pool import pool_states

if TYPE_CHECKING:
    from pathlib import Path

    from tests.integration.llama_server import PrivateLlamaServer

pytestmark = pytest.mark.timeout(SLOW_MACHINE_S + 60)

# The main server has 8192 tokens of context over 2 slots: 4096 per request. About 9000 tokens:
OVERLONG_PROMPT = "lorem ipsum dolor sit amet " * 1800


async def test_a_prompt_longer_than_the_context_is_context_length_exceeded(
    bridge: Bridge, model_name: str, llama_url: str
) -> None:
    with pytest.raises(ContextLengthExceededError) as caught:
        await bridge.chat(model_name, OVERLONG_PROMPT, max_tokens=SHORT, **DETERMINISTIC)

    error = caught.value
    assert error.status_code == 400
    assert error.url == f"{llama_url}/v1/chat/completions"
    assert error.model == model_name
    assert error.body is not None and "exceed_context_size_error" in error.body
    assert error.hint and "context" in error.hint
    with pytest.raises(ContextLengthExceededError):
        async with bridge.stream(model_name, OVERLONG_PROMPT, max_tokens=SHORT) as stream:
            await stream.result()
    assert "active" not in pool_states(bridge)


async def test_a_wrong_api_key_is_an_authentication_error(
    llama_auth_url: str, api_key: str, model_name: str, missing_lms: Path
) -> None:
    async with Bridge(
        llama_auth_url, api_token=f"not-{api_key}", lms_path=missing_lms, max_retries=0
    ) as bridge:
        with pytest.raises(AuthenticationError) as caught:
            await bridge.chat(model_name, "Hi", max_tokens=SHORT, **DETERMINISTIC)

    error = caught.value
    assert error.status_code == 401
    assert error.url is not None and error.url.startswith(llama_auth_url)
    assert api_key not in str(error) and api_key not in repr(error)
    assert error.hint and "api_token" in error.hint


async def test_the_right_api_key_works(
    llama_auth_url: str, api_key: str, model_name: str, missing_lms: Path
) -> None:
    async with Bridge(
        llama_auth_url, api_token=api_key, lms_path=missing_lms, timeout=REQUEST_TIMEOUT_S
    ) as bridge:
        result = await bridge.chat(model_name, "Hi", max_tokens=4, **DETERMINISTIC)

    assert result.model == model_name and result.finish_reason in {"stop", "length"}


async def test_embeddings_on_a_server_without_them_is_a_501_server_error(
    llama_auth_url: str, api_key: str, model_name: str, missing_lms: Path
) -> None:
    async with Bridge(llama_auth_url, api_token=api_key, lms_path=missing_lms) as bridge:
        with pytest.raises(ServerError) as caught:
            await bridge.embed(model_name, "text")

    error = caught.value
    assert error.status_code == 501
    assert error.url == f"{llama_auth_url}/v1/embeddings"
    assert error.body is not None and "not_supported_error" in error.body


async def test_a_server_killed_mid_stream_is_a_stream_error(
    private_llama_server: PrivateLlamaServer, model_name: str, missing_lms: Path
) -> None:
    server = private_llama_server
    received: list[object] = []
    async with Bridge(server.url, lms_path=missing_lms, timeout=REQUEST_TIMEOUT_S) as bridge:
        with anyio.fail_after(SLOW_MACHINE_S), pytest.raises(StreamError) as caught:
            async with bridge.stream(
                model_name, "Tell a story.", max_tokens=1000, extra_body=KEEP_GOING
            ) as stream:
                async for event in stream:
                    received.append(event)
                    if len(received) == 1:
                        await server.kill()
        assert "active" not in pool_states(bridge)

    assert received and isinstance(received[0], TextDelta)
    assert caught.value.url == f"{server.url}/v1/chat/completions"
    assert caught.value.model == model_name
    assert server.process.returncode is not None


async def test_no_server_on_the_port_is_a_fast_connection_error(
    model_name: str, missing_lms: Path
) -> None:
    url = f"http://127.0.0.1:{free_loopback_port()}"
    async with Bridge(url, lms_path=missing_lms, max_retries=0) as bridge:
        with anyio.fail_after(10), pytest.raises(APIConnectionError) as caught:
            await bridge.chat(model_name, "Hi", max_tokens=SHORT)

    assert caught.value.url is not None and caught.value.url.startswith(url)
    assert caught.value.status_code is None
    assert caught.value.hint
