"""ensure_loaded()/unload() through the simulated ``lms`` when things go wrong: out of memory, a
hanging ``lms``, cancellation (no process left behind), unloading what is not loaded."""

from __future__ import annotations

import anyio
import pytest

from lmbridge.errors import InsufficientMemoryError, LmsTimeoutError, ModelNotLoadedError
from lmbridge.testing import SimulatedLMStudio
from tests.lifecycle.models_support import ServeManager, child_processes, load_calls

QWEN = "qwen/qwen3-4b"
GEMMA = "google/gemma-3-4b"
GPT_OSS = "openai/gpt-oss-20b"


async def test_out_of_memory_says_how_much(serve_manager: ServeManager) -> None:
    sim = SimulatedLMStudio()
    sim.cli_config["oom_gb"] = 117.19
    async with serve_manager(sim) as manager:
        with pytest.raises(InsufficientMemoryError) as caught:
            await manager.ensure_loaded(GPT_OSS)

    assert caught.value.required_gb == 117.19
    assert caught.value.model == GPT_OSS
    assert sim.loaded == []


async def test_a_hanging_lms_is_killed_at_load_timeout(serve_manager: ServeManager) -> None:
    sim = SimulatedLMStudio()
    sim.cli_config["hang"] = "load"
    async with serve_manager(sim, load_timeout=1.0) as manager:
        with pytest.raises(LmsTimeoutError) as caught:
            await manager.ensure_loaded(QWEN)

    assert caught.value.model == QWEN
    assert load_calls(sim) == [["load", QWEN, "-y"]]
    assert child_processes() == []


async def test_cancelling_a_load_reaps_lms(serve_manager: ServeManager) -> None:
    sim = SimulatedLMStudio()
    sim.cli_config["hang"] = "load"
    async with serve_manager(sim) as manager:
        with anyio.CancelScope() as scope:
            async with anyio.create_task_group() as tg:
                tg.start_soon(manager.ensure_loaded, QWEN)
                while not load_calls(sim):
                    await anyio.sleep(0.01)
                assert child_processes() != []  # lms is running
                scope.cancel()

    assert scope.cancelled_caught
    assert child_processes() == []
    assert sim.loaded == []


async def test_unload_through_lms_is_verified(serve_manager: ServeManager) -> None:
    sim = SimulatedLMStudio(loaded=[QWEN, QWEN, GEMMA])
    async with serve_manager(sim) as manager:
        assert await manager.unload(f"{QWEN}:2") == [f"{QWEN}:2"]
        assert await manager.unload("gemma") == [GEMMA]
        with pytest.raises(ModelNotLoadedError) as caught:
            await manager.unload(GEMMA)

    assert ["unload", f"{QWEN}:2"] in sim.cli_calls
    assert ["unload", GEMMA] in sim.cli_calls
    assert caught.value.loaded == [QWEN]
    assert [i.identifier for i in sim.loaded] == [QWEN]


async def test_unload_of_a_model_never_loaded_raises_before_lms_runs(
    serve_manager: ServeManager,
) -> None:
    sim = SimulatedLMStudio()
    async with serve_manager(sim) as manager:
        with pytest.raises(ModelNotLoadedError):
            await manager.unload(QWEN)

    assert [c for c in sim.cli_calls if c[:1] == ["unload"]] == []
