"""Fault matrix, payload level: answers that are well-formed HTTP but hostile or broken inside.

Deeply nested JSON everywhere a server's JSON is read, bad base64, odd tool-call arguments, a 200
that is an error, a completion without choices, a server echoing the token. Each test asserts the
typed error (or the documented "fed back to the model" path) and the requests the server saw.
"""

from __future__ import annotations

import asyncio
import json
import logging
import pickle
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from lmbridge import (
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    Bridge,
    ContextLengthExceededError,
    InvalidResponseError,
    ModelNotLoadedError,
    NotFoundError,
    StructuredOutputError,
)
from lmbridge.testing import Reply, SimError, SimulatedLMStudio, ToolCallSpec
from tests.faults.conftest import SleepRecorder
from tests.faults.rawserver import MODEL as RAW_MODEL, RawRequest, RawServer, send
from tests.faults.support import CHAT, NESTED, bridge

QWEN = "qwen/qwen3-4b"
DEEP_OBJECT = '{"a": ' * 2000 + "1" + "}" * 2000


def sim_bridge(sim: SimulatedLMStudio, no_lms: Path, **options: Any) -> Bridge:
    return Bridge(transport=sim.transport(), lms_path=no_lms, **options)


def chats(sim: SimulatedLMStudio) -> int:
    return sum(1 for r in sim.requests if r.path == CHAT)


async def idle(sim: SimulatedLMStudio) -> None:
    await sim.wait_idle(timeout=2.0)
    assert all(r.outcome == "completed" for r in sim.requests)


def answering(path: str, status: int, body: Any) -> Any:
    async def handler(request: RawRequest, reader: Any, writer: asyncio.StreamWriter) -> bool:
        if request.path == path:
            return await send(writer, status, body)
        return await send(writer, 404, {"error": "Unexpected endpoint"})

    return handler


# --- 1. deeply nested JSON -----------------------------------------------------------------------


async def test_a_nested_error_body_is_a_typed_error(no_lms: Path, sleeps: SleepRecorder) -> None:
    async with RawServer(answering(CHAT, 400, NESTED)) as server:
        async with bridge(server.url, no_lms, sleeps) as b:
            with pytest.raises(BadRequestError) as caught:
                await b.chat(RAW_MODEL, "hi")
        assert caught.value.body is not None and caught.value.body.startswith("[[[")
        assert server.seen("POST", CHAT) == 1
        assert await server.no_connections()


async def test_nested_tool_arguments_become_a_call_error_in_chat_and_stream(no_lms: Path) -> None:
    sim = SimulatedLMStudio(loaded=[QWEN])
    spec = ToolCallSpec("lookup", DEEP_OBJECT, id="call_1")
    sim.script(QWEN, Reply(tool_calls=[spec]), Reply(tool_calls=[spec]))
    async with sim_bridge(sim, no_lms) as b:
        chat = await b.chat(QWEN, "go")
        async with b.stream(QWEN, "go") as s:
            streamed = await s.result()
    for result in (chat, streamed):
        (call,) = result.tool_calls
        assert call.arguments == {} and call.arguments_json == DEEP_OBJECT
        assert call.error is not None and "nested more than 200 levels" in call.error
    assert chats(sim) == 2
    await idle(sim)


async def test_run_agent_feeds_nested_arguments_back_and_goes_on(no_lms: Path) -> None:
    sim = SimulatedLMStudio(loaded=[QWEN])
    sim.script(
        QWEN,
        Reply(tool_calls=[ToolCallSpec("lookup", DEEP_OBJECT)]),
        Reply(f"<tool_call>{DEEP_OBJECT}</tool_call>"),  # left in the text: recovered, broken
        Reply(f'<tool_call>{{"name": "lookup", "arguments": {DEEP_OBJECT}}}</tool_call>'),
        Reply("done"),
    )

    def lookup(a: int) -> str:
        """Look up."""
        raise AssertionError("never called with broken arguments")

    async with sim_bridge(sim, no_lms) as b:
        result = await b.run_agent(QWEN, "go", tools=[lookup])
    assert result.output == "done" and result.rounds == 4
    assert [r.outcome.error_kind for r in result.tool_calls] == ["invalid_arguments"] * 3
    assert all("nested more than 200 levels" in r.outcome.text for r in result.tool_calls)
    assert chats(sim) == 4
    await idle(sim)


class Answer(BaseModel):
    value: int


