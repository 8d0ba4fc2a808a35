"""LmsCli end to end against the simulated `lms` and the simulated LM Studio on loopback."""

from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import pytest

from lmbridge.errors import (
    InsufficientMemoryError,
    LmsTimeoutError,
    LmsUnreachableError,
    ModelNotFoundError,
    ModelNotLoadedError,
)
from lmbridge.lifecycle.lms import LmsCli
from lmbridge.testing import SimulatedLMStudio
from lmbridge.testing.simulated_lms import install_simulated_lms, read_cli_calls

QWEN = "qwen/qwen3-4b"


@dataclass
class Served:
    sim: SimulatedLMStudio
    url: str
    lms: Path
    cli: LmsCli

    async def run(self, *args: str) -> subprocess.CompletedProcess[bytes]:
        """Run the simulated lms directly, stdin closed, like a non-interactive caller."""
        with anyio.fail_after(30):
            return await anyio.run_process(
                [str(self.lms), *args], stdin=subprocess.DEVNULL, check=False
            )


@asynccontextmanager
async def serving(tmp_path: Path, **options: Any) -> AsyncIterator[Served]:
    """The simulator on loopback with QWEN loaded, and the simulated lms pointing at it.

    (A context manager rather than an async fixture: the server's task group must be entered and
    left in the test's own task.)
    """
    sim = SimulatedLMStudio(loaded=[QWEN], **options)
    async with sim.serve() as url:
        lms = install_simulated_lms(tmp_path / "bin", server_url=url)
        yield Served(sim, url, lms, LmsCli(path=lms, command_timeout=30))


