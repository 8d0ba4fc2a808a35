"""Every error body of the reference (section 4) maps to the right typed error, with a hint."""

from __future__ import annotations

import pickle

import httpx
import pytest
import respx

import lmbridge
from lmbridge import Bridge
from lmbridge.testing import SimulatedLMStudio
from tests.transport.helpers import MODEL

CHAT = "/v1/chat/completions"

UNKNOWN_035 = {
    "error": {
        "message": 'Model "qwen/qwen3-4bb" not found. Please specify a valid model.\n\nYour models:\n- qwen/qwen3-4b\n- google/gemma-3-4b',
        "type": "invalid_request_error",
        "param": "model",
        "code": "model_not_found",
    }
}
UNKNOWN_LATER = {
    "error": {
        "message": 'Invalid model identifier "qwen/qwen3-4bb". Please specify a valid downloaded model (e.g., qwen/qwen3-4b).',
        "type": "invalid_request_error",
        "param": "model",
        "code": "model_not_found",
    }
}
NOT_LOADED_048 = {
    "error": {
        "message": "No models loaded. Please load a model in the developer page or use the `lms load` command.",
        "type": "invalid_request_error",
        "param": "model",
        "code": None,
    }
}


def response(
    status: int,
    *,
    json: object = None,
    text: str | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    if text is not None:
        return httpx.Response(status, text=text, headers=headers)
    return httpx.Response(status, json=json, headers=headers)


CASES = [
    pytest.param(
        response(404, json=UNKNOWN_035), lmbridge.ModelNotFoundError, id="unknown-model-0.3.5-404"
    ),
    pytest.param(
        response(400, json=UNKNOWN_LATER), lmbridge.ModelNotFoundError, id="unknown-model-later-400"
    ),
    pytest.param(
        response(
            404,
            text="No models loaded. Please load a model in the developer page or use the `lms load` command",
        ),
        lmbridge.ModelNotLoadedError,
        id="nothing-loaded-0.3.5-plain-text-404",
    ),
    pytest.param(
        response(
            400,
            json={
                "error": "No models loaded. Please load a model in the developer page or use the `lms load` command."
            },
        ),
        lmbridge.ModelNotLoadedError,
        id="nothing-loaded-2025-string-400",
    ),
    pytest.param(
        response(400, json=NOT_LOADED_048),
        lmbridge.ModelNotLoadedError,
        id="nothing-loaded-0.4.8-object",
    ),
    pytest.param(
        response(404, json=NOT_LOADED_048),
        lmbridge.ModelNotLoadedError,
        id="nothing-loaded-0.4.8-object-404",
    ),
    pytest.param(
        response(
            404,
            json={
                "error": {
                    "message": "Multiple models are loaded. Please specify a model by providing a model identifier.",
                    "type": "invalid_request_error",
                    "param": "model",
                    "code": "model_not_found",
                }
            },
        ),
        lmbridge.BadRequestError,
        id="multiple-loaded-404",
    ),
    pytest.param(
        response(
            404, json={"error": "No embedding models loaded. Please load an embedding model first."}
        ),
        lmbridge.ModelNotLoadedError,
        id="no-embedding-model-404",
    ),
    pytest.param(
        response(400, json={"error": "'response_format.type' must be 'json_schema' or 'text'"}),
        lmbridge.BadRequestError,
        id="json-object-rejected-400",
    ),
    pytest.param(
        response(
            400,
            json={
                "error": {
                    "code": 400,
                    "message": "the request exceeds the available context size, try increasing it",
                    "type": "exceed_context_size_error",
                    "n_prompt_tokens": 9000,
                    "n_ctx": 8192,
                }
            },
        ),
        lmbridge.ContextLengthExceededError,
        id="context-exceeded-llama.cpp",
    ),
    pytest.param(
        response(
            401,
            json={
                "error": {"message": "Invalid API Key", "type": "authentication_error", "code": 401}
            },
        ),
        lmbridge.AuthenticationError,
        id="auth-401",
    ),
    pytest.param(
        response(403, json={"error": "forbidden"}), lmbridge.AuthenticationError, id="auth-403"
    ),
    pytest.param(
        response(404, text="Unexpected endpoint or method. (POST /v1/foo)"),
        lmbridge.UnsupportedEndpointError,
        id="route-404",
    ),
    # v1 errors carry their category in `type` (1_developer/2_rest/streaming-events.md).
    pytest.param(
        response(
            401,
            json={
                "error": {
                    "type": "invalid_request",
                    "code": "invalid_api_key",
                    "message": "An LM Studio API token is required to make requests to this server",
                }
            },
        ),
        lmbridge.AuthenticationError,
        id="auth-401-v1-0.4.18",
    ),
    pytest.param(
        response(
            400,
            json={
                "error": {
                    "type": "invalid_request",
                    "code": "invalid_api_key",
                    "message": "The API token is malformed",
                }
            },
        ),
        lmbridge.AuthenticationError,
        id="auth-by-code-400-v1",
    ),
    pytest.param(
        response(
            404,
            json={"error": {"type": "model_not_found", "message": "Cannot use 'qwen/qwen3-4bb'."}},
        ),
        lmbridge.ModelNotFoundError,
        id="unknown-model-v1-type-404",
    ),
    pytest.param(
        response(
            400,
            json={"error": {"type": "model_not_found", "message": "Unavailable: qwen/qwen3-4bb"}},
        ),
        lmbridge.ModelNotFoundError,
        id="unknown-model-v1-type-400",
    ),
    pytest.param(response(422, json={"error": "bad"}), lmbridge.UnprocessableEntityError, id="422"),
    pytest.param(response(429, json={"error": "slow down"}), lmbridge.RateLimitError, id="429"),
    pytest.param(response(500, text="Internal Server Error"), lmbridge.ServerError, id="500-text"),
    pytest.param(
        response(
            501,
            json={
                "error": {
                    "code": 501,
                    "message": "This server does not support embeddings. Start it with `--embeddings`",
                    "type": "not_supported_error",
                }
            },
        ),
        lmbridge.ServerError,
        id="501-llama.cpp",
    ),
    pytest.param(response(418, text="teapot"), lmbridge.APIStatusError, id="other-4xx"),
    pytest.param(
        response(400, json={"error": 'Model "llama-3.2-1b-instruct" not found'}),
        lmbridge.ModelNotFoundError,
        id="unknown-dotted-model-string",
    ),
    pytest.param(
        response(404, json={"error": 'model "llama3.2" not found, try pulling it first'}),
        lmbridge.ModelNotFoundError,
        id="unknown-model-ollama",
    ),
    pytest.param(
        response(
            404,
            json={
                "object": "error",
                "message": "The model `qwen2.5-7b` does not exist.",
                "type": "NotFoundError",
                "code": 404,
            },
        ),
        lmbridge.ModelNotFoundError,
        id="unknown-model-vllm",
    ),
    pytest.param(
        response(409, json={"error": {"message": "No models loaded.", "code": None}}),
        lmbridge.ModelNotLoadedError,
        id="nothing-loaded-other-4xx",
    ),
]


@pytest.mark.parametrize(("answer", "expected"), CASES)
async def test_error_body_maps_to_typed_error(
    bridge: Bridge,
    server: respx.MockRouter,
    answer: httpx.Response,
    expected: type[lmbridge.LMBridgeError],
) -> None:
    server.post(CHAT).mock(return_value=answer)
    with pytest.raises(expected) as caught:
        await bridge.http.post_json(CHAT, {"model": MODEL, "messages": []}, model=MODEL)
    error = caught.value
    assert type(error) is expected
    assert error.status_code == answer.status_code
    assert error.url == "http://lms.test/v1/chat/completions"
    assert error.model == MODEL
    assert error.hint, "every error carries a hint of what to do"
    assert error.message and "{" not in error.message.split(".")[0][:1]
    assert str(error.status_code) in str(error)


async def test_model_not_found_0_3_5_lists_the_models_and_suggests(
    bridge: Bridge, server: respx.MockRouter
) -> None:
    server.post(CHAT).respond(404, json=UNKNOWN_035)
    with pytest.raises(lmbridge.ModelNotFoundError) as caught:
        await bridge.http.post_json(CHAT, {"model": "qwen/qwen3-4bb"}, model="qwen/qwen3-4bb")
    assert caught.value.available == ["qwen/qwen3-4b", "google/gemma-3-4b"]
    assert caught.value.suggestions[0] == "qwen/qwen3-4b"
    assert "qwen/qwen3-4b" in (caught.value.hint or "")
    assert "Your models" not in caught.value.message


async def test_not_loaded_wins_over_model_not_found_code(
    bridge: Bridge, server: respx.MockRouter
) -> None:
    body = {"error": {"message": "No models loaded.", "code": "model_not_found"}}
    server.post(CHAT).respond(404, json=body)
    with pytest.raises(lmbridge.ModelNotLoadedError):
        await bridge.http.post_json(CHAT, {"model": MODEL}, model=MODEL)


@pytest.mark.parametrize("path", ["/v1/responses", "/api/v1/models/download"])
async def test_unexpected_endpoint_200_says_the_server_is_too_old(
    bridge: Bridge, server: respx.MockRouter, path: str
) -> None:
    # LM Studio up to at least 0.4.17 answers an unknown route with 200 and only an error.
    answer = {"error": f"Unexpected endpoint or method. (POST {path})"}
    server.post(path).respond(200, json=answer)
    with pytest.raises(lmbridge.UnsupportedEndpointError) as caught:
        await bridge.http.post_json(path, {"model": MODEL}, model=MODEL)
    error = caught.value
    assert isinstance(error, lmbridge.NotFoundError)
    assert error.status_code == 200
    assert error.endpoint == f"POST {path}"
    expected = "0.3.29" if path == "/v1/responses" else "0.4.0"
    assert error.minimum_version == expected
    assert f"older than {expected}" in error.message
    assert expected in (error.hint or "")


async def test_respond_on_a_server_without_responses_is_unsupported_endpoint() -> None:
    sim = SimulatedLMStudio(loaded=["qwen/qwen3-4b"], routes_disabled={"/v1/responses"})
    async with Bridge(sim.base_url, transport=sim.transport(), auto_load=False) as bridge:
        with pytest.raises(lmbridge.UnsupportedEndpointError) as caught:
            await bridge.respond("qwen/qwen3-4b", "hi")
    assert caught.value.minimum_version == "0.3.29"
    assert pickle.loads(pickle.dumps(caught.value)).endpoint == "POST /v1/responses"


async def test_connection_refused_is_fast_and_hints_at_lm_studio(sleeps: object) -> None:
    async with Bridge("http://127.0.0.1:9", max_retries=0, auto_load=False) as bridge:
        with pytest.raises(lmbridge.APIConnectionError) as caught:
            await bridge.http.get_json("/v1/models")
    assert "lms server start" in (caught.value.hint or "")
    assert caught.value.url == "http://127.0.0.1:9/v1/models"


async def test_invalid_json_answer_is_invalid_response(
    bridge: Bridge, server: respx.MockRouter
) -> None:
    server.get("/lms-status").respond(200, text="<html>not json</html>")
    with pytest.raises(lmbridge.InvalidResponseError) as caught:
        await bridge.http.get_json("/lms-status")
    assert caught.value.body == "<html>not json</html>"


async def test_token_is_sent_but_never_shown(
    server: respx.MockRouter, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "sk-lm-abcdefgh:SECRETSECRET"
    route = server.post(CHAT).respond(
        401,
        json={"error": {"message": "Invalid API Key", "type": "authentication_error", "code": 401}},
    )
    monkeypatch.setenv("LM_API_TOKEN", secret)
    async with Bridge("http://lms.test/v1/", max_retries=0) as bridge:
        assert bridge.base_url == "http://lms.test"
        with pytest.raises(lmbridge.AuthenticationError) as caught:
            await bridge.http.post_json(CHAT, {"model": MODEL}, model=MODEL)
        assert route.calls.last.request.headers["authorization"] == f"Bearer {secret}"
        for shown in (
            repr(bridge),
            str(caught.value),
            repr(caught.value),
            repr(bridge.http),
            str(vars(caught.value)),
        ):
            assert "SECRET" not in shown


async def test_base_url_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LMBRIDGE_BASE_URL", "http://example.invalid:4321/v1")
    async with Bridge() as bridge:
        assert bridge.base_url == "http://example.invalid:4321"
    monkeypatch.delenv("LMBRIDGE_BASE_URL")
    async with Bridge() as bridge:
        assert bridge.base_url == "http://localhost:1234"