@pytest.mark.parametrize("fmt", [Answer, {"type": "object"}], ids=["pydantic", "schema"])
async def test_nested_structured_output_is_a_structured_output_error(
    no_lms: Path, fmt: Any
) -> None:
    sim = SimulatedLMStudio(loaded=[QWEN])
    sim.script(QWEN, Reply(DEEP_OBJECT), Reply(DEEP_OBJECT))
    async with sim_bridge(sim, no_lms) as b:
        with pytest.raises(StructuredOutputError) as chat_error:
            await b.chat(QWEN, "go", response_format=fmt, validation_retries=0)
        async with b.stream(QWEN, "go", response_format=fmt, validation_retries=0) as s:
            with pytest.raises(StructuredOutputError) as stream_error:
                await s.result()
    assert chat_error.value.raw_text == DEEP_OBJECT == stream_error.value.raw_text
    assert chats(sim) == 2


# --- 2. base64 embeddings --------------------------------------------------------------------------


@pytest.mark.parametrize("embedding", ["not base64!", "AAAAAAA=", "AAA="], ids=str)
async def test_broken_base64_embeddings_are_invalid_responses(
    no_lms: Path, sleeps: SleepRecorder, embedding: str
) -> None:
    body = {"model": RAW_MODEL, "data": [{"index": 0, "embedding": embedding}]}
    async with RawServer(answering("/v1/embeddings", 200, body)) as server:
        async with bridge(server.url, no_lms, sleeps) as b:
            with pytest.raises(InvalidResponseError, match="unreadable embedding"):
                await b.embed(RAW_MODEL, "hi", encoding_format="base64")
        assert server.seen("POST", "/v1/embeddings") == 1


# --- 3. respond() with odd function_call arguments ------------------------------------------------


@pytest.mark.parametrize(
    ("arguments", "kind"), [([1, 2], "an array"), (42, "a number"), (DEEP_OBJECT, "nested")]
)
async def test_respond_keeps_odd_arguments_as_a_call_error(
    no_lms: Path, sleeps: SleepRecorder, arguments: Any, kind: str
) -> None:
    item = {"type": "function_call", "call_id": "c1", "name": "f", "arguments": arguments}
    body = {"id": "resp_1", "model": RAW_MODEL, "output": [item]}
    async with RawServer(answering("/v1/responses", 200, body)) as server:
        async with bridge(server.url, no_lms, sleeps) as b:
            result = await b.respond(RAW_MODEL, "hi")
        assert server.seen("POST", "/v1/responses") == 1
    (call,) = result.tool_calls
    assert call.arguments == {} and call.error is not None and kind in call.error


# --- 4. a 200 that is an error, a completion without choices ---------------------------------------


@pytest.mark.parametrize(
    ("body", "error", "match"),
    [
        ({"error": "Model crashed"}, APIStatusError, "Model crashed"),
        ({"error": "No models loaded. Please load a model."}, ModelNotLoadedError, "not loaded"),
        ({"error": "Unexpected endpoint or method. (POST /x)"}, NotFoundError, "Unexpected"),
        (
            {"error": {"message": "n_ctx exceeded", "type": "exceed_context_size_error"}},
            ContextLengthExceededError,
            "n_ctx",
        ),
        ({"choices": []}, InvalidResponseError, "no choices"),
        ({"object": "chat.completion"}, InvalidResponseError, "no choices"),
    ],
    ids=["crashed", "not-loaded", "unknown-route", "context", "empty-choices", "no-choices"],
)
async def test_a_200_without_a_reply_is_an_error(
    no_lms: Path, sleeps: SleepRecorder, body: Any, error: type[Exception], match: str
) -> None:
    async with RawServer(answering(CHAT, 200, body)) as server:
        async with bridge(server.url, no_lms, sleeps, auto_load=False) as b:
            with pytest.raises(error, match=match) as caught:
                await b.chat(RAW_MODEL, "hi")
        if isinstance(caught.value, APIStatusError):
            assert caught.value.status_code == 200  # what the server really sent
        assert 1 <= server.seen("POST", CHAT) <= 2  # "not loaded" is healed (retried) once
        assert await server.no_connections()


async def test_a_text_completion_without_choices_is_an_error(
    no_lms: Path, sleeps: SleepRecorder
) -> None:
    async with RawServer(answering("/v1/completions", 200, {"choices": []})) as server:
        async with bridge(server.url, no_lms, sleeps) as b:
            with pytest.raises(InvalidResponseError, match="no choices"):
                await b.complete(RAW_MODEL, "once upon")
        assert server.seen("POST", "/v1/completions") == 1


