"""The swap scheduler and a JIT load its caller abandoned (#13): LM Studio finishes such a load
later, and its auto-evict then unloads the other JIT model. Until it has, no request for another
JIT model of this Bridge may reach the server: neither one that the late eviction would cut off,
nor a JIT load of a third model (which the late load would evict in turn)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import pytest

from lmbridge import Bridge
from lmbridge.testing import Reply, SimulatedLMStudio
from tests.lifecycle.test_swap_scheduler import A14, B12, C8, catalogue, no_lms

LOADING_SECONDS = 30.0  # on the simulator's clock, which only the test moves


class FakeClock:
    """The simulator's clock: an abandoned load ends on it only when the test says so."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def chat_models(sim: SimulatedLMStudio, after: int) -> list[str]:
    """The models the chat requests received since request number ``after`` named."""
    return [
        r.body["model"]
        for r in sim.requests[after:]
        if r.path == "/v1/chat/completions" and isinstance(r.body, dict)
    ]


def replying_from(model: str) -> Callable[[dict[str, Any]], Reply]:
    return lambda body: Reply(f"from {model}")


@pytest.mark.parametrize("second", [B12, C8], ids=["evicted-model", "third-model"])
async def test_no_request_for_another_jit_model_while_an_abandoned_jit_load_may_end(
    tmp_path: Path, second: str
) -> None:
    clock = FakeClock()
    # LM Studio 0.3.x without lms: every load is a JIT request, and auto-evict keeps one JIT model.
    sim = SimulatedLMStudio(
        models=catalogue(), routes_disabled=["/api/v1"], auto_evict=True, clock=clock
    )
    served_at: dict[str, list[float]] = {A14: [], B12: [], C8: []}

    def replying(model: str) -> Any:
        def reply(body: dict[str, Any]) -> Reply:
            served_at[model].append(clock.now)
            return Reply(f"from {model}", chunk_delay=0.001, chunk_size=2)

        return reply

    for model in served_at:
        sim.responder(model, replying(model))

    async with Bridge(transport=sim.transport(), lms_path=no_lms(tmp_path)) as bridge:
        assert (await bridge.chat(B12, "warm")).text == f"from {B12}"  # JIT-loaded: ours
        served_at[B12].clear()

        # A14's JIT load takes long on the server; its caller is cancelled while it runs.
        sim.load_delay = LOADING_SECONDS
        before_a = len(sim.requests)
        async with anyio.create_task_group() as tg:
            scope = anyio.CancelScope()

            async def chat_a() -> None:
                with scope:
                    await bridge.chat(A14, "cancelled")

            tg.start_soon(chat_a)
            await anyio.wait_all_tasks_blocked()
            assert chat_models(sim, before_a) == [A14]  # the JIT request is on the server
            scope.cancel()
        assert [inst.key for inst in sim.loaded] == [B12]  # A14 still loading there
        sim.load_delay = 0.0

        after_cancel = len(sim.requests)
        texts: list[str] = []
        async with anyio.create_task_group() as tg:

            async def chat_second() -> None:
                async with bridge.stream(second, "now") as stream:
                    texts.append((await stream.result()).text)  # a cut-off stream raises

            tg.start_soon(chat_second)
            await anyio.wait_all_tasks_blocked()
            # The abandoned load may end any moment: the request waits, and the server saw
            # nothing for another model meanwhile.
            assert chat_models(sim, after_cancel) == []
            assert bridge.models.scheduler.queue()[second].waiting == 1

            clock.now += LOADING_SECONDS + 1  # LM Studio finishes A14, auto-evicting B12
            assert [inst.key for inst in sim.loaded] == [A14]
        assert texts == [f"from {second}"]

    assert sim.cut_off == []  # no reply of ours was cut by an eviction
    assert served_at[second] and min(served_at[second]) > 100.0 + LOADING_SECONDS


async def test_a_jit_load_cancelled_before_it_was_sent_holds_nothing(tmp_path: Path) -> None:
    clock = FakeClock()
    sim = SimulatedLMStudio(
        models=catalogue(), routes_disabled=["/api/v1"], auto_evict=True, clock=clock
    )
    for model in (A14, B12):
        sim.responder(model, replying_from(model))
    async with Bridge(transport=sim.transport(), lms_path=no_lms(tmp_path)) as bridge:
        await bridge.chat(B12, "warm")
        async with bridge.stream(B12, "long") as stream:  # B12 busy: A14's JIT load must wait
            before_a = len(sim.requests)
            async with anyio.create_task_group() as tg:
                scope = anyio.CancelScope()

                async def chat_a() -> None:
                    with scope:
                        await bridge.chat(A14, "cancelled")

                tg.start_soon(chat_a)
                await anyio.wait_all_tasks_blocked()
                assert bridge.models.scheduler.queue()[B12].closed  # draining for A14
                scope.cancel()
            assert chat_models(sim, before_a) == []  # A14's load never reached the server
            assert not bridge.models.scheduler.queue()[B12].closed  # nothing left pending
            assert (await stream.result()).text == f"from {B12}"
        assert (await bridge.chat(B12, "again")).text == f"from {B12}"  # not wedged
    assert sim.cut_off == []
