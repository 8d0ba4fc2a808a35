"""A model that cannot fit (#13): it fails with the server's figure, and this Bridge's models are
not unloaded for it, whenever lmbridge can know so up front: from the machine's total memory that
``lms`` reports, or from a failure it saw before with nothing of its own left to unload."""

from __future__ import annotations

from pathlib import Path

import pytest

from lmbridge import Bridge, InsufficientMemoryError
from lmbridge.testing import SimulatedLMStudio
from tests.lifecycle.test_swap_scheduler import (
    A14,
    B12,
    BUDGET,
    C8,
    GB,
    answering,
    bridge_over,
    catalogue,
    rest_unloads,
)

HUGE = "acme/huge"  # 30 GB on a 19 GB machine
BIG = "acme/big"  # 12 GB: fits alone, not beside the 10 GB A14
SURVEY = ["runtime", "survey", "--json"]


def lms_unloads(sim: SimulatedLMStudio) -> list[str]:
    return [argv[1] for argv in sim.cli_calls if argv[:1] == ["unload"]]


def loaded_keys(sim: SimulatedLMStudio) -> list[str]:
    return sorted(inst.key for inst in sim.loaded)


def assert_says_why(error: InsufficientMemoryError, bridge: Bridge, model: str) -> None:
    assert error.model == model
    assert error.url is not None and error.url.rstrip("/") == bridge.base_url.rstrip("/")
    assert "smaller quantization" in (error.hint or "")


async def test_with_lms_a_model_bigger_than_the_machine_unloads_nothing(tmp_path: Path) -> None:
    sim = SimulatedLMStudio(models=catalogue(huge=30 * GB), memory_limit_bytes=BUDGET, jit=False)
    answering(sim, A14, C8)
    async with bridge_over(sim, tmp_path, "lms") as bridge:
        await bridge.chat(A14, "warm")
        await bridge.chat(C8, "warm")
        with pytest.raises(InsufficientMemoryError) as raised:
            await bridge.chat(HUGE, "hi")
        assert_says_why(raised.value, bridge, HUGE)
    assert raised.value.required_gb == 30.0  # the server's figure
    assert "19.00 GB of memory LM Studio reports" in str(raised.value)
    assert lms_unloads(sim) == []  # A14 and C8 kept their place
    assert loaded_keys(sim) == [A14, C8]
    assert SURVEY in sim.cli_calls


async def test_without_a_figure_in_the_error_the_lms_estimate_gives_it(tmp_path: Path) -> None:
    sim = SimulatedLMStudio(models=catalogue(huge=30 * GB), memory_limit_bytes=BUDGET, jit=False)
    answering(sim, A14)
    async with bridge_over(sim, tmp_path, "lms") as bridge:
        await bridge.chat(A14, "warm")
        # LM Studio 0.4.4's wording carries no figure.
        sim.cli_config = {
            "load_error": "Not enough resources to load the model with the current settings"
        }
        with pytest.raises(InsufficientMemoryError) as raised:
            await bridge.chat(HUGE, "hi")
        assert_says_why(raised.value, bridge, HUGE)
    assert raised.value.required_gb == 30.0  # from `lms load --estimate-only`
    assert "lms load --estimate-only" in str(raised.value)
    assert ["load", HUGE, "-y", "--estimate-only"] in sim.cli_calls
    assert lms_unloads(sim) == []
    assert loaded_keys(sim) == [A14]


async def test_with_lms_a_model_that_fits_alone_still_swaps(tmp_path: Path) -> None:
    sim = SimulatedLMStudio(models=catalogue(), memory_limit_bytes=BUDGET, jit=False)
    answering(sim, A14, B12, C8)
    async with bridge_over(sim, tmp_path, "lms") as bridge:
        for model in (A14, B12, C8):
            assert (await bridge.chat(model, "hi")).text == f"from {model}"
    assert lms_unloads(sim) == [A14]  # 5 GB needed of 19 GB: unloading helps, so it swaps


async def test_without_lms_a_model_that_failed_alone_fails_at_once_the_next_time(
    tmp_path: Path,
) -> None:
    sim = SimulatedLMStudio(models=catalogue(huge=30 * GB), memory_limit_bytes=BUDGET, jit=False)
    answering(sim, A14)
    async with bridge_over(sim, tmp_path, "rest") as bridge:
        await bridge.chat(A14, "warm")
        # Nothing says how much memory the machine has: the first try unloads A14 and fails.
        with pytest.raises(InsufficientMemoryError):
            await bridge.chat(HUGE, "hi")
        assert rest_unloads(sim) == [A14]
        await bridge.chat(A14, "back")
        loads = len([r for r in sim.requests if r.path == "/api/v1/models/load"])
        with pytest.raises(InsufficientMemoryError) as raised:
            await bridge.chat(HUGE, "again")
        assert_says_why(raised.value, bridge, HUGE)
        # Now it is known: nothing unloaded, no load even tried.
        assert rest_unloads(sim) == [A14]
        assert len([r for r in sim.requests if r.path == "/api/v1/models/load"]) == loads
        assert loaded_keys(sim) == [A14]
        bridge.models.invalidate()  # e.g. memory was freed outside LM Studio: try it again
        with pytest.raises(InsufficientMemoryError):
            await bridge.chat(HUGE, "after invalidate")
        assert rest_unloads(sim) == [A14, A14]
    assert raised.value.required_gb == 30.0
    assert "even alone" in str(raised.value)


async def test_a_model_that_did_not_fit_beside_a_foreign_one_is_tried_again_once_it_is_gone(
    tmp_path: Path,
) -> None:
    sim = SimulatedLMStudio(
        models=catalogue(big=12 * GB), memory_limit_bytes=BUDGET, jit=False, loaded=[A14]
    )
    answering(sim, B12, BIG)
    async with bridge_over(sim, tmp_path, "rest") as bridge:
        await bridge.chat(B12, "warm")
        with pytest.raises(InsufficientMemoryError):
            await bridge.chat(BIG, "hi")  # B12 unloaded, and still no room beside A14
        await bridge.chat(B12, "back")
        with pytest.raises(InsufficientMemoryError) as raised:
            await bridge.chat(BIG, "again")
        assert rest_unloads(sim) == [B12]  # known now: B12 stays
        assert f"beside {A14}" in str(raised.value)
        assert "evict_foreign=True" in (raised.value.hint or "")

        sim.unload(A14)  # the user's model goes: BIG may fit now, so it is tried again
        assert (await bridge.chat(BIG, "now")).text == f"from {BIG}"
    assert rest_unloads(sim) == [B12, B12]


async def test_a_smaller_context_length_is_tried_afresh(tmp_path: Path) -> None:
    sim = SimulatedLMStudio(models=catalogue(huge=30 * GB), memory_limit_bytes=BUDGET, jit=False)
    async with bridge_over(sim, tmp_path, "rest") as bridge:
        with pytest.raises(InsufficientMemoryError):
            await bridge.models.ensure_loaded(HUGE)
        loads = len([r for r in sim.requests if r.path == "/api/v1/models/load"])
        with pytest.raises(InsufficientMemoryError):
            await bridge.models.ensure_loaded(HUGE, context_length=2048)
    # Other settings need other memory: that load was sent (and failed on the server).
    assert len([r for r in sim.requests if r.path == "/api/v1/models/load"]) == loads + 1