def processes_with_env(marker: str) -> list[int]:
    """Live processes (not zombies) whose environment contains ``marker``."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if marker.encode() in (proc / "environ").read_bytes():
                found.append(int(proc.name))
        except OSError:
            continue
    return found


# --- listing ---------------------------------------------------------------------------------


async def test_ps_ls_and_server_status(tmp_path: Path) -> None:
    async with serving(tmp_path) as served:
        (instance,) = await served.cli.ps()
        assert instance.identifier == QWEN
        assert instance.status == "idle"
        assert instance.queued == 0

        models = await served.cli.ls()
        keys = [model.model_key for model in models]
        assert QWEN in keys
        assert {model.type for model in models} == {"llm", "embedding"}

        status = await served.cli.server_status()
        assert status.running is True
        assert status.port == served.sim.port

        assert await read_cli_calls(served.url) == [
            ["ps", "--json"],
            ["ls", "--json"],
            ["server", "status", "--json"],
        ]
        assert served.sim.cli_calls == await read_cli_calls(served.url)


async def test_busy_statuses_come_through(tmp_path: Path) -> None:
    async with serving(tmp_path) as served:
        served.sim.set_status(QWEN, "generating", queued=3)
        (instance,) = await served.cli.ps()
        assert (instance.status, instance.queued) == ("generating", 3)


async def test_old_cli_without_status_and_with_log_text(tmp_path: Path) -> None:
    async with serving(tmp_path) as served:
        served.sim.cli_config = {"omit_status": True, "log_prefix": True}
        (instance,) = await served.cli.ps()
        assert instance.identifier == QWEN
        assert instance.status is None
        assert instance.queued is None
        assert (await served.cli.server_status()).running is True


# --- loading -------------------------------------------------------------------------------


async def test_load_passes_options_and_reports_progress(tmp_path: Path) -> None:
    async with serving(tmp_path) as served:
        served.sim.cli_config = {"progress_steps": 5, "load_seconds": 0.2}
        seen: list[float] = []

        outcome = await served.cli.load(
            "google/gemma-3-4b",
            ttl=60,
            context_length=2048,
            identifier="mine",
            on_progress=seen.append,
        )

        assert outcome.identifier == "mine"
        assert outcome.load_seconds is not None
        assert outcome.size_text is not None
        assert outcome.size_text.endswith("GiB")
        assert seen == [0.2, 0.4, 0.6, 0.8, 1.0]
        instance = served.sim.instance("mine")
        assert instance is not None
        assert (instance.key, instance.context_length, instance.ttl) == (
            "google/gemma-3-4b",
            2048,
            60,
        )
        assert served.sim.cli_calls[-1] == [
            "load",
            "google/gemma-3-4b",
            "-y",
            "--ttl",
            "60",
            "-c",
            "2048",
            "--identifier",
            "mine",
        ]


async def test_load_of_a_loaded_key_creates_a_duplicate_instance(tmp_path: Path) -> None:
    async with serving(tmp_path) as served:
        outcome = await served.cli.load(QWEN)
        assert outcome.identifier == f"{QWEN}:2"
        assert [i.identifier for i in await served.cli.ps()] == [QWEN, f"{QWEN}:2"]


async def test_fuzzy_key_under_yes_silently_loads_the_first_match(tmp_path: Path) -> None:
    async with serving(tmp_path) as served:
        served.sim.unload_all()
        outcome = await served.cli.load("qwen3")
        # Not an error: this is why only exact keys may reach `lms load`.
        assert outcome.identifier == QWEN
        outcome = await served.cli.load("thinking")
        assert outcome.identifier == "qwen/qwen3-4b-thinking-2507"


async def test_without_yes_the_picker_fails_on_closed_stdin(tmp_path: Path) -> None:
    async with serving(tmp_path) as served:
        result = await served.run("load", "qwen")
        assert result.returncode != 0
        assert b"Select a model" in result.stdout
        assert [i.identifier for i in served.sim.loaded] == [QWEN]


async def test_unknown_model(tmp_path: Path) -> None:
    async with serving(tmp_path) as served:
        with pytest.raises(ModelNotFoundError) as caught:
            await served.cli.load("no-such-model-anywhere")
        assert caught.value.model == "no-such-model-anywhere"
        assert "Model not found" in (caught.value.body or "")


async def test_out_of_memory_from_the_cli_quirk(tmp_path: Path) -> None:
    async with serving(tmp_path) as served:
        served.sim.cli_config = {"oom_gb": 117.19}
        seen: list[float] = []
        with pytest.raises(InsufficientMemoryError) as caught:
            await served.cli.load("openai/gpt-oss-20b", on_progress=seen.append)
        assert caught.value.required_gb == pytest.approx(117.19)
        assert seen
        assert seen[-1] < 1.0
        assert served.sim.instance("openai/gpt-oss-20b") is None


async def test_out_of_memory_in_0_4_4_wording(tmp_path: Path) -> None:
    async with serving(tmp_path) as served:
        served.sim.cli_config = {
            "load_error": "Not enough resources to load the model with the current settings"
        }
        with pytest.raises(InsufficientMemoryError) as caught:
            await served.cli.load("openai/gpt-oss-20b")
        assert caught.value.required_gb is None
        assert "Not enough resources" in caught.value.message
        assert served.sim.instance("openai/gpt-oss-20b") is None


async def test_out_of_memory_from_the_server(tmp_path: Path) -> None:
    sim = SimulatedLMStudio(memory_limit_bytes=1_000_000)
    async with sim.serve() as url:
        cli = LmsCli(path=install_simulated_lms(tmp_path, server_url=url))
        with pytest.raises(InsufficientMemoryError) as caught:
            await cli.load("openai/gpt-oss-20b")
    assert caught.value.required_gb is not None
    assert caught.value.required_gb > 1


async def test_estimate_only_loads_nothing_and_judges_against_free_memory(tmp_path: Path) -> None:
    qwen_size = 2_497_281_312
    # Room for QWEN twice, not three times: the verdict is about the memory free now.
    async with serving(tmp_path, memory_limit_bytes=2 * qwen_size + 1) as served:
        result = await served.run("load", QWEN, "-y", "--estimate-only", "-c", "8192")
        assert result.returncode == 0 and result.stdout == b""
        assert result.stderr.decode().splitlines() == [
            f"Model: {QWEN}",
            "Context Length: 8,192",
            "Estimated GPU Memory:   2.33 GiB",
            "Estimated Total Memory: 2.33 GiB",
            "",
            "Estimate: This model may be loaded based on your resource guardrails settings.",
        ]
        estimate = await served.cli.estimate(QWEN, context_length=8192, gpu="max")
        assert estimate.total_bytes == round(2.33 * 1024**3)
        assert estimate.passes_guardrails is True
        served.sim.load(QWEN)  # QWEN:2 takes the rest
        assert (await served.cli.estimate(QWEN)).passes_guardrails is False
        assert [inst.identifier for inst in served.sim.loaded] == [QWEN, f"{QWEN}:2"]
        # The machine's total memory is what it is, whatever is loaded.
        assert await served.cli.total_memory() == 2 * qwen_size + 1


async def test_unknown_option_is_rejected_like_the_real_cli(tmp_path: Path) -> None:
    async with serving(tmp_path) as served:
        result = await served.run("load", QWEN, "--keep-loaded")
        assert result.returncode == 2
        assert b"unrecognized arguments" in result.stderr


# --- unloading -----------------------------------------------------------------------------


async def test_unload_one_then_all(tmp_path: Path) -> None:
    async with serving(tmp_path) as served:
        await served.cli.load(QWEN)
        await served.cli.unload(QWEN)
        assert [i.identifier for i in await served.cli.ps()] == [f"{QWEN}:2"]
        await served.cli.unload(all_instances=True)
        assert await served.cli.ps() == []
        await served.cli.unload(all_instances=True)  # nothing left: still fine


async def test_unload_of_an_unknown_identifier_exits_zero_but_raises(tmp_path: Path) -> None:
    async with serving(tmp_path) as served:
        result = await served.run("unload", "ghost")
        assert result.returncode == 0
        assert b"Cannot find a model with the identifier" in result.stderr

        with pytest.raises(ModelNotLoadedError) as caught:
            await served.cli.unload("ghost")
        assert caught.value.model == "ghost"


# --- failure quirks ------------------------------------------------------------------------


async def test_unreachable(tmp_path: Path) -> None:
    async with serving(tmp_path) as served:
        served.sim.cli_config = {"unreachable": True}
        with pytest.raises(LmsUnreachableError) as caught:
            await served.cli.ps()
        assert caught.value.exit_code == 1
        assert caught.value.command[1:] == ["ps", "--json"]


async def test_unreachable_for_one_command_only(tmp_path: Path) -> None:
    async with serving(tmp_path) as served:
        served.sim.cli_config = {"unreachable": "load"}
        assert len(await served.cli.ps()) == 1
        with pytest.raises(LmsUnreachableError):
            await served.cli.load(QWEN)


async def test_a_server_that_is_gone_means_unreachable(tmp_path: Path) -> None:
    sim = SimulatedLMStudio()
    async with sim.serve() as url:
        pass
    cli = LmsCli(path=install_simulated_lms(tmp_path, server_url=url))
    with pytest.raises(LmsUnreachableError):
        await cli.ps()


async def test_a_hanging_cli_is_killed_and_reaped(tmp_path: Path) -> None:
    async with serving(tmp_path) as served:
        served.sim.cli_config = {"hang": True}
        cli = LmsCli(path=served.lms, command_timeout=3)
        with pytest.raises(LmsTimeoutError):
            await cli.ps()
        assert served.sim.cli_calls == [["ps", "--json"]]  # it did start and hang
        assert processes_with_env(f"LMBRIDGE_SIM_URL={served.url}") == []


async def test_cancelling_a_load_kills_the_cli(tmp_path: Path) -> None:
    async with serving(tmp_path) as served:
        served.sim.cli_config = {"load_seconds": 60, "progress_steps": 60}
        with anyio.CancelScope() as scope:
            await served.cli.load("google/gemma-3-4b", on_progress=lambda _f: scope.cancel())
        assert scope.cancelled_caught
        assert processes_with_env(f"LMBRIDGE_SIM_URL={served.url}") == []
        assert served.sim.instance("google/gemma-3-4b") is None


# --- the wrapper ---------------------------------------------------------------------------


async def test_wrapper_survives_awkward_directory_names(tmp_path: Path) -> None:
    sim = SimulatedLMStudio()
    async with sim.serve() as url:
        lms = install_simulated_lms(tmp_path / "it's a $dir with spaces", server_url=url)
        assert lms.name == "lms"
        assert await LmsCli(path=lms).ps() == []
    assert sim.cli_calls == [["ps", "--json"]]
