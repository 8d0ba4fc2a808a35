"""ensure_loaded()/unload() without ``lms``: REST v1 load, JIT fallback, single-flight, unload checks."""

from __future__ import annotations

import anyio
import pytest

from lmbridge.errors import (
    InsufficientMemoryError,
    LmsNotFoundError,
    ModelError,
    ModelNotFoundError,
    ModelNotLoadedError,
)
from lmbridge.lifecycle.types import LoadedInstance
from lmbridge.testing import NotLoadedStyle, SimulatedLMStudio
from tests.lifecycle.models_support import MakeManager, requests_to

QWEN = "qwen/qwen3-4b"
GEMMA = "google/gemma-3-4b"
NOMIC = "text-embedding-nomic-embed-text-v1.5"
LOAD = "/api/v1/models/load"
UNLOAD = "/api/v1/models/unload"
CHAT = "/v1/chat/completions"


def loaded_ids(sim: SimulatedLMStudio) -> list[str]:
    return [inst.identifier for inst in sim.loaded]


# --- already loaded: nothing happens ------------------------------------------------------------


async def test_a_loaded_model_is_returned_without_loading(make_manager: MakeManager) -> None:
    sim = SimulatedLMStudio(loaded=[QWEN])
    manager = make_manager(sim)

    instance = await manager.ensure_loaded(QWEN)

    assert (instance.identifier, instance.model_key, instance.type) == (QWEN, QWEN, "llm")
    assert requests_to(sim, "POST", LOAD) == []
    assert loaded_ids(sim) == [QWEN]


async def test_the_instance_named_is_preferred(make_manager: MakeManager) -> None:
    sim = SimulatedLMStudio(loaded=[QWEN, QWEN])
    manager = make_manager(sim)

    assert (await manager.ensure_loaded(f"{QWEN}:2")).identifier == f"{QWEN}:2"
    assert (await manager.ensure_loaded(QWEN)).identifier == QWEN
    assert loaded_ids(sim) == [QWEN, f"{QWEN}:2"]


async def test_an_unloaded_instance_name_uses_a_loaded_instance(make_manager: MakeManager) -> None:
    sim = SimulatedLMStudio(loaded=[QWEN])
    manager = make_manager(sim)

    assert (await manager.ensure_loaded(f"{QWEN}:3")).identifier == QWEN
    assert requests_to(sim, "POST", LOAD) == []


# --- REST v1 load ---------------------------------------------------------------------------------


async def test_rest_load_when_lms_is_missing(make_manager: MakeManager) -> None:
    sim = SimulatedLMStudio()
    manager = make_manager(sim)
    progress: list[float] = []

    instance = await manager.ensure_loaded(QWEN, context_length=8192, on_progress=progress.append)

    assert requests_to(sim, "POST", LOAD) == [{"model": QWEN, "context_length": 8192}]
    assert (instance.identifier, instance.context_length) == (QWEN, 8192)
    assert [(i.identifier, i.via) for i in sim.loaded] == [(QWEN, "rest")]
    assert progress == [1.0]


async def test_partial_names_are_resolved_before_loading(make_manager: MakeManager) -> None:
    sim = SimulatedLMStudio()
    manager = make_manager(sim)

    await manager.ensure_loaded("gemma")

    assert requests_to(sim, "POST", LOAD) == [{"model": GEMMA}]


async def test_ambiguous_partial_name_loads_nothing(make_manager: MakeManager) -> None:
    sim = SimulatedLMStudio()
    manager = make_manager(sim)

    with pytest.raises(ModelNotFoundError, match="ambiguous"):
        await manager.ensure_loaded("qwen3")

    assert [r for r in sim.requests if r.method == "POST"] == []


async def test_concurrent_callers_share_one_load(make_manager: MakeManager) -> None:
    sim = SimulatedLMStudio(load_delay=0.05)
    manager = make_manager(sim)
    results: list[LoadedInstance] = []

    async def call() -> None:
        results.append(await manager.ensure_loaded(QWEN))

    async with anyio.create_task_group() as tg:
        for _ in range(100):
            tg.start_soon(call)

    assert len(requests_to(sim, "POST", LOAD)) == 1
    assert loaded_ids(sim) == [QWEN]
    assert {r.identifier for r in results} == {QWEN}
    assert len(results) == 100


async def test_concurrent_callers_share_the_failure(make_manager: MakeManager) -> None:
    sim = SimulatedLMStudio(load_delay=0.05, memory_limit_bytes=1_000)
    manager = make_manager(sim)
    failures: list[InsufficientMemoryError] = []

    async def call() -> None:
        try:
            await manager.ensure_loaded(QWEN)
        except InsufficientMemoryError as exc:
            failures.append(exc)

    async with anyio.create_task_group() as tg:
        for _ in range(10):
            tg.start_soon(call)

    assert len(failures) == 10
    assert failures[0].required_gb == 2.5
    assert len(requests_to(sim, "POST", LOAD)) == 1
    assert len({id(exc) for exc in failures}) == 1  # the one load's exception, shared


