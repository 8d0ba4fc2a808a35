"""The rest of #18's measurements: memory per open stream, and the agent loop's own cost.

Run: ``python bench/extras.py [--streams N] [--runs N]``. Reported, never asserted (no target
in the issue):

- **memory per open stream**: N concurrent streams (default 1,000) against the loopback server
  of ``compare.py``, each with its first chunks read and then idle; Python memory allocated
  while they are open (``tracemalloc``), divided by N — lmbridge's ``bridge.stream()`` beside
  raw httpx's ``client.stream()`` + ``aiter_lines()``. Both pools allow N connections.
- **the agent loop's own cost per round**: ``run_agent`` on the in-process simulator (a tool
  round, then the answer) against the same two model calls made with ``bridge.stream()`` and
  the same tool called directly; the difference per round is what the loop itself adds.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from compare import MODEL, start_server

HOLD = {"model": MODEL, "messages": [{"role": "user", "content": "hold"}], "stream": True}


# --- memory per open stream ----------------------------------------------------------------


async def open_streams(count: int, open_one: Callable[[asyncio.Event, asyncio.Event], Any]) -> int:
    """Open ``count`` idle streams; return the bytes Python allocated while all were open."""
    release = asyncio.Event()
    ready = [asyncio.Event() for _ in range(count)]
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    tasks = [asyncio.create_task(open_one(event, release)) for event in ready]
    for event in ready:
        await event.wait()
    during = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    release.set()
    await asyncio.gather(*tasks)
    return during - before


async def memory_per_stream(url: str, count: int) -> dict[str, float]:
    from lmbridge import Bridge

    limits = httpx.Limits(max_connections=count + 10, max_keepalive_connections=count + 10)

    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as client:

        async def raw(ready: asyncio.Event, release: asyncio.Event) -> None:
            async with client.stream("POST", "/v1/chat/completions", json=HOLD) as response:
                lines = response.aiter_lines()
                await anext(lines)  # the first event's line
                ready.set()
                await release.wait()

        raw_bytes = await open_streams(count, raw)

    transport = httpx.AsyncHTTPTransport(limits=limits)
    async with Bridge(url, auto_load=False, transport=transport, timeout=60) as bridge:

        async def typed(ready: asyncio.Event, release: asyncio.Event) -> None:
            async with bridge.stream(MODEL, "hold") as stream:
                await anext(aiter(stream))  # the first typed event
                ready.set()
                await release.wait()

        bridge_bytes = await open_streams(count, typed)
    return {"raw httpx": raw_bytes / count, "lmbridge": bridge_bytes / count}


# --- the agent loop's own cost per round --------------------------------------------------------


async def agent_overhead(runs: int) -> tuple[float, float]:
    """Median µs per round: the agent loop, and the same model calls and tool run by hand."""
    from lmbridge import Bridge
    from lmbridge.testing import Reply, SimulatedLMStudio, ToolCallSpec

    def clock(timezone: str) -> str:
        """The time in a timezone."""
        return f"12:00 in {timezone}"

    sim = SimulatedLMStudio(loaded=[MODEL])
    call = ToolCallSpec(name="clock", arguments={"timezone": "UTC"})

    def script() -> None:
        sim.script(MODEL, Reply(tool_calls=[call]), Reply("It is noon."))

    async with Bridge(sim.base_url, transport=sim.transport(), auto_load=False) as bridge:

        async def by_hand() -> None:
            messages: list[Any] = [{"role": "user", "content": "time?"}]
            tools = [
                {
                    "type": "function",
                    "function": {
                        "name": "clock",
                        "description": "The time in a timezone.",
                        "parameters": {
                            "type": "object",
                            "properties": {"timezone": {"type": "string"}},
                            "required": ["timezone"],
                        },
                    },
                }
            ]
            async with bridge.stream(MODEL, messages, tools=tools) as stream:
                first = await stream.result()
            messages.append(first.to_message())
            for tool_call in first.tool_calls:
                output = clock(**tool_call.arguments)
                messages.append({"role": "tool", "tool_call_id": tool_call.id, "content": output})
            async with bridge.stream(MODEL, messages, tools=tools) as stream:
                await stream.result()

        async def agent() -> None:
            result = await bridge.run_agent(MODEL, "time?", tools=[clock])
            assert result.rounds == 2, result.stop_reason

        async def timed(job: Callable[[], Awaitable[None]]) -> float:
            script()
            started = time.perf_counter()
            await job()
            return (time.perf_counter() - started) * 1e6 / 2  # two rounds

        loop_times, hand_times = [], []
        for _ in range(5):  # warm-up
            await timed(agent)
            await timed(by_hand)
        for _ in range(runs):
            loop_times.append(await timed(agent))
            hand_times.append(await timed(by_hand))
    return statistics.median(loop_times), statistics.median(hand_times)


async def main_async(streams: int, runs: int) -> None:
    server, url = start_server()
    try:
        memory = await memory_per_stream(url, streams)
    finally:
        server.terminate()
        server.wait()
    print(f"memory per open stream ({streams} idle streams, Python allocations)")
    for name, size in memory.items():
        print(f"  {name:<12} {size / 1024:8.1f} KiB")
    ratio = memory["lmbridge"] / memory["raw httpx"]
    print(f"  lmbridge / raw httpx: {ratio:.2f}x")
    agent, by_hand = await agent_overhead(runs)
    print("agent loop, per round (simulator: a tool round, then the answer)")
    print(f"  run_agent            {agent:8.0f} µs")
    print(f"  the same by hand     {by_hand:8.0f} µs")
    print(f"  the loop's own cost  {agent - by_hand:8.0f} µs per round")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=1000, help="idle streams held open")
    parser.add_argument("--runs", type=int, default=50, help="agent runs measured")
    args = parser.parse_args()
    asyncio.run(main_async(args.streams, args.runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
