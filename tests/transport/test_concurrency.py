"""One Bridge shared by many concurrent tasks."""

from __future__ import annotations

import asyncio

from lmbridge import Bridge
from lmbridge.testing import SimulatedLMStudio


async def test_200_concurrent_chats_through_one_bridge() -> None:
    sim = SimulatedLMStudio(loaded=["qwen/qwen3-4b"])
    async with Bridge(transport=sim.transport()) as bridge:
        results = await asyncio.gather(
            *(bridge.chat("qwen/qwen3-4b", f"question {i}") for i in range(200))
        )
    assert len(results) == 200
    for i, result in enumerate(results):
        assert result.text.endswith(f"question {i}")
        assert result.finish_reason == "stop"


async def test_concurrent_streams_and_chats_mix() -> None:
    sim = SimulatedLMStudio(loaded=["qwen/qwen3-4b", "text-embedding-nomic-embed-text-v1.5"])
    async with Bridge(transport=sim.transport()) as bridge:

        async def streamed(i: int) -> str:
            async with bridge.stream("qwen/qwen3-4b", f"s{i}") as stream:
                return (await stream.result()).text

        texts = await asyncio.gather(
            *(streamed(i) for i in range(50)),
            *(bridge.chat("qwen/qwen3-4b", f"c{i}") for i in range(50)),
        )
        vectors = await bridge.embed(
            "text-embedding-nomic-embed-text-v1.5", [f"t{i}" for i in range(20)]
        )
    assert [t for t in texts[:50] if isinstance(t, str)] == [
        f"Simulated reply from qwen/qwen3-4b to: s{i}" for i in range(50)
    ]
    assert len(vectors) == 20
