"""Stream a reply as it is generated: reasoning and text apart, then the final result.

    python examples/streaming.py

The second stream stops early (``break``): leaving the ``async with`` block closes the HTTP
response, so the server stops generating and the connection goes back to the pool.
"""

from __future__ import annotations

import asyncio

from _connect import MODEL, connection

from lmbridge import Bridge, ReasoningDelta, TextDelta
from lmbridge.testing import Reply, SimulatedLMStudio


def script(sim: SimulatedLMStudio) -> None:
    sim.script(
        MODEL,
        Reply(
            "Local models keep data on your machine and cost nothing per token.",
            reasoning="Two reasons, one line.",
            chunk_delay=0.01,
        ),
    )
    sim.script(MODEL, Reply("word " * 200, chunk_size=5, chunk_delay=0.005))


async def main() -> None:
    async with Bridge(**connection(script)) as bridge:
        async with bridge.stream(MODEL, "Why run models locally? One line.") as stream:
            async for event in stream:
                if isinstance(event, ReasoningDelta):
                    print(f"\033[2m{event.text}\033[0m", end="", flush=True)  # dimmed
                elif isinstance(event, TextDelta):
                    print(event.text, end="", flush=True)
            result = await stream.result()
        print(f"\nfinish_reason={result.finish_reason} usage={result.usage}")

        received = 0
        async with bridge.stream(MODEL, "Count words, many of them.") as stream:
            async for event in stream:
                if isinstance(event, TextDelta):
                    received += len(event.text)
                    if received > 40:
                        break  # the response is closed when the block ends
        print(f"stopped after {received} characters; the connection is free again")


if __name__ == "__main__":
    asyncio.run(main())
