"""Ask several models at once with ``asyncio.gather`` on one Bridge, and time it.

    python examples/gather_models.py

One Bridge is safe to share across tasks: the requests run concurrently over one connection
pool, and a model that is not loaded is loaded once even when several tasks ask for it.
"""

from __future__ import annotations

import asyncio
import time

from _connect import connection

from lmbridge import Bridge, ChatResult, LMBridgeError
from lmbridge.testing import Reply, SimulatedLMStudio

MODELS = ["qwen/qwen3-4b", "google/gemma-3-4b", "openai/gpt-oss-20b"]
QUESTION = "In one sentence: why run a language model locally?"


def script(sim: SimulatedLMStudio) -> None:
    for model in MODELS:
        sim.script(model, Reply(f"{model} says: privacy, cost and offline use.", delay=0.3))


async def ask(bridge: Bridge, model: str) -> ChatResult[object] | LMBridgeError:
    # One failing model (not downloaded, out of memory) should not sink the others.
    try:
        return await bridge.chat(model, QUESTION, max_tokens=200)
    except LMBridgeError as error:
        return error


async def main() -> None:
    async with Bridge(**connection(script)) as bridge:
        started = time.monotonic()
        answers = await asyncio.gather(*(ask(bridge, model) for model in MODELS))
        elapsed = time.monotonic() - started
        for model, answer in zip(MODELS, answers, strict=True):
            if isinstance(answer, LMBridgeError):
                print(f"{model:<22} failed: {answer.message}")
            else:
                print(f"{model:<22} {answer.text.strip()[:100]!r}")
        print(f"{len(MODELS)} models in {elapsed:.2f} s (one after another would add them up)")


if __name__ == "__main__":
    asyncio.run(main())
