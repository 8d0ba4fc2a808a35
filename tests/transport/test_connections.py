"""Streams return their connection to the pool on every exit path (real HTTP on loopback)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import pytest

import lmbridge
from lmbridge import Bridge, TextDelta
from lmbridge.testing import Reply, SimulatedLMStudio
from tests.pool import pool_states

MODEL = "qwen/qwen3-4b"
LONG = Reply("word " * 400, chunk_size=5, chunk_delay=0.005)


@asynccontextmanager
async def served() -> AsyncIterator[tuple[SimulatedLMStudio, Bridge]]:
    # A context manager used inside each test, not a fixture: the server's task group must be
    # entered and exited in the same task.
    sim = SimulatedLMStudio(loaded=[MODEL])
    async with sim.serve() as url, Bridge(url) as bridge:
        yield sim, bridge


async def test_normal_end_reuses_the_connection() -> None:
    async with served() as (_sim, bridge):
        for _ in range(3):
            async with bridge.stream(MODEL, "hi") as stream:
                await stream.result()
            assert pool_states(bridge) == ["idle"]
        assert (await bridge.chat(MODEL, "again")).text
        assert pool_states(bridge) == ["idle"], "one keep-alive connection served every request"


async def test_break_out_of_the_loop_releases_the_connection() -> None:
    async with served() as (sim, bridge):
        sim.script(MODEL, LONG)
        async with bridge.stream(MODEL, "long please") as stream:
            async for event in stream:
                if isinstance(event, TextDelta):
                    break
            assert "active" in pool_states(bridge)
        assert "active" not in pool_states(bridge)
        await sim.wait_idle()
        # the server sees the request end, and the next request works
        assert (await bridge.chat(MODEL, "next")).text


async def test_error_inside_the_block_releases_the_connection() -> None:
    async with served() as (sim, bridge):
        sim.script(MODEL, LONG)
        with pytest.raises(RuntimeError, match="user code failed"):
            async with bridge.stream(MODEL, "long please") as stream:
                async for _ in stream:
                    raise RuntimeError("user code failed")
        assert "active" not in pool_states(bridge)


async def test_cancellation_mid_stream_releases_the_connection() -> None:
    async with served() as (sim, bridge):
        sim.script(MODEL, LONG)
        received: list[str] = []

        async def consume() -> None:
            async with bridge.stream(MODEL, "long please") as stream:
                async for event in stream:
                    if isinstance(event, TextDelta):
                        received.append(event.text)

        with anyio.move_on_after(0.3) as scope:
            await consume()
        assert scope.cancelled_caught
        assert received, "the stream had started"
        assert "active" not in pool_states(bridge)
        await sim.wait_idle()
        assert (await bridge.chat(MODEL, "after cancel")).text


async def test_stream_error_releases_the_connection() -> None:
    async with served() as (sim, bridge):
        sim.script(MODEL, Reply("abcdefgh", stream_error=2))
        with pytest.raises(lmbridge.StreamError):
            async with bridge.stream(MODEL, "x") as stream:
                await stream.result()
        assert "active" not in pool_states(bridge)
