"""The request path heals evictions: Bridge + ModelManager + simulator (+ simulated lms)."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import anyio
import pytest

import lmbridge
from lmbridge import Bridge
from lmbridge.testing import Reply, SimError, SimulatedLMStudio
from lmbridge.testing.simulated_lms import install_simulated_lms

QWEN = "qwen/qwen3-4b"
GEMMA = "google/gemma-3-4b"
GPT = "openai/gpt-oss-20b"
NOMIC = "text-embedding-nomic-embed-text-v1.5"
LOAD = "/api/v1/models/load"


def no_lms(tmp_path: Path) -> str:
    return str(tmp_path / "not-installed" / "lms")


def rest_loads(sim: SimulatedLMStudio) -> Counter[str]:
    return Counter(r.body["model"] for r in sim.requests if r.path == LOAD)


def lms_loads(sim: SimulatedLMStudio) -> list[list[str]]:
    return [argv for argv in sim.cli_calls if argv and argv[0] == "load"]


async def test_eviction_in_the_middle_of_50_chats_across_3_models(tmp_path: Path) -> None:
    sim = SimulatedLMStudio(jit=False, loaded=[QWEN, GEMMA, GPT])
    for model in (QWEN, GEMMA, GPT):
        sim.responder(model, lambda body: Reply("ok", delay=0.02))
    async with Bridge(transport=sim.transport(), lms_path=no_lms(tmp_path)) as bridge:

        async def evict_midway() -> None:
            await anyio.sleep(0.12)
            sim.evict(QWEN)
            sim.evict(GPT)

        async def chat_later(i: int, model: str) -> lmbridge.ChatResult[object]:
            await anyio.sleep(i * 0.005)  # spread over 0.25 s, so the eviction hits mid-way
            return await bridge.chat(model, f"q{i}")

        models = [(QWEN, GEMMA, GPT)[i % 3] for i in range(50)]
        results, _ = await asyncio.gather(
            asyncio.gather(*(chat_later(i, m) for i, m in enumerate(models))),
            evict_midway(),
        )
    assert [r.text for r in results] == ["ok"] * 50
    assert rest_loads(sim) == Counter({QWEN: 1, GPT: 1}), "one reload per evicted model"
    assert sorted(i.identifier for i in sim.loaded) == [GEMMA, GPT, QWEN], "no ':2' instance"


async def test_healing_retries_once_then_raises_with_diagnostics(tmp_path: Path) -> None:
    sim = SimulatedLMStudio(jit=False, loaded=[QWEN])
    sim.fail_next(QWEN, SimError.no_models_loaded(), times=5)
    async with Bridge(
        transport=sim.transport(), lms_path=no_lms(tmp_path), max_retries=0
    ) as bridge:
        with pytest.raises(lmbridge.ModelNotLoadedError) as caught:
            await bridge.chat(QWEN, "hi")
    chats = [r for r in sim.requests if r.path == "/v1/chat/completions"]
    assert len(chats) == 2, "the request is retried once, not in a loop"
    error = caught.value
    assert error.loaded == [QWEN]
    assert error.lms_found is False
    assert error.hint
    assert isinstance(error.__cause__, lmbridge.ModelNotLoadedError)


async def test_chat_loads_an_unloaded_model_once_through_lms(tmp_path: Path) -> None:
    sim = SimulatedLMStudio(jit=False)
    async with sim.serve() as url:
        lms = install_simulated_lms(tmp_path / "bin", server_url=url)
        async with Bridge(url, lms_path=lms) as bridge:
            results = await asyncio.gather(*(bridge.chat(QWEN, f"q{i}") for i in range(20)))
            assert all(r.text for r in results)
            sim.evict(QWEN)
            assert (await bridge.chat(QWEN, "after eviction")).text
    loads = lms_loads(sim)
    assert len(loads) == 2, f"one load, one reload: {loads}"
    assert all(argv[1] == QWEN and "-y" in argv for argv in loads)
    assert [i.identifier for i in sim.loaded] == [QWEN]


async def test_a_typo_is_model_not_found_with_suggestions_and_loads_nothing(tmp_path: Path) -> None:
    sim = SimulatedLMStudio(jit=False)
    async with Bridge(transport=sim.transport(), lms_path=no_lms(tmp_path)) as bridge:
        with pytest.raises(lmbridge.ModelNotFoundError) as caught:
            await bridge.chat("qwen/qwen3-4bb", "hi")
    assert QWEN in caught.value.suggestions
    assert not rest_loads(sim)
    assert not [r for r in sim.requests if r.path == "/v1/chat/completions"]


async def test_auto_load_false_never_loads(tmp_path: Path) -> None:
    sim = SimulatedLMStudio(jit=True)  # JIT would load it if the request were sent
    async with Bridge(
        transport=sim.transport(), lms_path=no_lms(tmp_path), auto_load=False
    ) as bridge:
        with pytest.raises(lmbridge.ModelNotLoadedError) as caught:
            await bridge.chat(QWEN, "hi")
    assert "load" in (caught.value.hint or "")
    assert sim.loaded == []
    assert not [r for r in sim.requests if r.path == "/v1/chat/completions"]


async def test_auto_load_false_does_not_heal(tmp_path: Path) -> None:
    sim = SimulatedLMStudio(jit=False, loaded=[QWEN])
    async with Bridge(
        transport=sim.transport(), lms_path=no_lms(tmp_path), auto_load=False
    ) as bridge:
        assert (await bridge.chat(QWEN, "hi")).text
        sim.evict(QWEN)
        bridge.models.invalidate()
        bridge.models.forget(QWEN)
        with pytest.raises(lmbridge.ModelNotLoadedError):
            await bridge.chat(QWEN, "hi again")
    assert not rest_loads(sim)


async def test_embeddings_ensure_the_embedding_model(tmp_path: Path) -> None:
    sim = SimulatedLMStudio(jit=False, loaded=[QWEN])
    async with Bridge(transport=sim.transport(), lms_path=no_lms(tmp_path)) as bridge:
        vectors = await bridge.embed(NOMIC, ["a"])
        with pytest.raises(lmbridge.WrongModelTypeError):
            await bridge.embed(QWEN, ["a"])
        with pytest.raises(lmbridge.WrongModelTypeError):
            await bridge.chat(NOMIC, "hi")
    assert len(vectors) == 1
    assert rest_loads(sim) == Counter({NOMIC: 1})


async def test_a_busy_model_is_used_as_it_is(tmp_path: Path) -> None:
    sim = SimulatedLMStudio(jit=False, loaded=[QWEN])
    sim.set_status(QWEN, "generating", queued=3)
    async with Bridge(transport=sim.transport(), lms_path=no_lms(tmp_path)) as bridge:
        assert (await bridge.chat(QWEN, "hi")).text
    assert not rest_loads(sim)
    assert [i.identifier for i in sim.loaded] == [QWEN]


async def test_partial_names_are_resolved_before_sending(tmp_path: Path) -> None:
    sim = SimulatedLMStudio(jit=False, loaded=[GEMMA])
    async with Bridge(transport=sim.transport(), lms_path=no_lms(tmp_path)) as bridge:
        result = await bridge.chat("gemma-3-4b", "hi")
    assert result.model == GEMMA and not result.model_mismatch
    assert [r.body["model"] for r in sim.requests if r.path == "/v1/chat/completions"] == [GEMMA]


async def test_the_cached_check_avoids_listing_on_every_request(tmp_path: Path) -> None:
    sim = SimulatedLMStudio(jit=False, loaded=[QWEN])
    async with Bridge(transport=sim.transport(), lms_path=no_lms(tmp_path)) as bridge:
        for _ in range(20):
            await bridge.chat(QWEN, "hi")
    listings = [r for r in sim.requests if r.path.startswith("/api/")]
    assert len(listings) <= 2, [r.path for r in listings]
