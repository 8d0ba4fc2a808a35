"""A simulated LM Studio on loopback with a simulated ``lms``, and the environment that makes the
server subprocess use both."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from lmbridge.testing import SimulatedLMStudio, install_simulated_lms
from tests.mcp_server.support import QWEN

# The server needs the mcp SDK 2.x. Under 1.x (CI runs tests/agent there, not this directory) only
# the command-line checks run; the server's tests would fail on what 1.x lacks, not on lmbridge.
try:
    import mcp.server.mcpserver  # noqa: F401
except ImportError:
    collect_ignore_glob = ["test_tools.py", "test_autonomous.py"]


@dataclass
class Served:
    sim: SimulatedLMStudio
    url: str
    env: dict[str, str]


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    sim = SimulatedLMStudio(loaded=[QWEN])
    async with sim.serve() as url:
        lms = install_simulated_lms(tmp_path / "lms-bin", server_url=url)
        yield Served(sim=sim, url=url, env={"LMS_PATH": str(lms)})
