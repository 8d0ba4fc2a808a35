"""The /__sim__ control endpoints the simulated `lms` process relies on: exact JSON shapes."""

from __future__ import annotations

import time

import anyio

from lmbridge.testing import SimulatedLMStudio

QWEN = "qwen/qwen3-4b"
EMBED = "text-embedding-nomic-embed-text-v1.5"

LS_FIELDS = {
    "type",
    "modelKey",
    "format",
    "displayName",
    "publisher",
    "path",
    "sizeBytes",
    "paramsString",
    "architecture",
    "quantization",
    "maxContextLength",
    "deviceIdentifier",  # SDK ModelInfoBase: null locally, the LM Link device otherwise
}
PS_FIELDS = {
    "identifier",
    "ttlMs",
    "lastUsedTime",
    "contextLength",
    "status",
    "queued",
    "parallel",
}


async def test_state_lists_downloaded_and_loaded_like_lms() -> None:
    sim = SimulatedLMStudio(loaded=[EMBED, QWEN])
    sim.load(QWEN, ttl=90)
    async with sim.client() as http:
        state = (await http.get("/__sim__/state")).json()
    assert set(state) == {"downloaded", "loaded", "server", "memory"}
    assert state["server"] == {"running": True, "port": None}
    assert state["memory"]["limit_bytes"] is None  # unlimited; used_bytes counts the instances
    assert state["memory"]["used_bytes"] == sum(i.model.size_bytes for i in sim.loaded)
    downloaded = {row["modelKey"]: row for row in state["downloaded"]}
    assert set(downloaded) == set(sim.models)
    assert downloaded[QWEN] == {
        "type": "llm",
        "modelKey": QWEN,
        "format": "gguf",
        "displayName": "Qwen3 4B",
        "publisher": "qwen",
        "path": "qwen/Qwen3-4B-GGUF/Qwen3-4B-Q4_K_M.gguf",
        "sizeBytes": 2497281312,
        "paramsString": "4B",
        "architecture": "qwen3",
        "quantization": {"name": "Q4_K_M", "bits": 4},
        "maxContextLength": 32768,
        "deviceIdentifier": None,
        "vision": False,
        "trainedForToolUse": True,
    }
    assert set(downloaded[EMBED]) == LS_FIELDS  # no vision/trainedForToolUse on embedding rows
    assert downloaded["google/gemma-3-4b"]["type"] == "llm"
    assert downloaded["google/gemma-3-4b"]["vision"] is True

    # LLMs first, then embedding models, each in load order.
    assert [row["identifier"] for row in state["loaded"]] == [QWEN, f"{QWEN}:2", EMBED]
    first, second, embed = state["loaded"]
    assert set(first) == LS_FIELDS | PS_FIELDS | {"vision", "trainedForToolUse"}
    assert first["ttlMs"] is None
    assert second["ttlMs"] == 90_000
    assert first["status"] == "idle"
    assert first["queued"] == 0
    assert first["contextLength"] == 4096
    assert first["parallel"] == 4
    assert first["deviceIdentifier"] is None
    assert first["lastUsedTime"] is None
    assert embed["parallel"] is None
    assert embed["type"] == "embedding"


async def test_state_shows_pinned_status_and_last_use() -> None:
    sim = SimulatedLMStudio(loaded=[QWEN])
    before = int(time.time() * 1000)
    async with sim.client() as http:
        await http.post(
            "/v1/chat/completions",
            json={"model": QWEN, "messages": [{"role": "user", "content": "x"}]},
        )
        sim.set_status(QWEN, "processingPrompt", queued=2)
        (row,) = (await http.get("/__sim__/state")).json()["loaded"]
    assert (row["status"], row["queued"]) == ("processingPrompt", 2)
    assert row["lastUsedTime"] >= before


async def test_load_endpoint() -> None:
    sim = SimulatedLMStudio(memory_limit_bytes=5_000_000_000)
    async with sim.client() as http:
        ok = await http.post(
            "/__sim__/load",
            json={"model_key": QWEN, "identifier": "mine", "context_length": 8192, "ttl": 30},
        )
        again = await http.post("/__sim__/load", json={"model_key": QWEN})
        oom = await http.post("/__sim__/load", json={"model_key": "openai/gpt-oss-20b"})
        unknown = await http.post("/__sim__/load", json={"model_key": "qwen3"})
        taken = await http.post("/__sim__/load", json={"model_key": EMBED, "identifier": "mine"})
        bad = await http.post("/__sim__/load", json={})
    assert ok.status_code == 200
    instance = ok.json()["instance"]
    assert instance["identifier"] == "mine"
    assert instance["modelKey"] == QWEN
    assert instance["contextLength"] == 8192
    assert instance["ttlMs"] == 30_000
    assert instance["status"] == "idle"
    assert again.json()["instance"]["identifier"] == QWEN
    assert oom.status_code == 507
    assert "requires approximately 12.11 GB" in oom.json()["error"]
    assert unknown.status_code == 404
    assert isinstance(unknown.json()["error"], str)
    assert taken.status_code == 409
    assert bad.status_code == 400
    assert [(i.identifier, i.via) for i in sim.loaded] == [("mine", "lms"), (QWEN, "lms")]
    assert sim.requests == []  # control calls are not LM Studio traffic


async def test_unload_endpoint() -> None:
    sim = SimulatedLMStudio(loaded=[QWEN, QWEN, EMBED])
    async with sim.client() as http:
        one = (await http.post("/__sim__/unload", json={"identifier": f"{QWEN}:2"})).json()
        none = (await http.post("/__sim__/unload", json={"identifier": "nope"})).json()
        everything = (await http.post("/__sim__/unload", json={"all": True})).json()
    assert one == {"unloaded": [f"{QWEN}:2"]}
    assert none == {"unloaded": []}
    assert everything == {"unloaded": [QWEN, EMBED]}
    assert sim.loaded == []


async def test_cli_calls_and_config() -> None:
    sim = SimulatedLMStudio()
    sim.cli_config = {"hang": True, "progress_steps": 5}
    async with sim.client() as http:
        await http.post("/__sim__/cli-calls", json={"argv": ["ps", "--json"]})
        await http.post("/__sim__/cli-calls", json={"argv": ["load", QWEN, "-y"]})
        rejected = await http.post("/__sim__/cli-calls", json={"argv": "ps"})
        calls = (await http.get("/__sim__/cli-calls")).json()
        config = (await http.get("/__sim__/cli-config")).json()
    assert calls == [["ps", "--json"], ["load", QWEN, "-y"]]
    assert sim.cli_calls == calls
    assert rejected.status_code == 400
    assert config == {"hang": True, "progress_steps": 5}


async def test_control_load_honours_load_delay() -> None:
    sim = SimulatedLMStudio(load_delay=30)

    async def load() -> None:
        await http.post("/__sim__/load", json={"model_key": QWEN})

    async with sim.client() as http, anyio.create_task_group() as tg:
        tg.start_soon(load)
        for _ in range(20):
            await anyio.sleep(0)
        assert sim.loaded == []  # a loading model is absent, as in `lms ps`
        tg.cancel_scope.cancel()
    assert sim.loaded == []
    sim.load_delay = 0.01
    async with sim.client() as http:
        await load()
    assert [i.identifier for i in sim.loaded] == [QWEN]
