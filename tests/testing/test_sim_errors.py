"""Every error variant of the reference table, and auth, routes and request validation."""

from __future__ import annotations

from email.utils import parsedate_to_datetime
from typing import Any

import pytest

from lmbridge.testing import SimError, SimulatedLMStudio

QWEN = "qwen/qwen3-4b"
EMBED = "text-embedding-nomic-embed-text-v1.5"


def chat(model: str | None = QWEN) -> dict[str, Any]:
    body: dict[str, Any] = {"messages": [{"role": "user", "content": "hi"}]}
    if model is not None:
        body["model"] = model
    return body


# --- the constructors -----------------------------------------------------------------------


def test_unknown_model_0_3_5_lists_your_models() -> None:
    error = SimError.model_not_found_v035("qwen3", [QWEN, EMBED])
    assert error.status == 404
    assert isinstance(error.body, dict)
    inner = error.body["error"]
    assert inner["code"] == "model_not_found"
    assert inner["type"] == "invalid_request_error"
    assert inner["param"] == "model"
    assert inner["message"].startswith('Model "qwen3" not found. Please specify a valid model.')
    assert "Your models:" in inner["message"]
    assert QWEN in inner["message"]


def test_unknown_model_later_is_400_invalid_identifier() -> None:
    error = SimError.invalid_model_identifier("qwen3", [QWEN])
    assert error.status == 400
    assert isinstance(error.body, dict)
    assert error.body["error"]["code"] == "model_not_found"
    assert error.body["error"]["message"].startswith('Invalid model identifier "qwen3".')
    assert QWEN in error.body["error"]["message"]


def test_nothing_loaded_variants() -> None:
    plain = SimError.no_models_loaded_v035()
    assert plain.status == 404
    assert isinstance(plain.body, str)
    assert plain.body.startswith("No models loaded. Please load a model")
    assert plain.encode()[1].startswith("text/plain")

    string = SimError.no_models_loaded_string()
    assert string.status == 400
    assert isinstance(string.body, dict)
    assert isinstance(string.body["error"], str)
    assert string.body["error"].startswith("No models loaded")

    obj = SimError.no_models_loaded()
    assert obj.status == 400
    assert isinstance(obj.body, dict)
    assert obj.body["error"]["code"] is None
    assert obj.body["error"]["message"].startswith("No models loaded")
    assert SimError.no_models_loaded(status=404).status == 404


def test_multiple_models_no_embedding_model_and_json_object() -> None:
    multiple = SimError.multiple_models_loaded()
    assert multiple.status == 404
    assert isinstance(multiple.body, dict)
    assert multiple.body["error"]["message"].startswith("Multiple models are loaded")
    assert multiple.body["error"]["code"] == "model_not_found"
    assert SimError.no_embedding_model().status == 404
    rejected = SimError.json_object_rejected()
    assert (rejected.status, rejected.body) == (
        400,
        {"error": "'response_format.type' must be 'json_schema' or 'text'"},
    )


def test_rate_limited_retry_after_variants() -> None:
    assert SimError.rate_limited(3).headers == {"Retry-After": "3"}
    assert SimError.rate_limited(1.5).headers == {"Retry-After": "1.5"}
    assert SimError.rate_limited(0.25, style="ms").headers == {"retry-after-ms": "250"}
    dated = SimError.rate_limited(30, style="http-date").headers["Retry-After"]
    assert parsedate_to_datetime(dated).tzinfo is not None
    assert SimError.rate_limited(None).headers == {}
    assert SimError.rate_limited().status == 429


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors(status: int) -> None:
    error = SimError.server_error(status, "overloaded")
    assert error.status == status
    assert isinstance(error.body, dict)
    assert error.body["error"]["message"] == "overloaded"


def test_unauthorized_body_is_the_one_seen_from_0_4_18() -> None:
    # LM Studio 0.4.18's log, quoted in agustif/opencode-lmstudio#41: the category in `type`.
    error = SimError.unauthorized()
    assert error.status == 401
    assert isinstance(error.body, dict)
    assert error.body["error"]["type"] == "invalid_request"
    assert error.body["error"]["code"] == "invalid_api_key"
    assert error.body["error"]["message"].startswith("An LM Studio API token is required")


# --- what requests get ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("style", "status", "start"),
    [
        ("invalid_identifier", 400, 'Invalid model identifier "qwen3-4b-typo"'),
        ("not_found_404", 404, 'Model "qwen3-4b-typo" not found'),
    ],
)
async def test_unknown_model_uses_the_configured_variant(
    style: str, status: int, start: str
) -> None:
    sim = SimulatedLMStudio(unknown_model_error=style)  # type: ignore[arg-type]
    async with sim.client() as http:
        response = await http.post("/v1/chat/completions", json=chat("qwen3-4b-typo"))
    assert response.status_code == status
    assert response.json()["error"]["message"].startswith(start)
    assert sim.loaded == []


@pytest.mark.parametrize(
    ("style", "status"), [("object", 400), ("string", 400), ("plain_text", 404)]
)
async def test_not_loaded_with_jit_off_uses_the_configured_variant(style: str, status: int) -> None:
    sim = SimulatedLMStudio(jit=False, not_loaded_error=style)  # type: ignore[arg-type]
    async with sim.client() as http:
        response = await http.post("/v1/chat/completions", json=chat())
    assert response.status_code == status
    assert "No models loaded" in response.text
    if style == "plain_text":
        assert response.headers["content-type"].startswith("text/plain")
    elif style == "string":
        assert isinstance(response.json()["error"], str)
    else:
        assert response.json()["error"]["code"] is None


