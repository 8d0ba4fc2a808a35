"""The full load config: each option reaches the method that applies it, or is an error naming
that method; never dropped (#10)."""

from __future__ import annotations

import pytest

from lmbridge import LmsArgumentError, LmsNotFoundError
from lmbridge.testing import SimulatedLMStudio
from tests.lifecycle.models_support import MakeManager, ServeManager, load_calls, requests_to

QWEN = "qwen/qwen3-4b"
OSS = "openai/gpt-oss-20b"
LOAD = "/api/v1/models/load"


async def test_rest_settings_are_sent_as_is_and_reported_back(make_manager: MakeManager) -> None:
    sim = SimulatedLMStudio()
    manager = make_manager(sim)

    instance = await manager.ensure_loaded(
        OSS,
        flash_attention=False,
        eval_batch_size=256,
        num_experts=2,
        offload_kv_cache_to_gpu=False,
        context_length=8192,
    )

    assert requests_to(sim, "POST", LOAD) == [
        {
            "model": OSS,
            "context_length": 8192,
            "eval_batch_size": 256,
            "flash_attention": False,
            "num_experts": 2,
            "offload_kv_cache_to_gpu": False,
        }
    ]
    assert instance.load_config is not None
    assert instance.load_config["flash_attention"] is False
    assert instance.load_config["eval_batch_size"] == 256
    assert instance.load_config["num_experts"] == 2


async def test_parallel_goes_to_lms(serve_manager: ServeManager) -> None:
    sim = SimulatedLMStudio()
    async with serve_manager(sim) as manager:
        instance = await manager.ensure_loaded(QWEN, parallel=2)
    assert load_calls(sim)[-1][-2:] == ["--parallel", "2"]
    assert instance.load_config == {"context_length": 4096, "parallel": 2}


async def test_rest_settings_skip_lms_for_the_rest_load(serve_manager: ServeManager) -> None:
    sim = SimulatedLMStudio()
    async with serve_manager(sim) as manager:
        await manager.ensure_loaded(QWEN, flash_attention=True)
    assert load_calls(sim) == []
    assert requests_to(sim, "POST", LOAD) == [{"model": QWEN, "flash_attention": True}]


async def test_parallel_without_lms_names_lms(make_manager: MakeManager) -> None:
    sim = SimulatedLMStudio()
    with pytest.raises(LmsNotFoundError, match="parallel needs `lms load`"):
        await make_manager(sim).ensure_loaded(QWEN, parallel=2)
    assert sim.loaded == []


async def test_rest_settings_without_the_rest_load_name_it(make_manager: MakeManager) -> None:
    sim = SimulatedLMStudio(routes_disabled={"/api/v1"})
    with pytest.raises(LmsArgumentError, match=r"flash_attention needs LM Studio's REST load"):
        await make_manager(sim).ensure_loaded(QWEN, flash_attention=True)
    assert sim.loaded == []


async def test_options_no_one_method_applies_are_refused(serve_manager: ServeManager) -> None:
    sim = SimulatedLMStudio()
    async with serve_manager(sim) as manager:
        with pytest.raises(LmsArgumentError, match="No one load method applies all"):
            await manager.ensure_loaded(QWEN, parallel=2, flash_attention=True)
    assert sim.loaded == []


@pytest.mark.parametrize(
    "options",
    [{"eval_batch_size": 0}, {"num_experts": -1}, {"parallel": 1.5}, {"flash_attention": "yes"}],
)
async def test_bad_values_are_refused_before_anything_is_sent(
    make_manager: MakeManager, options: dict[str, object]
) -> None:
    sim = SimulatedLMStudio()
    with pytest.raises(LmsArgumentError):
        await make_manager(sim).ensure_loaded(QWEN, **options)  # type: ignore[arg-type]
    assert requests_to(sim, "POST", LOAD) == []
