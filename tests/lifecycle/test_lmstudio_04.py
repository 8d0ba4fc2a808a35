"""LM Studio 0.4 as its own documentation, `lms` source and SDK types describe it (#10)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from lmbridge.errors import InsufficientMemoryError, ModelNotFoundError
from lmbridge.lifecycle.lms import LmsCli
from lmbridge.lifecycle.models import ModelManager
from lmbridge.testing import SimModel, SimulatedLMStudio
from lmbridge.testing.simulated_lms import install_simulated_lms
from lmbridge.transport.client import HTTPTransport
from lmbridge.transport.retry import RetryPolicy
from tests.documented_examples import LIST_MODELS
from tests.lifecycle.models_support import MakeManager, ServeManager, missing_lms

QWEN = "qwen/qwen3-4b"


# --- 5. lms load: progress only in new CLIs, every time format, remote devices ------------------


@pytest.mark.parametrize(
    ("elapsed_ms", "seconds"),
    [(850.0, 0.85), (6880.0, 6.88), (65230.0, 65.23), (3_602_000.0, 3602.0)],
)
async def test_lms_load_time_in_every_format(
    tmp_path: Path, elapsed_ms: float, seconds: float
) -> None:
    sim = SimulatedLMStudio()
    async with sim.serve() as url:
        cli = LmsCli(path=install_simulated_lms(tmp_path / "bin", server_url=url))
        sim.cli_config = {"elapsed_ms": elapsed_ms}
        outcome = await cli.load(QWEN)
    assert outcome.load_seconds == pytest.approx(seconds)
    assert outcome.device is None


async def test_a_remote_load_reports_its_device_and_progress(tmp_path: Path) -> None:
    sim = SimulatedLMStudio(models=[SimModel(key="big/model-50", devices=(None, "mac-studio"))])
    async with sim.serve() as url:
        cli = LmsCli(path=install_simulated_lms(tmp_path / "bin", server_url=url))
        sim.cli_config = {"device": "mac-studio", "elapsed_ms": 65230, "progress_steps": 4}
        seen: list[float] = []
        outcome = await cli.load("big/model-50", on_progress=seen.append)
    assert outcome.device == "mac-studio"
    assert outcome.load_seconds == pytest.approx(65.23)
    assert seen == [0.25, 0.5, 0.75, 1.0]  # "50" in the key is not progress


async def test_an_old_cli_without_percentages_reports_only_the_end(tmp_path: Path) -> None:
    sim = SimulatedLMStudio()
    async with sim.serve() as url:
        cli = LmsCli(path=install_simulated_lms(tmp_path / "bin", server_url=url))
        sim.cli_config = {"spinner_percent": False, "progress_steps": 5}
        seen: list[float] = []
        await cli.load("qwen/qwen3-4b-thinking-2507", on_progress=seen.append)
    assert seen == [1.0]


# --- 6. a failed REST unload is checked against the listing ------------------------------------


class EvictFirst(httpx.AsyncBaseTransport):
    """Evicts the instance a REST unload names just before the request arrives (as LM Studio's
    TTL or auto-evict could), so the unload itself fails."""

    def __init__(self, sim: SimulatedLMStudio) -> None:
        self._sim = sim
        self._inner = sim.transport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v1/models/unload":
            await request.aread()
            self._sim.evict(json.loads(request.content)["instance_id"])
        return await self._inner.handle_async_request(request)


async def test_an_unload_that_fails_because_the_instance_is_gone_succeeds(tmp_path: Path) -> None:
    sim = SimulatedLMStudio(loaded=[QWEN])
    rest = HTTPTransport(
        base_url=sim.base_url, transport=EvictFirst(sim), retry=RetryPolicy(max_retries=0)
    )
    try:
        manager = ModelManager(rest=rest, lms=missing_lms(tmp_path))
        assert await manager.unload(QWEN) == [QWEN]
    finally:
        await rest.aclose()
    assert sim.loaded == []


# --- 7. capabilities, optional fields, load configs ---------------------------------------------


def documented_server(payload: dict[str, Any]) -> httpx.MockTransport:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v1/models":
            return httpx.Response(200, json=payload)
        return httpx.Response(200, json={"error": "Unexpected endpoint or method."})

    return httpx.MockTransport(answer)


async def test_the_documented_listing_parses_with_reasoning_options_and_configs(
    tmp_path: Path,
) -> None:
    rest = HTTPTransport(base_url="http://lms.test", transport=documented_server(LIST_MODELS))
    try:
        models = {m.key: m for m in await ModelManager(rest=rest, lms=missing_lms(tmp_path)).list()}
    finally:
        await rest.aclose()
    gemma = models["google/gemma-4-26b-a4b"]
    assert gemma.reasoning_options == ("off", "on")
    assert gemma.reasoning_default == "on"
    assert gemma.capabilities.reasoning is True
    assert gemma.instances[0].load_config == {
        "context_length": 4096,
        "eval_batch_size": 512,
        "parallel": 4,
        "flash_attention": True,
        "num_experts": 8,
        "offload_kv_cache_to_gpu": True,
    }
    assert models["deepseek-r1"].reasoning_options == ("on",)
    embedding = models["text-embedding-nomic-embed-text-v1.5-embedding"]
    assert embedding.type == "embedding"
    assert embedding.architecture is None
    assert embedding.capabilities.reasoning is None
    assert embedding.reasoning_options == ()


async def test_a_model_whose_reasoning_default_is_off_does_not_reason_by_default(
    make_manager: MakeManager,
) -> None:
    sim = SimulatedLMStudio(
        models=[
            SimModel(key="a/switchable", reasoning_options=("off", "on"), reasoning_default="off"),
            SimModel(key="a/thinker", reasoning_shape="reasoning_content"),
        ]
    )
    models = {m.key: m for m in await make_manager(sim).list()}
    assert models["a/switchable"].capabilities.reasoning is False
    assert models["a/switchable"].reasoning_default == "off"
    assert models["a/thinker"].capabilities.reasoning is True
    assert models["a/thinker"].reasoning_options == ("off", "on")


# --- 8. LM Link devices -----------------------------------------------------------------------


async def test_local_and_remote_copies_stay_apart(serve_manager: ServeManager) -> None:
    # Devices come from `lms ls/ps` (and the SDK); REST v1 rows name none, so lms is the source.
    sim = SimulatedLMStudio(
        models=[SimModel(key=QWEN, devices=(None, "mac-studio"))],
        routes_disabled={"/api/v1", "/api/v0"},
    )
    sim.load(QWEN)
    sim.load(QWEN, device="mac-studio")
    async with serve_manager(sim) as manager:
        models = await manager.list()
        loaded = await manager.loaded()
    assert [(m.key, m.device) for m in models] == [(QWEN, None), (QWEN, "mac-studio")]
    assert [i.identifier for i in models[0].instances] == [QWEN]
    assert [i.identifier for i in models[1].instances] == [f"{QWEN}:2"]
    assert {(i.identifier, i.device) for i in loaded} == {(QWEN, None), (f"{QWEN}:2", "mac-studio")}
    assert loaded[0].load_config == {"context_length": 4096, "parallel": 4}


async def test_a_key_on_two_devices_is_not_ambiguous(serve_manager: ServeManager) -> None:
    sim = SimulatedLMStudio(models=[SimModel(key=QWEN, devices=(None, "mac-studio"))])
    async with serve_manager(sim) as manager:
        assert (await manager.get("qwen3-4b")).key == QWEN


# --- 9. simulated lms details -------------------------------------------------------------------


async def run_lms(lms: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    with anyio.fail_after(30):
        return await anyio.run_process([str(lms), *args], stdin=subprocess.DEVNULL, check=False)


async def test_lms_load_exact_matches_the_model_path(tmp_path: Path) -> None:
    sim = SimulatedLMStudio()
    async with sim.serve() as url:
        lms = install_simulated_lms(tmp_path / "bin", server_url=url)
        by_key = await run_lms(lms, "load", "--exact", QWEN, "-y")
        by_path = await run_lms(lms, "load", "--exact", "qwen/Qwen3-4B-GGUF/Qwen3-4B-Q4_K_M.gguf")
    assert by_key.returncode == 1
    assert b"path being exactly" in by_key.stderr
    assert by_path.returncode == 0
    assert [i.identifier for i in sim.loaded] == [QWEN]


async def test_lms_server_status_json_keeps_the_port_when_stopped(tmp_path: Path) -> None:
    sim = SimulatedLMStudio()
    async with sim.serve() as url:
        lms = install_simulated_lms(tmp_path / "bin", server_url=url)
        sim.cli_config = {"server_not_running": True}
        result = await run_lms(lms, "server", "status", "--json")
        port = sim.port
    assert json.loads(result.stdout) == {"running": False, "port": port}


# --- 1 and 4 on the REST load: the v1 error type, 0.4.4's out-of-memory wording ---------------


def rest_load_answering(status: int, error: dict[str, Any]) -> httpx.MockTransport:
    """LM Studio 0.4 listing the default catalogue, whose REST load answers ``error``."""
    sim = SimulatedLMStudio()
    inner = sim.transport()

    async def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v1/models/load":
            return httpx.Response(status, json={"error": error})
        return await inner.handle_async_request(request)

    return httpx.MockTransport(answer)


async def test_a_v1_model_not_found_on_load_is_not_followed_by_jit(tmp_path: Path) -> None:
    calls: list[str] = []
    transport = rest_load_answering(
        404, {"type": "model_not_found", "message": "Cannot load 'qwen/qwen3-4b' right now."}
    )

    async def recording(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        return await transport.handle_async_request(request)

    rest = HTTPTransport(
        base_url="http://lms.test",
        transport=httpx.MockTransport(recording),
        retry=RetryPolicy(max_retries=0),
    )
    try:
        manager = ModelManager(rest=rest, lms=missing_lms(tmp_path))
        with pytest.raises(ModelNotFoundError):
            await manager.ensure_loaded(QWEN)
    finally:
        await rest.aclose()
    assert "/v1/chat/completions" not in calls  # no silent JIT attempt


async def test_the_0_4_4_out_of_memory_wording_on_the_rest_load(tmp_path: Path) -> None:
    message = "Not enough resources to load the model with the current settings"
    rest = HTTPTransport(
        base_url="http://lms.test",
        transport=rest_load_answering(400, {"type": "invalid_request", "message": message}),
        retry=RetryPolicy(max_retries=0),
    )
    try:
        manager = ModelManager(rest=rest, lms=missing_lms(tmp_path))
        with pytest.raises(InsufficientMemoryError):
            await manager.ensure_loaded(QWEN)
    finally:
        await rest.aclose()
