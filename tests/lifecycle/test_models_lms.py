"""ensure_loaded() through the simulated ``lms``: statuses, options, single-flight, exact keys."""

from __future__ import annotations

import anyio
import pytest

from lmbridge.errors import ModelNotFoundError
from lmbridge.lifecycle.types import LoadedInstance
from lmbridge.testing import SimulatedLMStudio
from tests.lifecycle.models_support import ServeManager, load_calls, requests_to

QWEN = "qwen/qwen3-4b"
THINKING = "qwen/qwen3-4b-thinking-2507"
GEMMA = "google/gemma-3-4b"
NOMIC = "text-embedding-nomic-embed-text-v1.5"
LMS_ONLY = {"/api/v1", "/api/v0"}  # so that listings and statuses come from lms


async def test_every_status_counts_as_loaded(serve_manager: ServeManager) -> None:
    sim = SimulatedLMStudio(loaded=[QWEN, THINKING, GEMMA, NOMIC], routes_disabled=LMS_ONLY)
    sim.set_status(QWEN, "idle")
    sim.set_status(THINKING, "processingPrompt", queued=1)
    sim.set_status(GEMMA, "generating", queued=3)
    sim.set_status(NOMIC, "computingEmbedding", queued=1)
    async with serve_manager(sim) as manager:
        instances = [await manager.ensure_loaded(key) for key in (QWEN, THINKING, GEMMA, NOMIC)]
        for key in (QWEN, GEMMA):
            await manager.prepare(key, kind="llm")
        await manager.prepare(NOMIC, kind="embedding")

    assert manager.source == "lms"
    assert [(i.identifier, i.status, i.queued) for i in instances] == [
        (QWEN, "idle", 0),
        (THINKING, "processingPrompt", 1),
        (GEMMA, "generating", 3),
        (NOMIC, "computingEmbedding", 1),
    ]
    assert [i.busy for i in instances] == [False, True, True, True]
    assert load_calls(sim) == []
    assert [c for c in sim.cli_calls if c[:1] == ["unload"]] == []
    assert len(sim.loaded) == 4


async def test_a_missing_status_from_an_old_cli_counts_as_loaded(
    serve_manager: ServeManager,
) -> None:
    sim = SimulatedLMStudio(loaded=[QWEN], routes_disabled=LMS_ONLY)
    sim.cli_config["omit_status"] = True
    async with serve_manager(sim) as manager:
        instance = await manager.ensure_loaded(QWEN)
        loaded = await manager.loaded()

    assert (instance.identifier, instance.status) == (QWEN, None)
    assert [(i.identifier, i.status) for i in loaded] == [(QWEN, None)]
    assert load_calls(sim) == []


async def test_lms_load_with_options(serve_manager: ServeManager) -> None:
    sim = SimulatedLMStudio()
    progress: list[float] = []
    async with serve_manager(sim) as manager:
        instance = await manager.ensure_loaded(
            QWEN, ttl=600, context_length=8192, identifier="mine", on_progress=progress.append
        )

    [call] = load_calls(sim)
    assert call[:3] == ["load", QWEN, "-y"]
    assert call[call.index("--ttl") + 1] == "600"
    assert call[call.index("-c") + 1] == "8192"
    assert call[call.index("--identifier") + 1] == "mine"
    assert (instance.identifier, instance.model_key, instance.context_length, instance.ttl) == (
        "mine",
        QWEN,
        8192,
        600,
    )
    assert progress == sorted(progress)
    assert progress[-1] == 1.0
    assert requests_to(sim, "POST", "/api/v1/models/load") == []  # lms is preferred


async def test_default_ttl_is_passed_to_lms(serve_manager: ServeManager) -> None:
    sim = SimulatedLMStudio()
    async with serve_manager(sim, default_ttl=900) as manager:
        await manager.ensure_loaded(GEMMA)

    [call] = load_calls(sim)
    assert call[call.index("--ttl") + 1] == "900"


async def test_concurrent_callers_start_one_lms_load(serve_manager: ServeManager) -> None:
    sim = SimulatedLMStudio()
    results: list[LoadedInstance] = []
    async with serve_manager(sim) as manager:

        async def call() -> None:
            results.append(await manager.ensure_loaded(QWEN))

        async with anyio.create_task_group() as tg:
            for _ in range(100):
                tg.start_soon(call)

    assert load_calls(sim) == [["load", QWEN, "-y"]]
    assert [i.identifier for i in sim.loaded] == [QWEN]
    assert len(results) == 100
    assert {r.identifier for r in results} == {QWEN}


async def test_two_models_load_in_parallel(serve_manager: ServeManager) -> None:
    sim = SimulatedLMStudio(load_delay=1.0)
    loaded_when_both_started: list[int] = []
    async with serve_manager(sim) as manager:

        async def watch() -> None:
            while len(load_calls(sim)) < 2:
                await anyio.sleep(0.01)
            loaded_when_both_started.append(len(sim.loaded))

        async with anyio.create_task_group() as tg:
            tg.start_soon(watch)
            tg.start_soon(manager.ensure_loaded, QWEN)
            tg.start_soon(manager.ensure_loaded, GEMMA)

    # The second lms load started before the first had loaded anything.
    assert loaded_when_both_started == [0]
    assert sorted(i.identifier for i in sim.loaded) == sorted([QWEN, GEMMA])


async def test_only_exact_keys_reach_lms(serve_manager: ServeManager) -> None:
    sim = SimulatedLMStudio()
    async with serve_manager(sim) as manager:
        await manager.ensure_loaded("qwen3-4b")
        with pytest.raises(ModelNotFoundError, match="ambiguous"):
            await manager.ensure_loaded("qwen3")
        with pytest.raises(ModelNotFoundError):
            await manager.ensure_loaded("llama-9000")

    # lms would have fuzzily picked "qwen3-4b-thinking-2507" or anything for these.
    assert load_calls(sim) == [["load", QWEN, "-y"]]
