"""ModelManager.list()/loaded(): source detection per server generation, parsing, caching."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager
from typing import Any

import anyio
import pytest

from lmbridge.errors import APIConnectionError, NotFoundError
from lmbridge.lifecycle.models import ModelManager
from lmbridge.lifecycle.parsers import parse_openai_models, parse_v0_models, parse_v1_models
from lmbridge.lifecycle.server import RestAPI
from lmbridge.testing import SimulatedLMStudio
from lmbridge.transport.client import HTTPTransport
from lmbridge.transport.sse import ServerSentEvent
from tests.lifecycle.models_support import MakeManager, ServeManager, http, missing_lms, requests_to

QWEN = "qwen/qwen3-4b"
GEMMA = "google/gemma-3-4b"
NOMIC = "text-embedding-nomic-embed-text-v1.5"
GPT_OSS = "openai/gpt-oss-20b"


def listing_gets(sim: SimulatedLMStudio) -> int:
    return sum(1 for r in sim.requests if r.method == "GET" and "models" in r.path)


# --- each server generation ----------------------------------------------------------------------


async def test_v1_source_has_types_capabilities_and_instances(make_manager: MakeManager) -> None:
    sim = SimulatedLMStudio(loaded=[QWEN])
    manager = make_manager(sim)

    models = {model.key: model for model in await manager.list()}

    assert manager.source == "/api/v1/models"
    assert models[QWEN].type == "llm"
    assert models[GEMMA].type == "vlm"  # an llm with vision
    assert models[NOMIC].type == "embedding"
    assert models[QWEN].state == "loaded"
    assert models[GEMMA].state == "not-loaded"
    assert [i.identifier for i in models[QWEN].instances] == [QWEN]
    assert models[QWEN].instances[0].context_length == 4096
    assert models[QWEN].instances[0].status is None  # REST listings carry no status
    assert models[QWEN].capabilities.tool_use is True
    assert models[GPT_OSS].capabilities.reasoning is True
    quantization = models[QWEN].quantization
    assert quantization is not None
    assert quantization.name == "Q4_K_M"
    assert models[QWEN].size_bytes == 2_497_281_312
    assert models[QWEN].publisher == "qwen"
    assert models[QWEN].display_name == "Qwen3 4B"


async def test_v0_source_when_v1_is_missing(make_manager: MakeManager) -> None:
    sim = SimulatedLMStudio(loaded=[QWEN, QWEN], routes_disabled={"/api/v1"})
    manager = make_manager(sim)

    models = {model.key: model for model in await manager.list()}

    assert manager.source == "/api/v0/models"
    assert models[NOMIC].type == "embedding"  # v0 spells it "embeddings"
    assert models[GEMMA].type == "vlm"
    assert [i.identifier for i in models[QWEN].instances] == [QWEN, f"{QWEN}:2"]
    assert QWEN + ":2" not in models  # the :2 row is an instance, not a model
    assert models[GEMMA].state == "not-loaded"
    assert [i.identifier for i in await manager.loaded()] == [QWEN, f"{QWEN}:2"]


async def test_openai_models_only_means_state_unknown(make_manager: MakeManager) -> None:
    sim = SimulatedLMStudio(loaded=[QWEN, QWEN], routes_disabled={"/api/v1", "/api/v0"})
    manager = make_manager(sim)

    models = {model.key: model for model in await manager.list()}

    assert manager.source == "/v1/models"
    assert set(models) == set(sim.models)
    assert {model.state for model in models.values()} == {"unknown"}
    assert {model.type for model in models.values()} == {None}
    assert [i.identifier for i in models[QWEN].instances] == [f"{QWEN}:2"]


async def test_lms_source_when_the_server_has_no_native_listing(
    serve_manager: ServeManager,
) -> None:
    sim = SimulatedLMStudio(loaded=[QWEN], routes_disabled={"/api/v1", "/api/v0"})
    sim.set_status(QWEN, "generating", queued=2)
    async with serve_manager(sim) as manager:
        models = {model.key: model for model in await manager.list()}
        loaded = await manager.loaded()

    assert manager.source == "lms"
    assert models[GEMMA].type == "vlm"
    assert models[NOMIC].type == "embedding"
    assert models[QWEN].state == "loaded"
    assert [(i.identifier, i.status, i.queued, i.busy) for i in loaded] == [
        (QWEN, "generating", 2, True)
    ]
    assert ["ls", "--json"] in sim.cli_calls


async def test_loaded_takes_statuses_from_lms_even_with_a_rest_source(
    serve_manager: ServeManager,
) -> None:
    sim = SimulatedLMStudio(loaded=[QWEN])
    sim.set_status(QWEN, "processingPrompt")
    async with serve_manager(sim) as manager:
        listed = await manager.list()
        loaded = await manager.loaded()

    assert manager.source == "/api/v1/models"
    assert next(m for m in listed if m.key == QWEN).instances[0].status is None
    assert [(i.identifier, i.status) for i in loaded] == [(QWEN, "processingPrompt")]


async def test_lms_for_another_server_is_not_used(make_manager: MakeManager, tmp_path: Any) -> None:
    """lms manages this machine's LM Studio; the manager's server is elsewhere (not loopback)."""
    from lmbridge.lifecycle.lms import LmsCli
    from lmbridge.testing.simulated_lms import install_simulated_lms

    other = SimulatedLMStudio(loaded=[GEMMA])
    sim = SimulatedLMStudio(routes_disabled={"/api/v1", "/api/v0"})
    async with other.serve() as url:
        lms = LmsCli(path=install_simulated_lms(tmp_path / "bin", server_url=url))
        manager = make_manager(sim, lms=lms)
        models = await manager.list()

    assert manager.source == "/v1/models"
    assert {model.key for model in models} == set(sim.models)
    assert other.cli_calls == []


async def test_lms_for_another_port_is_not_used(tmp_path: Any) -> None:
    from lmbridge.lifecycle.lms import LmsCli
    from lmbridge.testing.simulated_lms import install_simulated_lms

    other = SimulatedLMStudio(loaded=[GEMMA])
    sim = SimulatedLMStudio(routes_disabled={"/api/v1", "/api/v0"})
    async with other.serve() as other_url, sim.serve() as url:
        lms = LmsCli(path=install_simulated_lms(tmp_path / "bin", server_url=other_url))
        async with http(url) as rest:
            manager = ModelManager(rest=rest, lms=lms)
            await manager.list()
            loaded = await manager.loaded()

    assert manager.source == "/v1/models"
    assert loaded == []  # not GEMMA from the other server
    assert other.cli_calls == [["server", "status", "--json"]]


# --- detection is remembered, and redone once after a 404 -------------------------------------


async def test_source_is_detected_once(make_manager: MakeManager) -> None:
    sim = SimulatedLMStudio(routes_disabled={"/api/v1"})
    manager = make_manager(sim, listing_ttl=0)

    await manager.list()
    await manager.list()

    assert len(requests_to(sim, "GET", "/api/v1/models")) == 1  # probed once, remembered
    assert len(requests_to(sim, "GET", "/api/v0/models")) == 2


async def test_a_404_from_the_remembered_source_detects_again(make_manager: MakeManager) -> None:
    sim = SimulatedLMStudio()
    manager = make_manager(sim, listing_ttl=0)
    await manager.list()
    assert manager.source == "/api/v1/models"

    sim.routes_disabled = {"/api/v1"}  # the server was replaced by an older version
    models = await manager.list()

    assert manager.source == "/api/v0/models"  # type: ignore[comparison-overlap]  # mypy narrowed it above
    assert {model.key for model in models} == set(sim.models)


async def test_no_listing_route_at_all_raises_not_found(make_manager: MakeManager) -> None:
    sim = SimulatedLMStudio(routes_disabled={"/api/v1", "/api/v0", "/v1/models"})
    manager = make_manager(sim)

    with pytest.raises(NotFoundError, match="lists no models"):
        await manager.list()
    assert manager.source is None


class FlakyRest:
    """A RestAPI that can be switched to fail with connection errors."""

    def __init__(self, inner: HTTPTransport) -> None:
        self.inner = inner
        self.base_url = inner.base_url
        self.down = False

    async def get_json(self, path: str, *, timeout: float | None = None) -> Any:
        if self.down:
            raise APIConnectionError("connection refused", url=self.base_url + path)
        return await self.inner.get_json(path, timeout=timeout)

    async def post_json(
        self,
        path: str,
        body: Mapping[str, Any],
        *,
        timeout: float | None = None,
        model: str | None = None,
    ) -> Any:
        return await self.inner.post_json(path, body, timeout=timeout, model=model)

    def stream_events(
        self, path: str, body: Mapping[str, Any], *, model: str | None = None
    ) -> AbstractAsyncContextManager[AsyncIterator[list[ServerSentEvent]]]:
        return self.inner.stream_events(path, body, model=model)


async def test_connection_errors_are_raised_not_taken_as_missing(tmp_path: Any) -> None:
    sim = SimulatedLMStudio()
    async with http(sim.base_url, transport=sim.transport()) as inner:
        rest = FlakyRest(inner)
        typed: RestAPI = rest
        manager = ModelManager(rest=typed, lms=missing_lms(tmp_path), listing_ttl=0)
        await manager.list()
        rest.down = True
        with pytest.raises(APIConnectionError):
            await manager.list()
        assert manager.source == "/api/v1/models"
        rest.down = False
        await manager.list()

    assert len(requests_to(sim, "GET", "/api/v0/models")) == 0


async def test_connection_error_during_detection_is_raised(tmp_path: Any) -> None:
    async with http("http://127.0.0.1:9") as rest:
        manager = ModelManager(rest=rest, lms=missing_lms(tmp_path))
        with pytest.raises(APIConnectionError):
            await manager.list()
    assert manager.source is None


# --- caching -----------------------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_listings_are_cached_for_listing_ttl(make_manager: MakeManager) -> None:
    clock = FakeClock()
    sim = SimulatedLMStudio()
    manager = make_manager(sim, listing_ttl=2.0, clock=clock)

    await manager.list()
    await manager.get(QWEN)
    await manager.loaded()
    assert listing_gets(sim) == 1

    clock.now += 2.5
    await manager.list()
    assert listing_gets(sim) == 2


async def test_invalidate_drops_the_cache(make_manager: MakeManager) -> None:
    sim = SimulatedLMStudio()
    manager = make_manager(sim, listing_ttl=60.0)
    assert (await manager.get(QWEN)).state == "not-loaded"

    sim.load(QWEN)  # loaded behind the manager's back
    assert (await manager.get(QWEN)).state == "not-loaded"  # still cached
    manager.invalidate()
    assert (await manager.get(QWEN)).state == "loaded"


async def test_concurrent_listings_share_one_request(make_manager: MakeManager) -> None:
    sim = SimulatedLMStudio()
    manager = make_manager(sim)

    async with anyio.create_task_group() as tg:
        for _ in range(20):
            tg.start_soon(manager.list)

    assert len(requests_to(sim, "GET", "/api/v1/models")) == 1


async def test_own_loads_and_unloads_invalidate(make_manager: MakeManager) -> None:
    sim = SimulatedLMStudio()
    manager = make_manager(sim, listing_ttl=60.0)
    assert (await manager.get(QWEN)).state == "not-loaded"

    await manager.ensure_loaded(QWEN)
    assert (await manager.get(QWEN)).state == "loaded"
    await manager.unload(QWEN)
    assert (await manager.get(QWEN)).state == "not-loaded"


# --- parsers, on the payloads from the reference ------------------------------------------------


def test_parse_v0_rows_from_the_reference() -> None:
    payload = {
        "object": "list",
        "data": [
            {
                "id": "qwen2-vl-7b-instruct",
                "object": "model",
                "type": "vlm",
                "publisher": "mlx-community",
                "arch": "qwen2_vl",
                "compatibility_type": "mlx",
                "quantization": "4bit",
                "state": "not-loaded",
                "max_context_length": 32768,
            },
            {
                "id": "nomic",
                "type": "embeddings",
                "state": "loaded",
                "loaded_context_length": 2048,
                "capabilities": [],
            },
            {"id": "llama", "type": "llm", "state": "loaded", "capabilities": ["tool_use"]},
        ],
    }
    listing = parse_v0_models(payload)
    models = {model.key: model for model in listing.models}

    assert listing.complete  # a not-loaded row: JIT is on, so every downloaded model is listed
    assert models["qwen2-vl-7b-instruct"].type == "vlm"
    assert models["qwen2-vl-7b-instruct"].capabilities.vision is True
    assert models["qwen2-vl-7b-instruct"].quantization is not None
    assert models["qwen2-vl-7b-instruct"].quantization.name == "4bit"
    assert models["nomic"].type == "embedding"
    assert models["nomic"].instances[0].context_length == 2048
    assert models["llama"].capabilities.tool_use is True


def test_parse_v0_with_loaded_rows_only_is_incomplete() -> None:
    listing = parse_v0_models({"data": [{"id": "a", "type": "llm", "state": "loaded"}]})
    assert not listing.complete


def test_parse_v1_reasoning_flag_and_vision() -> None:
    payload = {
        "models": [
            {
                "type": "llm",
                "key": "openai/gpt-oss-20b",
                "loaded_instances": [
                    {"id": "openai/gpt-oss-20b", "config": {"context_length": 8192}}
                ],
                "capabilities": {"vision": False, "trained_for_tool_use": True, "reasoning": True},
            },
            {"type": "llm", "key": "vis", "capabilities": {"vision": True}},
            {"type": "embedding", "key": "emb"},
        ]
    }
    models = {model.key: model for model in parse_v1_models(payload).models}

    assert models["openai/gpt-oss-20b"].capabilities.reasoning is True
    assert models["openai/gpt-oss-20b"].instances[0].context_length == 8192
    assert models["vis"].type == "vlm"
    assert models["emb"].type == "embedding"
    assert models["emb"].capabilities.reasoning is None


def test_parse_openai_models_folds_instance_suffixes() -> None:
    listing = parse_openai_models(
        {"data": [{"id": "m"}, {"id": "m:2"}, {"id": "m:3"}, {"id": "x"}]}
    )
    models = {model.key: model for model in listing.models}

    assert set(models) == {"m", "x"}
    assert [i.identifier for i in models["m"].instances] == ["m:2", "m:3"]
    assert not listing.shows_state
