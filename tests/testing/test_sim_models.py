"""Model state: listings on every API, JIT loading, auto-evict, duplicate instances, TTL, memory."""

from __future__ import annotations

import base64
import struct
from typing import Any

import anyio
import httpx
import pytest

from lmbridge.testing import SimLoadError, SimModel, SimulatedLMStudio, default_catalogue

QWEN = "qwen/qwen3-4b"
GEMMA = "google/gemma-3-4b"
OSS = "openai/gpt-oss-20b"
EMBED = "text-embedding-nomic-embed-text-v1.5"


def chat(model: str, **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": "hi"}], **extra}


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_default_catalogue_has_each_kind() -> None:
    models = {m.key: m for m in default_catalogue()}
    assert models[QWEN].trained_for_tool_use
    assert models[GEMMA].type == "vlm" and models[GEMMA].vision
    assert models[OSS].reasoning_shape == "reasoning"
    assert models[EMBED].type == "embedding"
    assert any(k != QWEN and k.startswith(QWEN) for k in models)  # a near-duplicate key


def test_duplicate_keys_are_refused() -> None:
    with pytest.raises(ValueError, match="duplicate"):
        SimulatedLMStudio(models=[SimModel(key="a/b"), SimModel(key="a/b")])


async def test_probes() -> None:
    sim = SimulatedLMStudio(version="0.3.30")
    async with sim.client() as http:
        assert (await http.get("/lmstudio-greeting")).json() == {"lmstudio": True}
        assert (await http.get("/lms-status")).json() == {
            "package": "lmstudio",
            "version": "0.3.30",
        }


async def test_v1_models_lists_downloaded_with_jit_and_loaded_without() -> None:
    sim = SimulatedLMStudio(loaded=[QWEN, QWEN])
    async with sim.client() as http:
        with_jit = [m["id"] for m in (await http.get("/v1/models")).json()["data"]]
        sim.jit = False
        listing = (await http.get("/v1/models")).json()
    assert with_jit == [*sim.models, f"{QWEN}:2"]
    assert listing["object"] == "list"
    assert listing["data"] == [
        {"id": QWEN, "object": "model", "owned_by": "organization_owner"},
        {"id": f"{QWEN}:2", "object": "model", "owned_by": "organization_owner"},
    ]


async def test_loading_twice_makes_numbered_instances() -> None:
    sim = SimulatedLMStudio()
    ids = [sim.load(QWEN).identifier for _ in range(3)]
    assert ids == [QWEN, f"{QWEN}:2", f"{QWEN}:3"]
    assert sim.unload(QWEN)
    assert not sim.unload(QWEN)
    assert sim.load(QWEN).identifier == QWEN  # the plain identifier is free again
    assert sim.load(QWEN, identifier="mine").identifier == "mine"
    with pytest.raises(SimLoadError) as conflict:
        sim.load(GEMMA, identifier="mine")
    assert conflict.value.kind == "conflict"
    with pytest.raises(SimLoadError) as missing:
        sim.load("nope/nope")
    assert missing.value.kind == "not_found"
    assert sim.resolve(QWEN) is sim.instance(QWEN)
    assert sim.resolve(f"{QWEN}:3") is sim.instance(f"{QWEN}:3")
    assert sim.resolve("mine") is sim.instance("mine")


async def test_jit_loads_with_ttl_and_auto_evicts_only_jit_loads() -> None:
    sim = SimulatedLMStudio(loaded=[EMBED])
    async with sim.client() as http:
        first = await http.post("/v1/chat/completions", json=chat(QWEN, ttl=120))
        (qwen,) = [i for i in sim.loaded if i.key == QWEN]
        assert (qwen.via, qwen.ttl) == ("jit", 120)
        second = await http.post("/v1/chat/completions", json=chat(GEMMA))
    assert first.status_code == second.status_code == 200
    assert [(i.identifier, i.via) for i in sim.loaded] == [(EMBED, "lms"), (GEMMA, "jit")]
    assert sim.loaded[1].ttl == 3600
    assert not qwen.loaded


async def test_jit_without_auto_evict_keeps_both() -> None:
    sim = SimulatedLMStudio(auto_evict=False)
    async with sim.client() as http:
        await http.post("/v1/chat/completions", json=chat(QWEN))
        await http.post("/v1/chat/completions", json=chat(GEMMA))
    assert [i.identifier for i in sim.loaded] == [QWEN, GEMMA]


async def test_a_variant_suffix_names_the_model() -> None:
    sim = SimulatedLMStudio(loaded=[QWEN])
    async with sim.client() as http:
        response = await http.post("/v1/chat/completions", json=chat(f"{QWEN}@q4_k_m"))
    assert response.status_code == 200
    assert response.json()["model"] == QWEN
    assert len(sim.loaded) == 1


async def test_unloaded_numbered_instance_is_reloaded_by_jit_or_refused() -> None:
    sim = SimulatedLMStudio(loaded=[QWEN, QWEN], auto_evict=False)
    sim.evict(f"{QWEN}:2")
    async with sim.client() as http:
        sim.jit = False
        refused = await http.post("/v1/chat/completions", json=chat(f"{QWEN}:2"))
        sim.jit = True
        reloaded = await http.post("/v1/chat/completions", json=chat(f"{QWEN}:2"))
    assert refused.status_code == 400
    assert reloaded.status_code == 200
    assert reloaded.json()["model"] == f"{QWEN}:2"


async def test_load_delay_makes_concurrent_jit_requests_duplicate_instances() -> None:
    sim = SimulatedLMStudio(load_delay=0.2, auto_evict=False)

    async def request(http: httpx.AsyncClient) -> None:
        assert (await http.post("/v1/chat/completions", json=chat(QWEN))).status_code == 200

    async with sim.client() as http, anyio.create_task_group() as tg:
        for _ in range(2):
            tg.start_soon(request, http)
    assert sorted(i.identifier for i in sim.loaded) == [QWEN, f"{QWEN}:2"]


async def test_evict_by_key_removes_every_instance() -> None:
    sim = SimulatedLMStudio(loaded=[QWEN, QWEN, GEMMA])
    assert sim.evict(QWEN) == [QWEN, f"{QWEN}:2"]
    assert [i.identifier for i in sim.loaded] == [GEMMA]
    assert sim.evict("nothing") == []
    assert sim.cut_off == []  # idle instances: no reply was cut


async def test_idle_ttl_expires_with_an_injected_clock() -> None:
    clock = FakeClock()
    sim = SimulatedLMStudio(clock=clock)
    sim.load(QWEN, ttl=60)
    sim.load(GEMMA)
    async with sim.client() as http:
        clock.now += 50
        await http.post("/v1/chat/completions", json=chat(QWEN))  # resets the idle timer
        clock.now += 50
        assert [i.identifier for i in sim.loaded] == [QWEN, GEMMA]
        clock.now += 11
        assert [i.identifier for i in sim.loaded] == [GEMMA]  # no TTL: stays


async def test_memory_limit() -> None:
    sim = SimulatedLMStudio(memory_limit_bytes=6_000_000_000)
    sim.load(QWEN)
    sim.load(QWEN)
    with pytest.raises(SimLoadError) as raised:
        sim.load(GEMMA)
    assert raised.value.kind == "out_of_memory"
    assert raised.value.required_gb == 3.34
    assert "requires approximately 3.34 GB" in str(raised.value)
    sim.unload_all()
    assert sim.load(GEMMA).identifier == GEMMA


async def test_v0_models_list_and_detail() -> None:
    sim = SimulatedLMStudio(loaded=[QWEN])
    sim.load(QWEN, context_length=8192)
    async with sim.client() as http:
        rows = {r["id"]: r for r in (await http.get("/api/v0/models")).json()["data"]}
        detail = (await http.get(f"/api/v0/models/{EMBED}")).json()
        nested = await http.get(f"/api/v0/models/{QWEN}:2")
        missing = await http.get("/api/v0/models/nope/nope")
        sim.jit = False
        loaded_only = [r["id"] for r in (await http.get("/api/v0/models")).json()["data"]]
    assert rows[QWEN] == {
        "id": QWEN,
        "object": "model",
        "type": "llm",
        "publisher": "qwen",
        "arch": "qwen3",
        "compatibility_type": "gguf",
        "quantization": "Q4_K_M",
        "state": "loaded",
        "max_context_length": 32768,
        "loaded_context_length": 4096,
        "capabilities": ["tool_use"],
    }
    assert rows[f"{QWEN}:2"]["loaded_context_length"] == 8192
    assert rows[GEMMA]["type"] == "vlm"
    assert rows[GEMMA]["state"] == "not-loaded"
    assert "loaded_context_length" not in rows[GEMMA]
    assert detail["type"] == "embeddings"
    assert nested.json()["id"] == f"{QWEN}:2"
    assert missing.status_code == 404
    assert loaded_only == [QWEN, f"{QWEN}:2"]


async def test_v1_models_load_and_unload() -> None:
    sim = SimulatedLMStudio(loaded=[QWEN])
    async with sim.client() as http:
        loaded = await http.post(
            "/api/v1/models/load",
            json={"model": QWEN, "context_length": 8192, "echo_load_config": True},
        )
        models = {m["key"]: m for m in (await http.get("/api/v1/models")).json()["models"]}
        unloaded = await http.post("/api/v1/models/unload", json={"instance_id": f"{QWEN}:2"})
        unknown = await http.post("/api/v1/models/unload", json={"instance_id": "nope"})
        not_downloaded = await http.post("/api/v1/models/load", json={"model": "nope/nope"})
        embed = (
            await http.post("/api/v1/models/load", json={"model": EMBED, "echo_load_config": True})
        ).json()
        quiet = (await http.post("/api/v1/models/load", json={"model": GEMMA})).json()
    assert loaded.json() == {
        "type": "llm",
        "instance_id": f"{QWEN}:2",
        "load_time_seconds": 0.0,
        "status": "loaded",
        "load_config": {
            "context_length": 8192,
            "eval_batch_size": 512,
            "flash_attention": True,
            "offload_kv_cache_to_gpu": True,
        },
    }
    assert "load_config" not in quiet  # load.md: only when echo_load_config is true
    qwen = models[QWEN]
    assert [(i["id"], i["config"]["context_length"]) for i in qwen["loaded_instances"]] == [
        (QWEN, 4096),
        (f"{QWEN}:2", 8192),
    ]
    assert qwen["quantization"] == {"name": "Q4_K_M", "bits_per_weight": 4}
    assert qwen["capabilities"]["trained_for_tool_use"] is True
    assert qwen["type"] == "llm" and qwen["size_bytes"] == 2_497_281_312
    assert models[GEMMA]["type"] == "llm" and models[GEMMA]["capabilities"]["vision"] is True
    assert models[EMBED]["type"] == "embedding"
    assert models[OSS]["loaded_instances"] == []
    assert unloaded.json() == {"instance_id": f"{QWEN}:2"}
    assert unknown.status_code == 404
    assert not_downloaded.status_code == 404
    assert embed["type"] == "embedding"
    assert embed["load_config"] == {"context_length": 2048}
    assert [i.via for i in sim.loaded] == ["lms", "rest", "rest"]


async def test_embeddings_float_and_base64_agree() -> None:
    sim = SimulatedLMStudio(loaded=[EMBED])
    body = {"model": EMBED, "input": ["alpha", "beta", "alpha"]}
    async with sim.client() as http:
        floats = (await http.post("/v1/embeddings", json=body)).json()
        b64 = (await http.post("/v1/embeddings", json={**body, "encoding_format": "base64"})).json()
        v0 = (await http.post("/api/v0/embeddings", json={"model": EMBED, "input": "alpha"})).json()
    assert floats["object"] == "list"
    assert floats["model"] == f"{EMBED}@q4_k_m"
    vectors = [d["embedding"] for d in floats["data"]]
    assert [d["index"] for d in floats["data"]] == [0, 1, 2]
    assert len(vectors[0]) == 8
    assert vectors[0] == vectors[2] != vectors[1]
    assert abs(sum(v * v for v in vectors[0]) - 1) < 1e-6
    decoded = [list(struct.unpack("<8f", base64.b64decode(d["embedding"]))) for d in b64["data"]]
    assert decoded == vectors
    assert v0["data"][0]["embedding"] == vectors[0]
    assert floats["usage"]["prompt_tokens"] == floats["usage"]["total_tokens"] > 0


async def test_embedding_status_and_jit() -> None:
    sim = SimulatedLMStudio()
    seen: list[str] = []
    sim.responder(EMBED, lambda body: seen.append(sim.loaded[0].status) or "")  # type: ignore[func-returns-value]
    async with sim.client() as http:
        response = await http.post("/v1/embeddings", json={"model": EMBED, "input": [1, 2, 3]})
    assert response.status_code == 200
    assert seen == ["computingEmbedding"]
    assert sim.loaded[0].via == "jit"
    assert sim.loaded[0].status == "idle"


async def test_embedding_input_is_required() -> None:
    sim = SimulatedLMStudio(loaded=[EMBED])
    async with sim.client() as http:
        response = await http.post("/v1/embeddings", json={"model": EMBED})
    assert response.status_code == 400
