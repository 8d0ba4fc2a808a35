"""One Bridge over two servers: routing, failover when one stops, and its circuit breaker.

    python examples/several_servers.py

It always runs on two simulated LM Studios served on loopback ports (a "gpu-box" and a "laptop"),
so that one of them can be stopped half way. With real servers the code is the same:
``Bridge(["http://gpu-box:1234", "http://localhost:1234"], api_token={...})``.
"""

from __future__ import annotations

import asyncio
import sys
from collections import Counter
from contextlib import AsyncExitStack

from lmbridge import Bridge, CircuitBreaker, CircuitChanged, CircuitOpenError, Event
from lmbridge.testing import Reply, SimulatedLMStudio

CHAT = "qwen/qwen3-4b"  # loaded on both servers
VISION = "google/gemma-3-4b"  # loaded on the gpu-box only, downloaded on both


def simulated(name: str, loaded: list[str]) -> SimulatedLMStudio:
    sim = SimulatedLMStudio(loaded=loaded, load_delay=0.2)
    for model in (CHAT, VISION):
        sim.script(model, Reply(f"{model} on the {name}", delay=0.1))
    return sim


def show_circuit(event: Event) -> None:
    if isinstance(event, CircuitChanged):
        print(f"  [event] circuit {event.previous} -> {event.state} for {event.server}")


def show_servers(bridge: Bridge, names: dict[str | None, str]) -> None:
    for server in bridge.servers:
        print(
            f"  {names[server.url]:<8} state={server.state:<7} in_flight={server.in_flight} "
            f"waiting={server.waiting} loaded={list(server.loaded)}"
        )


async def ask_many(bridge: Bridge, names: dict[str | None, str], count: int) -> None:
    replies = await asyncio.gather(*(bridge.chat(CHAT, "hi", max_tokens=20) for _ in range(count)))
    spread = Counter(names[reply.server] for reply in replies)
    print(f"  {count} answers: " + ", ".join(f"{n} from the {name}" for name, n in spread.items()))


async def main() -> None:
    print("[two servers on loopback ports: using the simulated LM Studio]", file=sys.stderr)
    gpu_box = simulated("gpu-box", loaded=[CHAT, VISION])
    laptop = simulated("laptop", loaded=[CHAT])
    async with AsyncExitStack() as laptop_up, AsyncExitStack() as gpu_box_up:
        gpu_url = await gpu_box_up.enter_async_context(gpu_box.serve())
        laptop_url = await laptop_up.enter_async_context(laptop.serve())
        # result.server and error.server are URLs as bridge.servers writes them
        names: dict[str | None, str] = {gpu_url: "gpu-box", laptop_url: "laptop"}

        async with Bridge(
            [gpu_url, laptop_url],
            max_concurrency=2,  # per server: the rest wait in order inside the Bridge
            circuit_breaker=CircuitBreaker(failures=3, cooldown=30),
            event_hooks=[show_circuit],
        ) as bridge:
            print("1. Routing: a model loaded on both spreads over both (the least busy first)")
            await ask_many(bridge, names, 8)
            reply = await bridge.chat(VISION, "What is in this picture?", max_tokens=20)
            print(
                f"  {VISION} is loaded on the gpu-box only: answered by the {names[reply.server]}"
            )
            show_servers(bridge, names)

            print("2. The gpu-box stops: what could not reach it goes to the laptop")
            await gpu_box_up.aclose()
            await ask_many(bridge, names, 8)
            show_servers(bridge, names)

            print("3. Its breaker is open: nothing is sent to it until the cooldown is over")
            gpu_box_models = bridge.models.on(gpu_url)  # that server's own manager: no failover
            gpu_box_models.invalidate()  # forget its cached listing: ask the server itself
            try:
                await gpu_box_models.list()
            except CircuitOpenError as error:
                wait = error.retry_at - error.opened_at
                print(
                    f"  CircuitOpenError: {names[error.server]} down after "
                    f"{error.failures} connection failures; it is tried again in {wait:.0f} s"
                )

            print(f"4. {VISION} is downloaded on the laptop too: the laptop loads it")
            reply = await bridge.chat(VISION, "What is in this picture?", max_tokens=20)
            print(f"  answered by the {names[reply.server]}: {reply.text!r}")
            show_servers(bridge, names)


if __name__ == "__main__":
    asyncio.run(main())
