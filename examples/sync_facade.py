"""The sync facade: the same Bridge without ``await``, from a script and from threads.

    python examples/sync_facade.py

``SyncBridge`` runs a Bridge on an event loop in a thread of its own, so it also works where a
loop is already running (Jupyter) and can be shared by many threads at once.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

from _connect import MODEL, connection

from lmbridge import SyncBridge, TextDelta
from lmbridge.testing import Reply, SimulatedLMStudio


def script(sim: SimulatedLMStudio) -> None:
    sim.script(MODEL, Reply("Hello from a plain function call!"))
    sim.script(MODEL, Reply("Streamed without async, token by token.", chunk_delay=0.01))


def main() -> None:
    with SyncBridge(**connection(script)) as bridge:
        print(bridge.chat(MODEL, "Say hi", max_tokens=100).text)

        with bridge.stream(MODEL, "Tell me something, briefly.", max_tokens=100) as stream:
            for event in stream:
                if isinstance(event, TextDelta):
                    print(event.text, end="", flush=True)
            print(f"\n[{stream.result().finish_reason}]")

        print(bridge.models.loaded())

        # Eight threads share one SyncBridge: the calls run concurrently on its loop.
        questions = [f"Say the number {n}." for n in range(8)]
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=8) as pool:
            answers = list(pool.map(lambda q: bridge.chat(MODEL, q, max_tokens=20), questions))
        print(f"{len(answers)} answers from 8 threads in {time.monotonic() - started:.2f} s")


if __name__ == "__main__":
    main()
