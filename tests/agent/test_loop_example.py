"""``examples/agent_mcp.py`` runs as documented (simulated model, real mcp-server-time)."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import anyio

from tests.agent.loop_support import skip_or_fail

EXAMPLE = Path(__file__).parents[2] / "examples" / "agent_mcp.py"


async def test_the_agent_mcp_example_runs() -> None:
    if importlib.util.find_spec("mcp_server_time") is None:
        skip_or_fail("mcp-server-time is not installed (pip install -e '.[dev]')")
    with anyio.fail_after(60):
        # Nothing listens on port 9: the example must take its simulated model, not a local server.
        env = {**os.environ, "LMBRIDGE_BASE_URL": "http://127.0.0.1:9"}
        done = await anyio.run_process([sys.executable, str(EXAMPLE)], check=False, env=env)
    output = done.stdout.decode()
    assert done.returncode == 0, done.stderr.decode()
    assert "-> get_current_time(" in output
    assert "=== completed after 3 rounds" in output
    assert "Answer: It is " in output and "(Asia/Tokyo)." in output
    assert "UTC now: " in output  # the session outlived the run