async def test_two_models_load_in_parallel(make_manager: MakeManager) -> None:
    sim = SimulatedLMStudio(load_delay=0.3)
    manager = make_manager(sim)
    loaded_when_both_started: list[int] = []

    async def watch() -> None:
        while len(requests_to(sim, "POST", LOAD)) < 2:
            await anyio.sleep(0.005)
        loaded_when_both_started.append(len(sim.loaded))

    async with anyio.create_task_group() as tg:
        tg.start_soon(watch)
        tg.start_soon(manager.ensure_loaded, QWEN)
        tg.start_soon(manager.ensure_loaded, GEMMA)

    # Both loads were under way before either had finished.
    assert loaded_when_both_started == [0]
    assert sorted(loaded_ids(sim)) == sorted([QWEN, GEMMA])


async def test_a_load_by_someone_else_meanwhile_is_reused(make_manager: MakeManager) -> None:
    sim = SimulatedLMStudio()
    manager = make_manager(sim, listing_ttl=60.0)
    assert (await manager.get(QWEN)).state == "not-loaded"  # cached: not loaded

    sim.load(QWEN)  # another process loads it
    instance = await manager.ensure_loaded(QWEN)

    assert instance.identifier == QWEN
    assert requests_to(sim, "POST", LOAD) == []
    assert loaded_ids(sim) == [QWEN]


async def test_rest_load_timeout_names_the_model(make_manager: MakeManager) -> None:
    sim = SimulatedLMStudio(load_delay=5.0)
    manager = make_manager(sim, load_timeout=0.2)

    with pytest.raises(ModelNotLoadedError, match="load_timeout") as caught:
        await manager.ensure_loaded(QWEN)

    assert caught.value.model == QWEN


async def test_a_waiter_takes_over_a_cancelled_rest_load_without_loading_again(
    make_manager: MakeManager,
) -> None:
    sim = SimulatedLMStudio(load_delay=0.3)
    manager = make_manager(sim)
    waiter_result: list[LoadedInstance] = []

    async def waiter() -> None:
        waiter_result.append(await manager.ensure_loaded(QWEN))

    async with anyio.create_task_group() as tg:
        leader = anyio.CancelScope()

        async def lead() -> None:
            with leader:
                await manager.ensure_loaded(QWEN)

        tg.start_soon(lead)
        while not requests_to(sim, "POST", LOAD):
            await anyio.sleep(0.005)
        tg.start_soon(waiter)
        await anyio.wait_all_tasks_blocked()  # the waiter waits for the leader's load
        leader.cancel()

    assert leader.cancelled_caught
    # The waiter did not fail with the leader's cancellation, and did not load a second
    # instance: LM Studio finished the abandoned load, and the waiter took that instance.
    assert [i.identifier for i in waiter_result] == [QWEN]
    assert len(requests_to(sim, "POST", LOAD)) == 1
    assert loaded_ids(sim) == [QWEN]


# --- options a method cannot apply -------------------------------------------------------------


async def test_lms_only_options_are_refused_without_lms(make_manager: MakeManager) -> None:
    sim = SimulatedLMStudio()
    manager = make_manager(sim)

    with pytest.raises(LmsNotFoundError, match="gpu") as caught:
        await manager.ensure_loaded(QWEN, gpu="max")
    with pytest.raises(LmsNotFoundError, match="identifier"):
        await manager.ensure_loaded(QWEN, identifier="mine")

    assert caught.value.model == QWEN
    assert sim.loaded == []
    assert [r for r in sim.requests if r.method == "POST"] == []


async def test_an_explicit_ttl_goes_through_jit(make_manager: MakeManager) -> None:
    """LM Studio's REST load takes no TTL; a JIT request carries one."""
    sim = SimulatedLMStudio()
    manager = make_manager(sim)

    await manager.ensure_loaded(QWEN, ttl=300)

    assert requests_to(sim, "POST", LOAD) == []
    assert [body["ttl"] for body in requests_to(sim, "POST", CHAT)] == [300]
    assert [(i.identifier, i.ttl) for i in sim.loaded] == [(QWEN, 300)]


# --- JIT fallback ------------------------------------------------------------------------------


async def test_jit_load_when_the_rest_api_is_missing(make_manager: MakeManager) -> None:
    sim = SimulatedLMStudio(routes_disabled={"/api/v1"})
    manager = make_manager(sim, default_ttl=120)

    instance = await manager.ensure_loaded(QWEN)

    [body] = requests_to(sim, "POST", CHAT)
    assert body["model"] == QWEN
    assert body["max_tokens"] == 1
    assert body["ttl"] == 120
    assert instance.identifier == QWEN
    assert [(i.identifier, i.via, i.ttl) for i in sim.loaded] == [(QWEN, "jit", 120)]


async def test_jit_load_of_an_embedding_model_embeds_one_input(make_manager: MakeManager) -> None:
    sim = SimulatedLMStudio(routes_disabled={"/api/v1"})
    manager = make_manager(sim)

    await manager.ensure_loaded(NOMIC)

    [body] = requests_to(sim, "POST", "/v1/embeddings")
    assert body["model"] == NOMIC
    assert len(body["input"]) == 1
    assert requests_to(sim, "POST", CHAT) == []
    assert loaded_ids(sim) == [NOMIC]


