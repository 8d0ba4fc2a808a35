"""The demo on a real server (the simulator on loopback): it touches only what is loaded."""

from __future__ import annotations

import re

from lmbridge.testing import SimulatedLMStudio
from tests.cli.conftest import CLI, QWEN


async def test_the_demo_uses_only_loaded_models(cli: CLI, sim: SimulatedLMStudio) -> None:
    run = await cli("demo")
    assert run.status == 0, run.stderr
    assert f"A server answers at {cli.url}" in run.stdout
    assert "1 model answering at once" in run.stdout
    # No eviction section on a real server, and still no gap in the numbering.
    assert re.findall(r"^(\d+)\. ", run.stdout, re.M) == ["1", "2", "3", "4"]
    assert [instance.identifier for instance in sim.loaded] == [QWEN]
    assert "Next steps" in run.stdout


async def test_with_nothing_loaded_it_loads_nothing_and_says_what_to_do(
    cli: CLI, sim: SimulatedLMStudio
) -> None:
    sim.unload(QWEN)
    run = await cli("demo")
    assert run.status == 1
    assert "lmbridge demo --load" in run.stdout and "lmbridge load" in run.stdout
    assert sim.loaded == []
    assert not [r for r in sim.requests if r.method == "POST"]


async def test_with_load_it_loads_the_smallest_chat_models(
    cli: CLI, sim: SimulatedLMStudio
) -> None:
    sim.unload(QWEN)
    run = await cli("demo", "--load")
    assert run.status == 0, run.stderr
    loaded = {instance.identifier for instance in sim.loaded}
    assert loaded == {QWEN, "qwen/qwen3-4b-thinking-2507", "google/gemma-3-4b"}
    assert "openai/gpt-oss-20b" not in run.stdout  # the 20B model is left alone
