"""prepare()/heal()/diagnose()/forget(): what the Bridge calls around every request."""

from __future__ import annotations

import pytest

from lmbridge.errors import (
    ModelNotFoundError,
    ModelNotLoadedError,
    NotFoundError,
    WrongModelTypeError,
)
from lmbridge.lifecycle.models import RequestKind
from lmbridge.testing import SimulatedLMStudio
from tests.lifecycle.models_support import MakeManager, requests_to

QWEN = "qwen/qwen3-4b"
GEMMA = "google/gemma-3-4b"
NOMIC = "text-embedding-nomic-embed-text-v1.5"
LOAD = "/api/v1/models/load"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def evicted(model: str) -> ModelNotLoadedError:
    return ModelNotLoadedError("No models loaded.", model=model, status_code=400)


# --- prepare -------------------------------------------------------------------------------------


async def test_prepare_fast_path_does_not_list_again(make_manager: MakeManager) -> None:
    clock = FakeClock()
    sim = SimulatedLMStudio(loaded=[QWEN])
    manager = make_manager(sim, clock=clock, listing_ttl=0.0, confirm_ttl=10.0)

    await manager.prepare(QWEN, kind="llm")
    seen = len(sim.requests)
    for _ in range(50):
        await manager.prepare(QWEN, kind="llm")
    assert len(sim.requests) == seen

    clock.now += 11  # the confirmation expired: check again
    await manager.prepare(QWEN, kind="llm")
    assert len(sim.requests) == seen + 1


async def test_forget_drops_a_confirmation(make_manager: MakeManager) -> None:
    sim = SimulatedLMStudio(loaded=[QWEN])
    manager = make_manager(sim, listing_ttl=0.0)
    await manager.prepare(QWEN, kind="llm")
    seen = len(sim.requests)

    manager.forget(QWEN)
    await manager.prepare(QWEN, kind="llm")

    assert len(sim.requests) == seen + 1


async def test_prepare_loads_a_downloaded_model(make_manager: MakeManager) -> None:
    sim = SimulatedLMStudio()
    manager = make_manager(sim)

    assert await manager.prepare("gemma", kind="llm") == GEMMA
    assert await manager.prepare("gemma", kind="llm") == GEMMA  # confirmed

    assert requests_to(sim, "POST", LOAD) == [{"model": GEMMA}]


async def test_prepare_names_the_instance_to_send(make_manager: MakeManager) -> None:
    sim = SimulatedLMStudio(loaded=[QWEN, QWEN])
    manager = make_manager(sim)

    assert await manager.prepare(f"{QWEN}:2", kind="llm") == f"{QWEN}:2"
    assert await manager.prepare("qwen3-4b", kind="llm") == QWEN
    assert await manager.prepare(f"{NOMIC}@q4_k_m", kind="embedding") == NOMIC


async def test_prepare_without_auto_load_never_loads(make_manager: MakeManager) -> None:
    sim = SimulatedLMStudio()
    manager = make_manager(sim, auto_load=False)

    with pytest.raises(ModelNotLoadedError) as caught:
        await manager.prepare(QWEN, kind="llm")

    assert caught.value.hint is not None
    assert f"lms load {QWEN}" in caught.value.hint
    assert [r.path for r in sim.requests if r.method == "POST"] == []
    assert sim.loaded == []


async def test_prepare_without_auto_load_passes_loaded_models(make_manager: MakeManager) -> None:
    sim = SimulatedLMStudio(loaded=[QWEN])
    manager = make_manager(sim, auto_load=False)

    await manager.prepare(QWEN, kind="llm")


async def test_prepare_unknown_name_suggests_and_loads_nothing(make_manager: MakeManager) -> None:
    sim = SimulatedLMStudio()
    manager = make_manager(sim)

    with pytest.raises(ModelNotFoundError) as caught:
        await manager.prepare("google/gemma-3-4c", kind="llm")

    assert caught.value.suggestions[0] == GEMMA
    assert [r.path for r in sim.requests if r.method == "POST"] == []


@pytest.mark.parametrize(
    ("model", "kind", "says"),
    [(NOMIC, "llm", "embedding model"), (QWEN, "embedding", "cannot compute embeddings")],
)
async def test_prepare_refuses_the_wrong_model_type(
    make_manager: MakeManager, model: str, kind: RequestKind, says: str
) -> None:
    sim = SimulatedLMStudio()
    manager = make_manager(sim)

    with pytest.raises(WrongModelTypeError, match=says):
        await manager.prepare(model, kind=kind)

    assert sim.loaded == []


