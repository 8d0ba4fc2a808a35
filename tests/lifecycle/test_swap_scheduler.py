"""The swap scheduler (#13): gathers over more models than fit, through the public Bridge."""

from __future__ import annotations

import logging
import random
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest

from lmbridge import Bridge, InsufficientMemoryError
from lmbridge.testing import Reply, SimError, SimulatedLMStudio
from lmbridge.testing.catalogue import SimModel
from lmbridge.testing.simulated_lms import install_simulated_lms
from tests.lifecycle.models_support import child_processes

# A 24 GB machine: any two of these fit, all three do not.
A14 = "acme/model-14b"
B12 = "acme/model-12b"
C8 = "acme/model-8b"
GB = 1_000_000_000
SIZES = {A14: 10 * GB, B12: 8 * GB, C8: 5 * GB}
BUDGET = 19 * GB
UNLOAD = "/api/v1/models/unload"


def catalogue(**extra: int) -> list[SimModel]:
    sizes = {**SIZES, **{f"acme/{name}": size for name, size in extra.items()}}
    return [SimModel(key=key, size_bytes=size) for key, size in sizes.items()]


def answering(sim: SimulatedLMStudio, *models: str, delay: float = 0.01) -> None:
    def reply(model: str) -> Callable[[dict[str, Any]], Reply]:
        return lambda body: Reply(f"from {model}", delay=delay)

    for model in models:
        sim.responder(model, reply(model))


def rest_unloads(sim: SimulatedLMStudio) -> list[str]:
    return [r.body["instance_id"] for r in sim.requests if r.path == UNLOAD]


def no_lms(tmp_path: Path) -> str:
    return str(tmp_path / "not-installed" / "lms")


def assert_queue_empty(bridge: Bridge) -> None:
    """Nothing running, waiting or closed: only the record of what this Bridge loaded."""
    for name, entry in bridge.models.scheduler.queue().items():
        assert (entry.running, entry.waiting, entry.closed) == (0, 0, False), name


async def gather_chats(bridge: Bridge, models: list[str]) -> list[str]:
    texts: list[str] = [""] * len(models)

    async def one(i: int, model: str) -> None:
        texts[i] = (await bridge.chat(model, f"q{i}")).text

    async with anyio.create_task_group() as tg:
        for i, model in enumerate(models):
            tg.start_soon(one, i, model)
    return texts


INTERLEAVED = [(A14, B12, C8)[i % 3] for i in range(30)]


@asynccontextmanager
async def bridge_over(
    sim: SimulatedLMStudio, tmp_path: Path, via: str, **options: Any
) -> AsyncIterator[Bridge]:
    """A Bridge loading through the REST API (in-process) or the simulated ``lms`` (loopback)."""
    if via == "rest":
        async with Bridge(transport=sim.transport(), lms_path=no_lms(tmp_path), **options) as b:
            yield b
        return
    async with sim.serve() as url:
        lms = install_simulated_lms(tmp_path / "bin", server_url=url)
        async with Bridge(url, lms_path=lms, **options) as bridge:
            yield bridge


# --- swapping ------------------------------------------------------------------------------------


@pytest.mark.parametrize("via", ["rest", "lms"])
async def test_30_chats_over_3_models_of_which_2_fit(
    tmp_path: Path, via: str, caplog: pytest.LogCaptureFixture
) -> None:
    sim = SimulatedLMStudio(models=catalogue(), memory_limit_bytes=BUDGET, jit=False)
    answering(sim, A14, B12, C8)
    caplog.set_level(logging.INFO, logger="lmbridge.models")
    swaps: list[Any] = []

    def hook(event: Any) -> None:
        if event.kind == "swap":
            swaps.append(event)

    async with bridge_over(sim, tmp_path, via, event_hooks=[hook]) as bridge:
        texts = await gather_chats(bridge, INTERLEAVED)
        assert_queue_empty(bridge)
    assert texts == [f"from {model}" for model in INTERLEAVED]
    unloads = (
        [argv[1] for argv in sim.cli_calls if argv[:1] == ["unload"]]
        if via == "lms"
        else rest_unloads(sim)
    )
    assert 1 <= len(unloads) <= 2, unloads  # grouped by model: not one swap per request
    assert set(unloads) <= {A14, B12, C8}
    # Each swap is one event for hooks, naming the model unloaded and the one it made room for.
    assert [event.previous for event in swaps] == unloads
    assert all(event.model != event.previous for event in swaps)
    assert any(m.startswith("unloading ") and " to make room for " in m for m in caplog.messages)
    assert any(m.startswith("loaded ") for m in caplog.messages)