async def test_jit_load_when_the_load_route_is_missing(make_manager: MakeManager) -> None:
    sim = SimulatedLMStudio(routes_disabled={LOAD})
    manager = make_manager(sim)

    await manager.ensure_loaded(GEMMA)

    assert len(requests_to(sim, "POST", LOAD)) == 1  # tried, 404
    assert len(requests_to(sim, "POST", CHAT)) == 1
    assert loaded_ids(sim) == [GEMMA]


async def test_jit_with_only_openai_routes_trusts_the_answer(make_manager: MakeManager) -> None:
    sim = SimulatedLMStudio(routes_disabled={"/api/v1", "/api/v0"})
    manager = make_manager(sim)

    instance = await manager.ensure_loaded(QWEN)

    assert (instance.identifier, instance.status) == (QWEN, None)
    assert loaded_ids(sim) == [QWEN]


async def test_jit_off_raises_not_loaded_with_a_hint(make_manager: MakeManager) -> None:
    sim = SimulatedLMStudio(jit=False, routes_disabled={LOAD})
    manager = make_manager(sim)

    with pytest.raises(ModelNotLoadedError) as caught:
        await manager.ensure_loaded(QWEN)

    assert caught.value.model == QWEN
    assert caught.value.lms_found is False
    assert caught.value.hint is not None
    assert "lms" in caught.value.hint
    assert "JIT" in caught.value.hint
    assert sim.loaded == []


@pytest.mark.parametrize("style", ["object", "string", "plain_text"])
async def test_jit_off_on_an_old_server_raises_not_loaded(
    make_manager: MakeManager, style: NotLoadedStyle
) -> None:
    sim = SimulatedLMStudio(
        jit=False,
        routes_disabled={"/api/v1"},
        loaded=[GEMMA],
        not_loaded_error=style,
    )
    manager = make_manager(sim)

    with pytest.raises(ModelNotLoadedError) as caught:
        await manager.ensure_loaded(QWEN)

    assert caught.value.hint is not None
    assert "lms" in caught.value.hint
    assert "JIT" in caught.value.hint


# --- unload ------------------------------------------------------------------------------------


async def test_unload_over_rest(make_manager: MakeManager) -> None:
    sim = SimulatedLMStudio(loaded=[QWEN, GEMMA])
    manager = make_manager(sim)

    assert await manager.unload(QWEN) == [QWEN]

    assert requests_to(sim, "POST", UNLOAD) == [{"instance_id": QWEN}]
    assert loaded_ids(sim) == [GEMMA]


async def test_unload_of_a_model_not_loaded_raises(make_manager: MakeManager) -> None:
    sim = SimulatedLMStudio(loaded=[GEMMA])
    manager = make_manager(sim)

    with pytest.raises(ModelNotLoadedError) as caught:
        await manager.unload(QWEN)

    assert caught.value.loaded == [GEMMA]
    assert requests_to(sim, "POST", UNLOAD) == []


async def test_unload_of_an_unknown_model_raises_not_found(make_manager: MakeManager) -> None:
    manager = make_manager(SimulatedLMStudio())

    with pytest.raises(ModelNotFoundError):
        await manager.unload("qwen/qwen9")


async def test_unload_with_several_instances(make_manager: MakeManager) -> None:
    sim = SimulatedLMStudio(loaded=[QWEN, QWEN, QWEN])
    manager = make_manager(sim)

    assert await manager.unload(f"{QWEN}:2") == [f"{QWEN}:2"]
    assert loaded_ids(sim) == [QWEN, f"{QWEN}:3"]
    assert await manager.unload(QWEN, all_instances=True) == [QWEN, f"{QWEN}:3"]
    assert sim.loaded == []


async def test_unload_by_model_name_with_only_suffixed_instances(
    make_manager: MakeManager,
) -> None:
    sim = SimulatedLMStudio(loaded=[QWEN, QWEN])
    sim.unload(QWEN)
    manager = make_manager(sim)

    assert await manager.unload("qwen3-4b") == [f"{QWEN}:2"]


async def test_unload_of_an_ambiguous_model_name_asks_which(make_manager: MakeManager) -> None:
    sim = SimulatedLMStudio(loaded=[QWEN, QWEN])
    sim.unload(QWEN)
    sim.load(QWEN, identifier="other")
    manager = make_manager(sim)

    with pytest.raises(ModelError, match="which one") as caught:
        await manager.unload("qwen3-4b")

    assert caught.value.hint is not None
    assert "all_instances" in caught.value.hint
    assert len(sim.loaded) == 2


async def test_unload_needs_lms_or_rest_v1(make_manager: MakeManager) -> None:
    sim = SimulatedLMStudio(loaded=[QWEN], routes_disabled={"/api/v1"})
    manager = make_manager(sim)

    with pytest.raises(LmsNotFoundError):
        await manager.unload(QWEN)
    assert loaded_ids(sim) == [QWEN]