async def test_prepare_accepts_a_vlm_for_chat(make_manager: MakeManager) -> None:
    sim = SimulatedLMStudio(loaded=[GEMMA])
    manager = make_manager(sim)

    await manager.prepare(GEMMA, kind="llm")


async def test_prepare_with_an_openai_only_server_does_nothing(make_manager: MakeManager) -> None:
    """llama.cpp and friends answer any name: no state to check, so let the server answer."""
    sim = SimulatedLMStudio(routes_disabled={"/api/v1", "/api/v0"})
    manager = make_manager(sim)

    assert await manager.prepare(QWEN, kind="llm") == QWEN
    seen = len(sim.requests)
    assert await manager.prepare("anything-at-all", kind="llm") == "anything-at-all"
    await manager.prepare(NOMIC, kind="llm")

    assert len(sim.requests) == seen
    assert sim.loaded == []


# --- heal ---------------------------------------------------------------------------------------


async def test_heal_reloads_an_evicted_model(make_manager: MakeManager) -> None:
    sim = SimulatedLMStudio(loaded=[QWEN])
    manager = make_manager(sim, listing_ttl=60.0)
    await manager.prepare(QWEN, kind="llm")

    sim.evict(QWEN)
    assert await manager.heal(QWEN, evicted(QWEN), kind="llm") == QWEN

    assert [i.identifier for i in sim.loaded] == [QWEN]
    assert requests_to(sim, "POST", LOAD) == [{"model": QWEN}]


async def test_heal_of_a_model_loaded_again_meanwhile_loads_nothing(
    make_manager: MakeManager,
) -> None:
    sim = SimulatedLMStudio(loaded=[QWEN])
    manager = make_manager(sim)

    await manager.heal(QWEN, evicted(QWEN), kind="llm")

    assert requests_to(sim, "POST", LOAD) == []


async def test_heal_of_a_typo_raises_not_found_with_suggestions(make_manager: MakeManager) -> None:
    sim = SimulatedLMStudio()
    manager = make_manager(sim)
    error = ModelNotFoundError('Invalid model identifier "qwen/qwen3-4bx"', status_code=400)

    with pytest.raises(ModelNotFoundError) as caught:
        await manager.heal("qwen/qwen3-4bx", error, kind="llm")

    assert caught.value.suggestions[0] == QWEN
    assert caught.value.__cause__ is error
    assert sim.loaded == []


async def test_heal_without_auto_load_raises_not_loaded(make_manager: MakeManager) -> None:
    sim = SimulatedLMStudio()
    manager = make_manager(sim, auto_load=False)
    error = evicted(QWEN)

    with pytest.raises(ModelNotLoadedError) as caught:
        await manager.heal(QWEN, error, kind="llm")

    assert caught.value.__cause__ is error
    assert sim.loaded == []


async def test_heal_checks_the_model_type(make_manager: MakeManager) -> None:
    manager = make_manager(SimulatedLMStudio())

    with pytest.raises(WrongModelTypeError, match="embedding model"):
        await manager.heal(NOMIC, evicted(NOMIC), kind="llm")


async def test_heal_drops_the_cached_listing(make_manager: MakeManager) -> None:
    sim = SimulatedLMStudio(loaded=[QWEN])
    manager = make_manager(sim, listing_ttl=600.0)
    await manager.list()  # cached: loaded
    sim.evict(QWEN)

    await manager.heal(QWEN, evicted(QWEN), kind="llm")

    assert len(requests_to(sim, "POST", LOAD)) == 1


# --- diagnose ------------------------------------------------------------------------------------


async def test_diagnose_says_what_is_loaded_and_what_to_try(make_manager: MakeManager) -> None:
    sim = SimulatedLMStudio(loaded=[GEMMA])
    manager = make_manager(sim)
    error = ModelNotLoadedError(
        "No models loaded.", model=QWEN, status_code=400, url="http://x/v1/chat/completions"
    )

    diagnosis = await manager.diagnose(QWEN, error)

    assert isinstance(diagnosis, ModelNotLoadedError)
    assert diagnosis.loaded == [GEMMA]
    assert diagnosis.lms_found is False
    assert diagnosis.model == QWEN
    assert diagnosis.status_code == 400
    assert "No models loaded." in diagnosis.message
    assert diagnosis.hint is not None
    assert GEMMA in diagnosis.hint
    assert "lms" in diagnosis.hint


async def test_diagnose_never_raises(make_manager: MakeManager) -> None:
    sim = SimulatedLMStudio(routes_disabled={"/api/v1", "/api/v0", "/v1/models"})
    manager = make_manager(sim)

    diagnosis = await manager.diagnose(QWEN, NotFoundError("gone", status_code=404))

    assert diagnosis.loaded is None  # could not be found out
    assert diagnosis.hint is not None