async def test_a_model_loaded_by_someone_else_is_never_unloaded(tmp_path: Path) -> None:
    sim = SimulatedLMStudio(models=catalogue(), memory_limit_bytes=BUDGET, jit=False, loaded=[A14])
    answering(sim, B12, C8)
    models = [(B12, C8)[i % 2] for i in range(20)]
    async with bridge_over(sim, tmp_path, "rest") as bridge:
        texts = await gather_chats(bridge, models)
    assert texts == [f"from {model}" for model in models]
    assert A14 not in rest_unloads(sim)
    assert A14 in [inst.identifier for inst in sim.loaded]
    assert 1 <= len(rest_unloads(sim)) <= 2


async def test_evict_foreign_lets_it_unload_a_model_it_did_not_load(tmp_path: Path) -> None:
    sim = SimulatedLMStudio(
        models=catalogue(), memory_limit_bytes=BUDGET, jit=False, loaded=[A14, B12]
    )
    answering(sim, C8)
    async with bridge_over(sim, tmp_path, "rest", evict_foreign=True) as bridge:
        assert (await bridge.chat(C8, "hi")).text == f"from {C8}"
    assert len(rest_unloads(sim)) == 1
    assert rest_unloads(sim)[0] in {A14, B12}


async def test_without_evict_foreign_a_full_machine_fails_at_once_with_a_hint(
    tmp_path: Path,
) -> None:
    sim = SimulatedLMStudio(
        models=catalogue(), memory_limit_bytes=BUDGET, jit=False, loaded=[A14, B12]
    )
    async with bridge_over(sim, tmp_path, "rest") as bridge:
        with anyio.fail_after(5), pytest.raises(InsufficientMemoryError) as raised:
            await bridge.chat(C8, "hi")
    assert raised.value.required_gb == 5.0
    assert "evict_foreign=True" in (raised.value.hint or "")
    assert rest_unloads(sim) == []


async def test_a_model_too_big_to_fit_alone_fails_at_once(tmp_path: Path) -> None:
    sim = SimulatedLMStudio(models=catalogue(huge=30 * GB), memory_limit_bytes=BUDGET, jit=False)
    async with bridge_over(sim, tmp_path, "rest", load_timeout=600) as bridge:
        with anyio.fail_after(5), pytest.raises(InsufficientMemoryError) as raised:
            await bridge.chat("acme/huge", "hi")
    assert raised.value.required_gb == 30.0  # the server's figure
    assert rest_unloads(sim) == []


async def test_raise_policy_fails_instead_of_swapping(tmp_path: Path) -> None:
    sim = SimulatedLMStudio(models=catalogue(), memory_limit_bytes=BUDGET, jit=False)
    answering(sim, A14, B12, C8)
    async with bridge_over(sim, tmp_path, "rest", on_insufficient_memory="raise") as bridge:
        await bridge.chat(A14, "hi")
        await bridge.chat(B12, "hi")
        with pytest.raises(InsufficientMemoryError):
            await bridge.chat(C8, "hi")
    assert rest_unloads(sim) == []


async def test_a_busy_model_is_unloaded_only_once_its_requests_are_done(tmp_path: Path) -> None:
    sim = SimulatedLMStudio(models=catalogue(), memory_limit_bytes=BUDGET, jit=False)
    answering(sim, A14, B12)
    sim.responder(C8, lambda body: Reply("c"))
    async with bridge_over(sim, tmp_path, "rest") as bridge:
        await bridge.chat(B12, "warm")  # B12 is the least recently used when C8 needs room
        await bridge.chat(A14, "warm")
        async with bridge.stream(B12, "long") as stream:
            chatting = anyio.Event()
            async with anyio.create_task_group() as tg:

                async def chat_c8() -> None:
                    chatting.set()
                    assert (await bridge.chat(C8, "hi")).text == "c"

                tg.start_soon(chat_c8)
                await chatting.wait()
                await anyio.sleep(0.05)
                # B12 is busy streaming: A14, idle, is the one unloaded, at once.
                assert rest_unloads(sim) == [A14]
            text = "".join([event.text async for event in stream if hasattr(event, "text")])
        assert text == f"from {B12}"


