"""on_progress without ``lms``: what LM Studio's REST API and JIT can honestly report.

LM Studio's ``POST /api/v1/models/load`` answers once, when the load is done, and documents no
progress events; those come from the native ``POST /api/v1/chat`` with ``stream: true``
(``model_load.progress``). So with ``on_progress`` and no load settings the model is loaded through
a 1-token native chat, with real steps; otherwise the REST load and JIT report ``1.0`` on success
and nothing else: no invented intermediate steps, no undocumented request fields, and no progress
for a load that failed.
"""

from __future__ import annotations

import anyio
import pytest

from lmbridge.errors import InsufficientMemoryError, ModelNotLoadedError
from lmbridge.testing import SimulatedLMStudio
from tests.lifecycle.models_support import MakeManager, requests_to

QWEN = "qwen/qwen3-4b"
LOAD = "/api/v1/models/load"
CHAT = "/v1/chat/completions"
NATIVE_CHAT = "/api/v1/chat"


async def test_progress_without_lms_comes_from_the_native_chat(make_manager: MakeManager) -> None:
    sim = SimulatedLMStudio(load_delay=0.2)
    manager = make_manager(sim)
    progress: list[float] = []

    instance = await manager.ensure_loaded(QWEN, on_progress=progress.append)

    assert instance.identifier == QWEN
    assert progress == [0.25, 0.5, 0.75, 1.0]  # model_load.progress events, then the end
    assert requests_to(sim, "POST", LOAD) == []
    sent = requests_to(sim, "POST", NATIVE_CHAT)
    # Documented fields only (1_developer/2_rest/chat.md), and a 1-token answer at most.
    assert sent == [
        {"model": QWEN, "input": "Hi", "max_output_tokens": 1, "stream": True, "store": False}
    ]


async def test_a_rest_load_without_progress_sends_only_documented_fields(
    make_manager: MakeManager,
) -> None:
    sim = SimulatedLMStudio()
    manager = make_manager(sim)

    await manager.ensure_loaded(QWEN)

    assert requests_to(sim, "POST", LOAD) == [{"model": QWEN}]
    assert requests_to(sim, "POST", NATIVE_CHAT) == []


async def test_progress_with_load_settings_uses_the_rest_load_and_reports_the_end(
    make_manager: MakeManager,
) -> None:
    sim = SimulatedLMStudio(load_delay=0.05)
    manager = make_manager(sim)
    progress: list[float] = []

    await manager.ensure_loaded(QWEN, context_length=8192, on_progress=progress.append)

    assert requests_to(sim, "POST", LOAD) == [{"model": QWEN, "context_length": 8192}]
    assert progress == [1.0]  # the REST load answers once, when it is done


async def test_an_async_progress_callback_is_awaited_during_a_rest_load(
    make_manager: MakeManager,
) -> None:
    sim = SimulatedLMStudio()
    manager = make_manager(sim)
    progress: list[float] = []

    async def record(fraction: float) -> None:
        await anyio.sleep(0)
        progress.append(fraction)

    await manager.ensure_loaded(QWEN, on_progress=record)

    assert progress == [0.25, 0.5, 0.75, 1.0]


async def test_a_failed_rest_load_never_reports_the_end(make_manager: MakeManager) -> None:
    sim = SimulatedLMStudio(memory_limit_bytes=1_000)
    manager = make_manager(sim)
    progress: list[float] = []

    with pytest.raises(InsufficientMemoryError):
        await manager.ensure_loaded(QWEN, on_progress=progress.append)

    assert progress == [0.25, 0.5, 0.75]  # what the native chat streamed before it failed


async def test_jit_load_reports_one_at_the_end(make_manager: MakeManager) -> None:
    sim = SimulatedLMStudio(routes_disabled={"/api/v1"})
    manager = make_manager(sim)
    progress: list[float] = []

    await manager.ensure_loaded(QWEN, on_progress=progress.append)

    assert len(requests_to(sim, "POST", CHAT)) == 1
    assert progress == [1.0]


async def test_a_refused_jit_load_reports_no_progress(make_manager: MakeManager) -> None:
    sim = SimulatedLMStudio(jit=False, routes_disabled={LOAD})
    manager = make_manager(sim)
    progress: list[float] = []

    with pytest.raises(ModelNotLoadedError):
        await manager.ensure_loaded(QWEN, on_progress=progress.append)

    assert progress == []


async def test_with_jit_off_the_native_chat_gives_way_to_the_rest_load(
    make_manager: MakeManager,
) -> None:
    sim = SimulatedLMStudio(jit=False)
    manager = make_manager(sim)
    progress: list[float] = []

    instance = await manager.ensure_loaded(QWEN, on_progress=progress.append)

    assert instance.identifier == QWEN
    assert len(requests_to(sim, "POST", NATIVE_CHAT)) == 1  # answered "not loaded"
    assert requests_to(sim, "POST", LOAD) == [{"model": QWEN}]
    assert progress == [1.0]