@pytest.mark.parametrize(
    "shape",
    [
        SimError.no_models_loaded(),
        SimError.no_models_loaded(status=404),
        SimError.no_models_loaded_string(),
        SimError.no_models_loaded_v035(),
    ],
    ids=["object-400", "object-404", "string", "plain-text"],
)
async def test_the_four_not_loaded_shapes_are_healed_once(no_lms: Path, shape: SimError) -> None:
    sim = SimulatedLMStudio(loaded=[QWEN])
    sim.fail_next(QWEN, shape)
    async with sim_bridge(sim, no_lms) as b:
        result = await b.chat(QWEN, "hi")
    assert result.text
    assert chats(sim) == 2
    assert [i.identifier for i in sim.loaded] == [QWEN]
    await idle(sim)


# --- 6. tokens and passwords never shown -----------------------------------------------------------

TOKEN = "sk-fault-matrix-0123456789"


async def test_an_echoed_token_is_redacted_everywhere(
    no_lms: Path, sleeps: SleepRecorder, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # httpx logs every request's URL at INFO
    body = {"error": f"Invalid token: Bearer {TOKEN} (also {TOKEN}, Bearer sk-other-999)"}
    async with RawServer(answering(CHAT, 401, body)) as server:
        url = server.url.replace("http://", "http://admin:hunter2@")
        async with bridge(url, no_lms, sleeps, api_token=TOKEN) as b:
            with pytest.raises(AuthenticationError) as caught:
                await b.chat(RAW_MODEL, "hi")
            shown_bridge = repr(b) + repr(b.http)
        assert server.seen("POST", CHAT) == 1
    error = caught.value
    logging.getLogger("tests.faults").error("chat failed", exc_info=error)
    revived = pickle.loads(pickle.dumps(error))
    shown = [str(error), repr(error), error.body or "", error.url or "", str(revived)]
    shown += [shown_bridge, caplog.text]
    for text in shown:
        assert TOKEN not in text and "sk-other-999" not in text and "hunter2" not in text
    assert "Bearer ***" in str(error)


async def test_a_password_in_the_base_url_is_sent_as_basic_auth_and_shown_nowhere(
    no_lms: Path, sleeps: SleepRecorder, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    echo = {"error": "boom: Basic YWRtaW46aHVudGVyMg== (user admin, password hunter2)"}
    async with RawServer(answering(CHAT, 500, echo)) as server:
        url = server.url.replace("http://", "http://admin:hunter2@")
        async with bridge(url, no_lms, sleeps) as b:
            with pytest.raises(APIStatusError) as caught:
                await b.chat(RAW_MODEL, "hi", max_retries=0)
            shown = [repr(b), repr(b.http), b.base_url, str(caught.value), caplog.text]
        authorization = server.requests[-1].headers["authorization"]
    assert authorization == "Basic YWRtaW46aHVudGVyMg=="  # admin:hunter2, as httpx would send
    assert "http://127.0.0.1" in caplog.text  # the requests were logged...
    shown.append(caught.value.body or "")
    for text in shown:
        assert "hunter2" not in text  # ...without the password
        assert "YWRtaW46aHVudGVyMg==" not in text  # nor the header carrying it


@pytest.mark.parametrize(
    ("body", "error", "match"),
    [
        ({"error": "Model crashed"}, APIStatusError, "Model crashed"),
        ({"error": "No models loaded. Please load a model."}, ModelNotLoadedError, "loaded"),
        ({"choices": [{"message": {"content": "hi"}}]}, InvalidResponseError, "not an event"),
    ],
    ids=["crashed", "not-loaded", "no-stream"],
)
@pytest.mark.parametrize("declared", [True, False], ids=["json-content-type", "no-content-type"])
async def test_a_stream_answered_with_json_is_an_error(
    no_lms: Path,
    sleeps: SleepRecorder,
    body: Any,
    error: type[Exception],
    match: str,
    declared: bool,
) -> None:
    sent = body if declared else json.dumps(body).encode()
    async with RawServer(answering(CHAT, 200, sent)) as server:
        async with bridge(server.url, no_lms, sleeps, auto_load=False) as b:
            with pytest.raises(error, match=match):
                async with b.stream(RAW_MODEL, "hi") as s:
                    await s.result()
        assert 1 <= server.seen("POST", CHAT) <= 2  # "not loaded" is healed (retried) once
        assert await server.no_connections()
