"""on_progress without ``lms``: what the REST v1 load and JIT can honestly report.

LM Studio's ``POST /api/v1/models/load`` answers once, when the load is done, and documents no
progress events (those come only from ``/api/v1/chat`` with ``stream: true``). So these loads
report ``1.0`` on success and nothing else: no invented intermediate steps, no undocumented
request fields, and no progress for a load that failed.
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


async def test_rest_load_reports_nothing_until_it_is_done(make_manager: MakeManager) -> None:
    sim = SimulatedLMStudio(load_delay=0.2)
    manager = make_manager(sim)
    progress: list[float] = []
    seen_while_loading: list[list[float]] = []

    async def watch() -> None:
        while not requests_to(sim, "POST", LOAD):
            await anyio.sleep(0.005)
        seen_while_loading.append([*progress])

    async with anyio.create_task_group() as tg:
        tg.start_soon(watch)
        tg.start_soon(lambda: manager.ensure_loaded(QWEN, on_progress=progress.append))

    assert seen_while_loading == [[]]
    assert progress == [1.0]


async def test_rest_load_sends_only_documented_fields(make_manager: MakeManager) -> None:
    sim = SimulatedLMStudio()
    manager = make_manager(sim)

    await manager.ensure_loaded(QWEN, on_progress=lambda _fraction: None)

    assert requests_to(sim, "POST", LOAD) == [{"model": QWEN}]


async def test_an_async_progress_callback_is_awaited_after_a_rest_load(
    make_manager: MakeManager,
) -> None:
    sim = SimulatedLMStudio()
    manager = make_manager(sim)
    progress: list[float] = []

    async def record(fraction: float) -> None:
        await anyio.sleep(0)
        progress.append(fraction)

    await manager.ensure_loaded(QWEN, on_progress=record)

    assert progress == [1.0]


async def test_a_failed_rest_load_reports_no_progress(make_manager: MakeManager) -> None:
    sim = SimulatedLMStudio(memory_limit_bytes=1_000)
    manager = make_manager(sim)
    progress: list[float] = []

    with pytest.raises(InsufficientMemoryError):
        await manager.ensure_loaded(QWEN, on_progress=progress.append)

    assert progress == []


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
