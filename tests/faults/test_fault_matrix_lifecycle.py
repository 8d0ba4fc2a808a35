"""Fault matrix, model lifecycle: ``lms`` missing, hanging, out of memory or printing garbage;
a REST load abandoned by its caller; bad load options; servers that list nothing.

Each test asserts the typed error or the recovery, the load requests (or ``lms`` runs) the
server saw, and (through the autouse fixture) that no task or child process is left.
"""

from __future__ import annotations

import asyncio
import stat
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest

from lmbridge import (
    Bridge,
    InsufficientMemoryError,
    InvalidResponseError,
    LmsArgumentError,
    LmsError,
    LmsTimeoutError,
)
from lmbridge.testing import SimulatedLMStudio, install_simulated_lms
from tests.faults.conftest import SleepRecorder
from tests.faults.rawserver import MODEL as RAW_MODEL, RawRequest, RawServer, send
from tests.faults.support import CHAT, NESTED, bridge, completion
from tests.lifecycle.models_support import load_calls

QWEN = "qwen/qwen3-4b"
REST_LOAD = "/api/v1/models/load"


def rest_loads(sim: SimulatedLMStudio) -> int:
    return sum(1 for r in sim.requests if r.path == REST_LOAD)


def loaded(sim: SimulatedLMStudio) -> list[str]:
    return sorted(i.identifier for i in sim.loaded)


# --- lms: missing, hanging, out of memory, garbage ---------------------------------------------


async def test_without_lms_a_load_goes_through_rest(no_lms: Path) -> None:
    sim = SimulatedLMStudio()
    async with Bridge(transport=sim.transport(), lms_path=no_lms) as b:
        instance = await b.models.ensure_loaded(QWEN)
    assert instance.identifier == QWEN
    assert rest_loads(sim) == 1 and loaded(sim) == [QWEN]


async def lms_bridge(sim: SimulatedLMStudio, url: str, tmp_path: Path, **options: Any) -> Bridge:
    lms = install_simulated_lms(tmp_path / "bin", server_url=url)
    return Bridge(url, lms_path=lms, **options)


async def test_a_hanging_lms_is_killed_at_load_timeout(tmp_path: Path) -> None:
    sim = SimulatedLMStudio()
    sim.cli_config["hang"] = "load"
    async with sim.serve() as url, await lms_bridge(sim, url, tmp_path, load_timeout=0.5) as b:
        with pytest.raises(LmsTimeoutError):
            await b.models.ensure_loaded(QWEN)
    assert load_calls(sim) == [["load", QWEN, "-y"]]
    assert rest_loads(sim) == 0 and sim.loaded == []


async def test_lms_out_of_memory_says_how_much(tmp_path: Path) -> None:
    sim = SimulatedLMStudio()
    sim.cli_config["oom_gb"] = 42.5
    async with sim.serve() as url, await lms_bridge(sim, url, tmp_path) as b:
        with pytest.raises(InsufficientMemoryError) as caught:
            await b.models.ensure_loaded(QWEN)
    assert caught.value.required_gb == 42.5
    assert len(load_calls(sim)) == 1 and sim.loaded == []


async def test_deeply_nested_log_text_before_lms_json_is_skipped(tmp_path: Path) -> None:
    sim = SimulatedLMStudio(loaded=[QWEN], routes_disabled=["/api/v1", "/api/v0"])
    sim.cli_config["log_prefix"] = "[" * 3000 + "\n"
    async with sim.serve() as url, await lms_bridge(sim, url, tmp_path) as b:
        models = await b.models.list()
        assert b.models.source == "lms"
        instances = await b.models.loaded()
    assert QWEN in [m.key for m in models]
    assert [i.identifier for i in instances] == [QWEN]


