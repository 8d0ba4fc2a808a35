"""A Bridge used in one ``asyncio.run()`` and then in another keeps working (real HTTP)."""

from __future__ import annotations

import asyncio

import httpx

from lmbridge import Bridge
from lmbridge.testing import Reply, SimulatedLMStudio
from tests.served import served_in_thread

MODEL = "qwen/qwen3-4b"


def test_a_bridge_outlives_the_event_loop_it_first_ran_on() -> None:
    sim = SimulatedLMStudio(loaded=[MODEL])
    sim.script(MODEL, Reply("first"), Reply("second"), Reply("third"))
    with served_in_thread(sim) as url:
        bridge = Bridge(url)
        # Without a new pool the second run fails with "RuntimeError: Event loop is closed":
        # the keep-alive connection of the first run belongs to its (closed) loop.
        assert asyncio.run(bridge.chat(MODEL, "hi")).text == "first"
        assert asyncio.run(bridge.chat(MODEL, "hi")).text == "second"

        async def stream_then_close() -> str:
            async with bridge.stream(MODEL, "hi") as stream:
                text = (await stream.result()).text
            await bridge.aclose()
            return text

        assert asyncio.run(stream_then_close()) == "third"


def test_a_client_of_the_users_is_never_replaced() -> None:
    sim = SimulatedLMStudio(loaded=[MODEL])
    client = httpx.AsyncClient(transport=sim.transport())
    bridge = Bridge(http_client=client)
    asyncio.run(bridge.chat(MODEL, "hi"))
    asyncio.run(bridge.chat(MODEL, "hi"))  # the in-process transport holds no loop-bound state
    assert bridge.http.http_client is client
