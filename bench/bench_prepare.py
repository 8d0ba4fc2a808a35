"""Cost of the request path's model check when nothing changed (issue #3: well under 1 ms).

Run: ``python bench/bench_prepare.py``. A Bridge on the in-process simulator confirms the model
once; every later ``models.prepare()`` within ``confirm_ttl`` reuses that confirmation.
"""

from __future__ import annotations

import asyncio
import time

from lmbridge import Bridge
from lmbridge.testing import SimulatedLMStudio

MODEL = "qwen/qwen3-4b"


async def main(calls: int = 100_000) -> None:
    sim = SimulatedLMStudio(loaded=[MODEL])
    async with Bridge(transport=sim.transport(), lms_path="/nonexistent/lms") as bridge:
        await bridge.models.prepare(MODEL, kind="llm")  # the one real check
        requests_before = len(sim.requests)
        started = time.perf_counter()
        for _ in range(calls):
            await bridge.models.prepare(MODEL, kind="llm")
        elapsed = time.perf_counter() - started
        assert len(sim.requests) == requests_before, "a cached check must not touch the server"
    print(f"cached prepare(): {elapsed / calls * 1e6:.2f} µs per call (target: well under 1000 µs)")


if __name__ == "__main__":
    asyncio.run(main())