def garbage_lms(directory: Path, url: str, garbage: str) -> Path:
    """An ``lms`` that answers ``server status`` like the simulated one and prints ``garbage``
    for everything else."""
    real = install_simulated_lms(directory / "real", server_url=url)
    script = directory / "lms"
    script.write_text(
        "#!/bin/sh\n"
        f'if [ "$1" = server ]; then exec {real} "$@"; fi\n'
        f"{sys.executable} -c 'import sys; sys.stdout.write(sys.argv[1])' '{garbage}'\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


@pytest.mark.parametrize("garbage", ["[" * 5000, "not json at all", '[{"key": 1}]'])
async def test_lms_printing_garbage_is_an_lms_error(tmp_path: Path, garbage: str) -> None:
    sim = SimulatedLMStudio(routes_disabled=["/api/v1", "/api/v0"])
    async with sim.serve() as url:
        lms = garbage_lms(tmp_path, url, garbage)
        async with Bridge(url, lms_path=lms) as b:
            with pytest.raises(LmsError):
                await b.models.list()
    assert [r.path for r in sim.requests if r.path.startswith("/v1/")] == []


# --- 5. a REST load abandoned by its caller ------------------------------------------------------


async def test_a_cancelled_rest_load_is_finished_by_a_waiter_not_repeated(no_lms: Path) -> None:
    sim = SimulatedLMStudio(load_delay=0.5)
    async with Bridge(transport=sim.transport(), lms_path=no_lms) as b:
        results: list[str] = []

        async def waiter() -> None:
            results.append((await b.models.ensure_loaded(QWEN)).identifier)

        async with anyio.create_task_group() as tg:
            with anyio.move_on_after(0.2):  # task A: cancelled at 0.2 s
                tg.start_soon(waiter)  # task B: waits on A's load
                await b.models.ensure_loaded(QWEN)
    assert results == [QWEN]
    assert rest_loads(sim) == 1
    assert loaded(sim) == [QWEN]  # no qwen/qwen3-4b:2
    await sim.wait_idle()


async def test_a_caller_after_a_cancelled_load_does_not_load_again(no_lms: Path) -> None:
    sim = SimulatedLMStudio(load_delay=0.4)
    async with Bridge(transport=sim.transport(), lms_path=no_lms) as b:
        with anyio.move_on_after(0.1):
            await b.models.ensure_loaded(QWEN)
        assert sim.loaded == []  # still loading on the server
        reply = await b.chat(QWEN, "hi")
    assert reply.text
    assert rest_loads(sim) == 1
    assert loaded(sim) == [QWEN]


# --- 8. options, listings ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "options",
    [{"context_length": "x"}, {"context_length": 0}, {"ttl": -1}, {"gpu": "lots"}],
    ids=["context-text", "context-zero", "ttl", "gpu"],
)
async def test_bad_load_options_are_refused_before_anything_is_sent(
    no_lms: Path, options: dict[str, Any]
) -> None:
    sim = SimulatedLMStudio()
    async with Bridge(transport=sim.transport(), lms_path=no_lms) as b:
        with pytest.raises(LmsArgumentError):
            await b.models.ensure_loaded(QWEN, **options)
    assert sim.requests == []


async def test_auto_load_off_needs_no_listing(no_lms: Path, sleeps: SleepRecorder) -> None:
    async def handler(request: RawRequest, reader: Any, writer: asyncio.StreamWriter) -> bool:
        if request.path == CHAT:
            return await send(writer, 200, completion())
        return await send(writer, 404, {"error": "no such route"})

    async with RawServer(handler, list_models=False) as server:
        async with bridge(server.url, no_lms, sleeps, auto_load=False) as b:
            first = await b.chat(RAW_MODEL, "hi")
            second = await b.chat(RAW_MODEL, "hi again")
        assert first.text == second.text == "ok"
        assert server.seen("POST", CHAT) == 2
        listings = [r.path for r in server.requests if r.method == "GET"]
        assert len(listings) == 3  # detected once; the second call asked nothing


async def test_a_nested_listing_is_reported_as_malformed(
    no_lms: Path, sleeps: SleepRecorder
) -> None:
    async def handler(request: RawRequest, reader: Any, writer: asyncio.StreamWriter) -> bool:
        return await send(writer, 200, NESTED)

    async with RawServer(handler, list_models=False) as server:
        async with bridge(server.url, no_lms, sleeps) as b:
            with pytest.raises(InvalidResponseError, match="listing is malformed"):
                await b.models.list()
        assert len(server.requests) == 3


async def test_a_cancelled_jit_load_is_not_repeated(no_lms: Path) -> None:
    # LM Studio 0.3.x: listings through /api/v0, loads through JIT (a 1-token chat).
    sim = SimulatedLMStudio(load_delay=0.4, routes_disabled=["/api/v1"])
    async with Bridge(transport=sim.transport(), lms_path=no_lms) as b:
        with anyio.move_on_after(0.1):
            await b.chat(QWEN, "first")
        assert sim.loaded == []  # still loading on the server
        reply = await b.chat(QWEN, "second")
        assert b.models.source == "/api/v0/models"
    jit_loads = [r for r in sim.requests if r.path == CHAT and r.body.get("max_tokens") == 1]
    assert reply.text
    assert len(jit_loads) == 1
    assert loaded(sim) == [QWEN]
