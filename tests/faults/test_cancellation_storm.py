"""Hundreds of random cancellations of chat, stream and ensure_loaded: afterwards no model has a
duplicate instance (``key:2``), nothing is left running, and the same Bridge still works.

REST-only (the in-process simulator, which finishes loads whose caller went away, as LM Studio
does) and with the simulated ``lms`` on loopback (each load is a child process, terminated when
its caller is cancelled). The random sequence is seeded: a failure reproduces.
"""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import anyio

from lmbridge import Bridge, LMBridgeError
from lmbridge.testing import ANY_MODEL, Reply, SimulatedLMStudio, install_simulated_lms

QWEN = "qwen/qwen3-4b"
GEMMA = "google/gemma-3-4b"
MODELS = (QWEN, GEMMA)


async def one_call(b: Bridge, what: str, model: str, budget: float, tally: Counter[str]) -> None:
    """One operation, cancelled after ``budget`` seconds if it has not ended by then."""
    with anyio.move_on_after(budget) as scope:
        try:
            if what == "chat":
                await b.chat(model, "hi", max_tokens=8)
            elif what == "stream":
                async with b.stream(model, "hi", max_tokens=8) as s:
                    async for _ in s:
                        await anyio.sleep(0)
            else:
                await b.models.ensure_loaded(model)
        except LMBridgeError as exc:
            # Tolerated only as typed errors (e.g. an instance evicted mid-request): anything
            # else fails the test by propagating.
            tally[f"error:{type(exc).__name__}"] += 1
    tally["cancelled" if scope.cancelled_caught else "finished"] += 1


async def storm(
    b: Bridge, sim: SimulatedLMStudio, *, rounds: int, width: int, seed: int
) -> Counter[str]:
    rng = random.Random(seed)
    tally: Counter[str] = Counter()
    for round_number in range(rounds):
        async with anyio.create_task_group() as tg:
            for _ in range(width):
                what = rng.choice(("chat", "stream", "ensure_loaded"))
                tg.start_soon(one_call, b, what, rng.choice(MODELS), rng.uniform(0.0, 0.08), tally)
        await anyio.sleep(0.08)  # loads abandoned on the server complete meanwhile
        assert duplicates(sim) == [], f"round {round_number}: {dict(tally)}"
        if round_number % 4 == 3:
            # Start over cold now and then, so that loads (and their cancellation) keep coming.
            for model in MODELS:
                if _has(sim, model):
                    await b.models.unload(model, all_instances=True)
    return tally


def slow_replies(sim: SimulatedLMStudio) -> None:
    """Replies that take a while to come and to stream, so cancellations land mid-answer."""
    sim.responder(ANY_MODEL, lambda body: Reply("a few words", delay=0.02, chunk_delay=0.005))


def _has(sim: SimulatedLMStudio, key: str) -> bool:
    return any(i.model.key == key for i in sim.loaded)


def duplicates(sim: SimulatedLMStudio) -> list[str]:
    return [i.identifier for i in sim.loaded if i.identifier != i.model.key]


async def after_the_storm(b: Bridge, sim: SimulatedLMStudio) -> None:
    await anyio.sleep(0.15)  # the last abandoned loads complete on the server
    await sim.wait_idle(timeout=5.0)
    assert duplicates(sim) == []
    for model in MODELS:  # the same Bridge still works, for every model
        assert (await b.chat(model, "still there?")).text
        async with b.stream(model, "and streaming?") as s:
            assert (await s.result()).text
    assert duplicates(sim) == []


async def test_cancellation_storm_rest_only(no_lms: Path) -> None:
    sim = SimulatedLMStudio(load_delay=0.03, auto_evict=False)
    slow_replies(sim)
    async with Bridge(transport=sim.transport(), lms_path=no_lms, load_timeout=5.0) as b:
        tally = await storm(b, sim, rounds=24, width=16, seed=17)
        await after_the_storm(b, sim)
    assert tally["cancelled"] + tally["finished"] == 24 * 16
    assert tally["cancelled"] >= 150  # hundreds of operations, a good share of them cancelled
    assert sum(1 for r in sim.requests if r.path == "/api/v1/models/load") >= 6


async def test_cancellation_storm_with_lms(tmp_path: Path) -> None:
    sim = SimulatedLMStudio(load_delay=0.05, auto_evict=False)
    slow_replies(sim)
    async with sim.serve() as url:
        lms = install_simulated_lms(tmp_path / "bin", server_url=url)
        async with Bridge(url, lms_path=lms, load_timeout=10.0) as b:
            tally = await storm(b, sim, rounds=6, width=8, seed=1717)
            await after_the_storm(b, sim)
    assert tally["cancelled"] + tally["finished"] == 6 * 8
    assert tally["cancelled"] >= 10
    assert any(call[:1] == ["load"] for call in sim.cli_calls)  # loads went through lms
