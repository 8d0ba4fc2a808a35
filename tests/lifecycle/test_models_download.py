"""bridge.models.download(): LM Studio 0.4's download jobs, else `lms get` (#10)."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from lmbridge import DownloadError, ModelNotFoundError, SyncBridge
from lmbridge.testing import SimModel, SimulatedLMStudio
from tests.lifecycle.models_support import MakeManager, ServeManager, requests_to

GRANITE = "ibm/granite-4-micro"
QWEN = "qwen/qwen3-4b"
START = "/api/v1/models/download"


def granite() -> SimModel:
    return SimModel(key=GRANITE, size_bytes=2_279_145_003, display_name="Granite 4 Micro")


def status_polls(sim: SimulatedLMStudio) -> int:
    return len([r for r in sim.requests if r.path.startswith(f"{START}/status/")])


async def test_a_download_reports_bytes_as_they_arrive(make_manager: MakeManager) -> None:
    sim = SimulatedLMStudio(downloadable=[granite()], download_seconds=0.6)
    manager = make_manager(sim)
    progress: list[float] = []

    model = await manager.download(GRANITE, on_progress=progress.append)

    assert model.key == GRANITE
    assert model.display_name == "Granite 4 Micro"
    assert GRANITE in {m.key for m in await manager.list()}
    assert progress[-1] == 1.0
    assert len(progress) >= 3  # steps in between, not only the end
    assert progress == sorted(set(progress))
    assert all(0.0 < fraction <= 1.0 for fraction in progress)
    assert requests_to(sim, "POST", START) == [{"model": GRANITE}]
    assert status_polls(sim) >= 2


async def test_a_downloaded_model_is_returned_at_once(make_manager: MakeManager) -> None:
    sim = SimulatedLMStudio()
    manager = make_manager(sim)
    progress: list[float] = []

    model = await manager.download(QWEN, on_progress=progress.append)

    assert model.key == QWEN
    assert progress == [1.0]
    assert status_polls(sim) == 0


async def test_quantization_and_links_are_sent_as_documented(make_manager: MakeManager) -> None:
    sim = SimulatedLMStudio(downloadable=[granite()])
    link = "https://huggingface.co/lmstudio-community/granite-4-micro-GGUF"

    model = await make_manager(sim).download(link, quantization="Q4_K_M")

    assert model.key == GRANITE  # the one model the download added
    assert requests_to(sim, "POST", START) == [{"model": link, "quantization": "Q4_K_M"}]


async def test_a_failed_download_is_a_download_error_with_the_reason(
    make_manager: MakeManager,
) -> None:
    sim = SimulatedLMStudio(downloadable=[granite()], download_seconds=0.2)
    sim.fail_download(GRANITE, "Not enough disk space")
    progress: list[float] = []

    with pytest.raises(DownloadError) as caught:
        await make_manager(sim).download(GRANITE, on_progress=progress.append)

    assert caught.value.reason == "Not enough disk space"
    assert caught.value.job_id is not None and caught.value.job_id.startswith("job_")
    assert caught.value.key == GRANITE
    assert 1.0 not in progress


async def test_an_unknown_model_is_a_download_error(make_manager: MakeManager) -> None:
    sim = SimulatedLMStudio()
    with pytest.raises(DownloadError) as caught:
        await make_manager(sim).download("nobody/nothing")
    assert "nobody/nothing" in (caught.value.reason or "")


async def test_cancelling_leaves_no_poller_behind(make_manager: MakeManager) -> None:
    sim = SimulatedLMStudio(downloadable=[granite()], download_seconds=30)
    manager = make_manager(sim)
    started = anyio.Event()

    async with anyio.create_task_group() as tg:

        async def download() -> None:
            await manager.download(GRANITE, on_progress=lambda _fraction: started.set())

        tg.start_soon(download)
        await started.wait()
        tg.cancel_scope.cancel()
    polls = status_polls(sim)
    await anyio.sleep(1.5)  # longer than the longest wait between polls
    assert status_polls(sim) == polls


async def test_without_the_rest_api_lms_get_downloads(serve_manager: ServeManager) -> None:
    sim = SimulatedLMStudio(downloadable=[granite()], routes_disabled={START})
    async with serve_manager(sim) as manager:
        progress: list[float] = []
        model = await manager.download(GRANITE, on_progress=progress.append)
    assert model.key == GRANITE
    assert ["get", GRANITE, "-y"] in sim.cli_calls
    assert progress == [1.0]


async def test_without_rest_api_or_lms_the_error_says_what_is_needed(
    make_manager: MakeManager,
) -> None:
    sim = SimulatedLMStudio(downloadable=[granite()], routes_disabled={START})
    with pytest.raises(DownloadError) as caught:
        await make_manager(sim).download(GRANITE)
    assert "0.4" in caught.value.message
    assert "lms" in caught.value.message


async def test_ensure_loaded_downloads_first_only_when_asked(make_manager: MakeManager) -> None:
    sim = SimulatedLMStudio(downloadable=[granite()])
    manager = make_manager(sim)
    with pytest.raises(ModelNotFoundError):
        await manager.ensure_loaded(GRANITE)
    assert requests_to(sim, "POST", START) == []

    instance = await manager.ensure_loaded(GRANITE, download=True)

    assert instance.model_key == GRANITE
    assert [i.identifier for i in sim.loaded] == [GRANITE]


def test_the_sync_bridge_downloads_too(tmp_path: Path) -> None:
    sim = SimulatedLMStudio(downloadable=[granite()])
    with SyncBridge(transport=sim.transport()) as bridge:
        assert bridge.models.download(GRANITE).key == GRANITE