async def test_diagnose_shows_the_queue_per_model(tmp_path: Path) -> None:
    sim = SimulatedLMStudio(models=catalogue(), memory_limit_bytes=BUDGET, jit=False)
    answering(sim, A14)
    async with bridge_over(sim, tmp_path, "rest") as bridge:
        await bridge.chat(A14, "hi")
        async with bridge.stream(A14, "long"):
            error = await bridge.models.on(bridge.base_url).diagnose(
                A14, InsufficientMemoryError("x")
            )
            queue = bridge.models.scheduler.queue()
    assert queue[A14].running == 1 and queue[A14].loaded_here
    assert f"{A14}: 1 running, 0 waiting" in (error.hint or "")


async def test_a_model_waiting_for_room_is_served_while_others_keep_arriving(
    tmp_path: Path,
) -> None:
    sim = SimulatedLMStudio(models=catalogue(), memory_limit_bytes=BUDGET, jit=False)
    answering(sim, A14, B12, C8)
    async with bridge_over(sim, tmp_path, "rest") as bridge:
        await bridge.chat(A14, "warm")
        await bridge.chat(B12, "warm")
        done = anyio.Event()

        async def keep_asking(model: str) -> None:
            while not done.is_set():  # three at a time: the model is never idle
                async with anyio.create_task_group() as tg:
                    for _ in range(3):
                        tg.start_soon(bridge.chat, model, "again")

        async with anyio.create_task_group() as tg:
            tg.start_soon(keep_asking, A14)
            tg.start_soon(keep_asking, B12)
            with anyio.fail_after(5):
                assert (await bridge.chat(C8, "me too")).text == f"from {C8}"
            done.set()
        assert_queue_empty(bridge)


async def test_waiting_for_a_busy_victim_is_bounded_by_load_timeout(tmp_path: Path) -> None:
    sim = SimulatedLMStudio(models=catalogue(), memory_limit_bytes=BUDGET, jit=False)
    answering(sim, A14, B12)
    async with bridge_over(sim, tmp_path, "rest", load_timeout=0.3) as bridge:
        # Both loaded models are busy with streams that are not read to the end.
        async with bridge.stream(A14, "long"), bridge.stream(B12, "long"):
            raised: list[InsufficientMemoryError] = []

            async def chat_c8() -> None:
                with pytest.raises(InsufficientMemoryError) as caught:
                    await bridge.chat(C8, "hi")
                raised.append(caught.value)

            with anyio.fail_after(5):
                async with anyio.create_task_group() as tg:
                    tg.start_soon(chat_c8)
                    await anyio.sleep(0.1)
                    # Meanwhile the queue shows who waits for what.
                    queue = bridge.models.scheduler.queue()
                    assert queue[C8].waiting == 1
                    assert queue[A14].closed != queue[B12].closed  # one victim, draining
                    assert queue[A14].running == queue[B12].running == 1
            queue = bridge.models.scheduler.queue()
            assert not any(entry.closed or entry.waiting for entry in queue.values())
        assert_queue_empty(bridge)
    assert "load_timeout=0.3" in str(raised[0])
    assert raised[0].required_gb == 5.0
    assert rest_unloads(sim) == []


# --- JIT with auto-evict --------------------------------------------------------------------------


async def test_jit_auto_evict_30_interleaved_streams_over_2_models(tmp_path: Path) -> None:
    # No lms and no REST load (LM Studio 0.3.x): loads go through JIT, which evicts the other one.
    sim = SimulatedLMStudio(models=catalogue(), routes_disabled=["/api/v1"], auto_evict=True)
    instances: dict[str, set[int]] = {A14: set(), B12: set()}

    def responder(model: str) -> Any:
        def reply(body: dict[str, Any]) -> Reply:
            for inst in sim.loaded:
                if inst.key == model:
                    instances[model].add(id(inst))  # a new instance object is a new load
            return Reply(f"from {model}", chunk_delay=0.002, chunk_size=2)

        return reply

    for model in (A14, B12):
        sim.responder(model, responder(model))
    models = [(A14, B12)[i % 2] for i in range(30)]
    texts: list[str] = [""] * 30
    async with bridge_over(sim, tmp_path, "rest") as bridge:

        async def one(i: int, model: str) -> None:
            async with bridge.stream(model, f"q{i}") as stream:
                texts[i] = (await stream.result()).text  # a cut-off stream raises here

        async with anyio.create_task_group() as tg:
            for i, model in enumerate(models):
                tg.start_soon(one, i, model)
        assert_queue_empty(bridge)
    assert texts == [f"from {model}" for model in models]
    assert all(1 <= len(loads) <= 2 for loads in instances.values()), instances