async def test_no_model_given() -> None:
    sim = SimulatedLMStudio(loaded=[QWEN])
    async with sim.client() as http:
        single = await http.post("/v1/chat/completions", json=chat(None))
        sim.load("google/gemma-3-4b")
        several = await http.post("/v1/chat/completions", json=chat(None))
        sim.unload_all()
        none = await http.post("/v1/chat/completions", json=chat(None))
    assert single.status_code == 200
    assert single.json()["model"] == QWEN
    assert several.status_code == 404
    assert "Multiple models are loaded" in several.json()["error"]["message"]
    assert none.status_code == 400
    assert "No models loaded" in none.text


async def test_embeddings_without_an_embedding_model() -> None:
    sim = SimulatedLMStudio(loaded=[QWEN])
    async with sim.client() as http:
        response = await http.post("/v1/embeddings", json={"input": "hi"})
    assert response.status_code == 404
    assert "embedding" in response.json()["error"]["message"]


async def test_wrong_model_type_both_ways() -> None:
    sim = SimulatedLMStudio(loaded=[QWEN, EMBED])
    async with sim.client() as http:
        embed_llm = await http.post("/v1/embeddings", json={"model": QWEN, "input": "hi"})
        chat_embed = await http.post("/v1/chat/completions", json=chat(EMBED))
    assert embed_llm.status_code == 400
    assert "not an embedding model" in embed_llm.json()["error"]["message"]
    assert chat_embed.status_code == 400
    assert "embedding model" in chat_embed.json()["error"]["message"]


async def test_auth_token_guards_everything_but_the_greeting() -> None:
    sim = SimulatedLMStudio(loaded=[QWEN], auth_token="sk-lm-abc:def")
    async with sim.client() as http:
        greeting = await http.get("/lmstudio-greeting")
        missing = await http.get("/v1/models")
        wrong = await http.get("/v1/models", headers={"Authorization": "Bearer nope"})
        right = await http.post(
            "/v1/chat/completions", json=chat(), headers={"Authorization": "Bearer sk-lm-abc:def"}
        )
        control = await http.get("/__sim__/state")
    assert greeting.json() == {"lmstudio": True}
    assert missing.status_code == wrong.status_code == 401
    assert missing.json() == SimError.unauthorized().body
    assert right.status_code == 200
    assert control.status_code == 200
    assert all("authorization" not in r.headers for r in sim.requests)
    assert sim.requests[-1].path == "/v1/chat/completions"  # control calls are not recorded


async def test_unknown_and_disabled_routes_answer_200_with_only_an_error() -> None:
    # Real servers up to at least 0.4.17 answer an unknown route with 200 (reference, section 9).
    sim = SimulatedLMStudio(routes_disabled={"/api/v1", "/lms-status"})
    async with sim.client() as http:
        unknown = await http.post("/v1/responses-nope", json={})
        v1_list = await http.get("/api/v1/models")
    assert unknown.status_code == v1_list.status_code == 200
    assert unknown.json() == {"error": "Unexpected endpoint or method. (POST /v1/responses-nope)"}
    assert v1_list.json() == {"error": "Unexpected endpoint or method. (GET /api/v1/models)"}


async def test_unknown_and_disabled_routes_are_404_when_asked() -> None:
    sim = SimulatedLMStudio(routes_disabled={"/api/v1", "/lms-status"}, unknown_route_status=404)
    async with sim.client() as http:
        unknown = await http.get("/v2/models")
        wrong_method = await http.get("/v1/chat/completions")
        v1_list = await http.get("/api/v1/models")
        v1_load = await http.post("/api/v1/models/load", json={"model": QWEN})
        status = await http.get("/lms-status")
        v0 = await http.get("/api/v0/models")
        sim.routes_disabled.discard("/lms-status")
        status_again = await http.get("/lms-status")
    assert unknown.status_code == 404
    assert unknown.json() == {"error": "Unexpected endpoint or method. (GET /v2/models)"}
    assert wrong_method.status_code == 404
    assert v1_list.status_code == v1_load.status_code == status.status_code == 404
    assert sim.loaded == []
    assert v0.status_code == 200
    assert status_again.json() == {"package": "lmstudio", "version": "0.4.8"}


async def test_malformed_bodies_are_400() -> None:
    sim = SimulatedLMStudio(loaded=[QWEN])
    async with sim.client() as http:
        not_json = await http.post(
            "/v1/chat/completions",
            content=b"{nope",
            headers={"content-type": "application/json"},
        )
        not_object = await http.post("/v1/chat/completions", json=[1, 2])
    assert not_json.status_code == not_object.status_code == 400
    assert sim.requests[0].body == "{nope"


async def test_fail_next_applies_before_loading_and_to_any_model() -> None:
    sim = SimulatedLMStudio()
    sim.fail_next("*", SimError.server_error(502))
    async with sim.client() as http:
        failed = await http.post("/v1/chat/completions", json=chat())
        assert sim.loaded == []  # the failure came before JIT loading
        ok = await http.post("/v1/chat/completions", json=chat())
    assert failed.status_code == 502
    assert ok.status_code == 200
    assert [i.identifier for i in sim.loaded] == [QWEN]


async def test_jit_load_out_of_memory() -> None:
    sim = SimulatedLMStudio(memory_limit_bytes=3_000_000_000)
    async with sim.client() as http:
        response = await http.post("/v1/chat/completions", json=chat("openai/gpt-oss-20b"))
    assert response.status_code == 400
    assert "requires approximately 12.11 GB" in response.json()["error"]["message"]
    assert sim.loaded == []
