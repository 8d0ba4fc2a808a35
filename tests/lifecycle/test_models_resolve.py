"""ModelManager.get(): keys, instance ids, variants, unique partial names, ambiguity, typos."""

from __future__ import annotations

import pytest

from lmbridge.errors import ModelNotFoundError, ModelNotLoadedError
from lmbridge.lifecycle.resolve import resolve
from lmbridge.lifecycle.types import LoadedInstance, ModelInfo
from lmbridge.testing import SimulatedLMStudio
from tests.lifecycle.models_support import MakeManager

QWEN = "qwen/qwen3-4b"
QWEN_THINKING = "qwen/qwen3-4b-thinking-2507"
GEMMA = "google/gemma-3-4b"
NOMIC = "text-embedding-nomic-embed-text-v1.5"


@pytest.mark.parametrize(
    ("name", "key"),
    [
        (QWEN, QWEN),
        ("Qwen/Qwen3-4B", QWEN),  # case
        (f"{QWEN}:2", QWEN),  # an instance identifier
        (f"{GEMMA}:7", GEMMA),  # an instance suffix, instance not loaded
        (f"{NOMIC}@q4_k_m", NOMIC),  # a variant suffix, as embedding responses name it
        ("qwen3-4b", QWEN),  # exactly the part after the publisher (also inside the other key)
        ("gemma", GEMMA),  # a part of exactly one key
        ("  nomic  ", NOMIC),
    ],
)
async def test_get_accepts(make_manager: MakeManager, name: str, key: str) -> None:
    sim = SimulatedLMStudio(loaded=[QWEN, QWEN])
    manager = make_manager(sim)

    assert (await manager.get(name)).key == key


async def test_ambiguous_partial_name_lists_the_candidates(make_manager: MakeManager) -> None:
    manager = make_manager(SimulatedLMStudio())

    with pytest.raises(ModelNotFoundError, match="ambiguous") as caught:
        await manager.get("qwen3")

    assert set(caught.value.suggestions) == {QWEN, QWEN_THINKING}
    assert caught.value.model == "qwen3"


async def test_typo_suggests_the_closest_keys(make_manager: MakeManager) -> None:
    sim = SimulatedLMStudio()
    manager = make_manager(sim)

    with pytest.raises(ModelNotFoundError) as caught:
        await manager.get("qwen/qwen3-4bb")

    assert caught.value.suggestions[0] == QWEN
    assert set(caught.value.available) == set(sim.models)
    assert caught.value.hint is not None
    assert QWEN in caught.value.hint


async def test_unrelated_name_has_no_suggestions(make_manager: MakeManager) -> None:
    manager = make_manager(SimulatedLMStudio())

    with pytest.raises(ModelNotFoundError) as caught:
        await manager.get("zzzzzz")

    assert caught.value.suggestions == []


async def test_name_missing_from_a_loaded_only_list_may_be_not_loaded(
    make_manager: MakeManager,
) -> None:
    """/v1/models with JIT off lists loaded models only: an absent name may be downloaded."""
    sim = SimulatedLMStudio(loaded=[GEMMA], jit=False, routes_disabled={"/api/v1", "/api/v0"})
    manager = make_manager(sim)

    with pytest.raises(ModelNotLoadedError) as caught:
        await manager.get("qwen/qwen3-4b")

    assert caught.value.hint is not None
    assert "lms" in caught.value.hint
    assert caught.value.lms_found is False


def _model(key: str, *instances: str) -> ModelInfo:
    return ModelInfo(
        key=key,
        state="loaded" if instances else "not-loaded",
        instances=[LoadedInstance(identifier=i, model_key=key) for i in instances],
    )


def test_resolve_prefers_an_exact_key_over_partial_matches() -> None:
    models = [_model("a/llama"), _model("b/llama-3"), _model("llama")]

    assert resolve("llama", models).model.key == "llama"


def test_resolve_names_the_instance_it_was_asked_for() -> None:
    models = [_model("a/m", "a/m", "a/m:2"), _model("custom-key", "my-id")]

    assert resolve("a/m:2", models).identifier == "a/m:2"
    assert resolve("a/m", models).identifier is None
    found = resolve("my-id", models)
    assert (found.model.key, found.identifier) == ("custom-key", "my-id")


def test_resolve_same_name_from_two_publishers_is_ambiguous() -> None:
    models = [_model("lmstudio-community/qwen3-4b"), _model("qwen/qwen3-4b")]

    with pytest.raises(ModelNotFoundError, match="ambiguous"):
        resolve("qwen3-4b", models)


async def test_a_key_without_publisher_is_suggested_once(make_manager: MakeManager) -> None:
    from lmbridge.testing import SimModel

    sim = SimulatedLMStudio(models=[SimModel(key="gemma-3-270m"), SimModel(key="qwen/qwen3-4b")])
    manager = make_manager(sim)
    with pytest.raises(ModelNotFoundError) as caught:
        await manager.get("gemma-3-207m")
    assert caught.value.suggestions == ["gemma-3-270m"]