# --- cancellation ----------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(6))
async def test_cancelling_waiting_requests_at_random_points_leaves_nothing_behind(
    tmp_path: Path, seed: int
) -> None:
    rng = random.Random(seed)
    sim = SimulatedLMStudio(
        models=catalogue(), memory_limit_bytes=BUDGET, jit=False, load_delay=0.01
    )
    answering(sim, A14, B12, C8, delay=0.02)
    async with bridge_over(sim, tmp_path, "rest", load_timeout=3) as bridge:
        async with anyio.create_task_group() as tg:
            for i, model in enumerate(INTERLEAVED):
                scope = anyio.CancelScope()

                async def one(i: int, model: str, scope: anyio.CancelScope) -> None:
                    with scope:
                        await bridge.chat(model, f"q{i}")

                tg.start_soon(one, i, model, scope)
                if rng.random() < 0.5:
                    tg.start_soon(_cancel_later, scope, rng.uniform(0, 0.15))
        assert_queue_empty(bridge)
        # Not wedged: every model still serves, swapping as needed.
        with anyio.fail_after(10):
            assert await gather_chats(bridge, [C8, A14, B12]) == [
                f"from {C8}",
                f"from {A14}",
                f"from {B12}",
            ]
        assert_queue_empty(bridge)
    assert Counter(inst.identifier for inst in sim.loaded).most_common(1)[0][1] == 1  # no ':2'


async def _cancel_later(scope: anyio.CancelScope, delay: float) -> None:
    await anyio.sleep(delay)
    scope.cancel()


async def test_cancelling_during_lms_swaps_leaves_no_process(tmp_path: Path) -> None:
    sim = SimulatedLMStudio(models=catalogue(), memory_limit_bytes=BUDGET, jit=False)
    answering(sim, A14, B12, C8)
    async with bridge_over(sim, tmp_path, "lms") as bridge:
        with anyio.move_on_after(0.8):
            await gather_chats(bridge, INTERLEAVED)
        assert_queue_empty(bridge)
        with anyio.fail_after(20):
            assert await gather_chats(bridge, [A14, B12, C8]) == [
                f"from {A14}",
                f"from {B12}",
                f"from {C8}",
            ]
    assert [state for _, state in child_processes()] == []


async def test_a_jit_load_refused_with_the_0_4_4_wording_is_out_of_memory(tmp_path: Path) -> None:
    sim = SimulatedLMStudio(models=catalogue(), routes_disabled=["/api/v1"])
    sim.responder(A14, lambda body: Reply("unused"))
    wording = "Not enough resources to load the model with the current settings"
    sim.fail_next(A14, SimError.load_failed(A14, wording))  # the JIT load
    async with bridge_over(sim, tmp_path, "rest") as bridge:
        with pytest.raises(InsufficientMemoryError) as raised:
            await bridge.chat(A14, "hi")
    assert raised.value.required_gb is None


def test_sync_bridge_takes_the_options_and_swaps(tmp_path: Path) -> None:
    from lmbridge import SyncBridge

    sim = SimulatedLMStudio(models=catalogue(), memory_limit_bytes=BUDGET, jit=False)
    answering(sim, A14, B12, C8)
    with SyncBridge(
        transport=sim.transport(),
        lms_path=no_lms(tmp_path),
        on_insufficient_memory="swap",
        evict_foreign=False,
    ) as bridge:
        texts = [bridge.chat(model, "hi").text for model in (A14, B12, C8, A14)]
    assert texts == [f"from {model}" for model in (A14, B12, C8, A14)]
    assert rest_unloads(sim) == [A14, B12]  # the least recently used, each time
