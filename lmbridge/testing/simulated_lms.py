"""Installing the simulated ``lms`` executable for tests.

:func:`install_simulated_lms` writes an executable ``lms`` wrapper into a directory; hand its path to
``LmsCli(path=...)`` or ``Bridge(lms_path=...)``. Every invocation is recorded by the simulated
server; :func:`read_cli_calls` returns the record.

Example:
    ```python
    sim = SimulatedLMStudio()
    async with sim.serve() as url:
        lms = install_simulated_lms(tmp_path, server_url=url)
        cli = LmsCli(path=lms)
        await cli.load("qwen/qwen3-4b")
        assert await read_cli_calls(url) == [["load", "qwen/qwen3-4b", "-y"]]
    ```
"""

from __future__ import annotations

import shlex
import stat
import sys
from pathlib import Path

import httpx

from lmbridge.testing import lms_cli

__all__ = ["install_simulated_lms", "read_cli_calls"]


def install_simulated_lms(directory: Path, *, server_url: str) -> Path:
    """Write an executable ``lms`` into ``directory`` that simulates the CLI against a server.

    The wrapper runs :mod:`lmbridge.testing.lms_cli` with this interpreter, in isolated mode (``-I``)
    and by file path, so that it starts fast and nothing in the caller's working directory or
    environment can shadow a module. ``LMBRIDGE_SIM_URL`` is baked in.

    Args:
        directory: where to write the script (created if missing).
        server_url: the simulated LM Studio's base URL, e.g. from ``SimulatedLMStudio.serve()``.

    Returns:
        The path of the executable.
    """
    directory.mkdir(parents=True, exist_ok=True)
    program = Path(lms_cli.__file__).resolve()
    script = directory / "lms"
    script.write_text(
        "#!/bin/sh\n"
        "# Simulated LM Studio CLI (lmbridge.testing).\n"
        f"{lms_cli.ENV_URL}={shlex.quote(server_url)}\n"
        f"export {lms_cli.ENV_URL}\n"
        f'exec {shlex.quote(sys.executable)} -I {shlex.quote(str(program))} "$@"\n',
        encoding="utf-8",
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return script


async def read_cli_calls(server_url: str) -> list[list[str]]:
    """The argument lists of every ``lms`` invocation the simulated server recorded, oldest first.

    Args:
        server_url: the simulated LM Studio's base URL.
    """
    async with httpx.AsyncClient(base_url=server_url.rstrip("/"), timeout=10.0) as client:
        response = await client.get("/__sim__/cli-calls")
        response.raise_for_status()
        data = response.json()
    calls = data.get("calls", []) if isinstance(data, dict) else data
    return [[str(arg) for arg in call] for call in calls]
