"""Running ``lmbridge`` as a user does: a subprocess against a simulated LM Studio on loopback.

The simulator is served from the test's own event loop, so a test can script it and look at its
state while the command runs; the command itself is a separate process, so what is tested is the
installed entry point, its exit status and its two streams.
"""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import anyio
import pytest

from lmbridge.testing import SimulatedLMStudio

QWEN = "qwen/qwen3-4b"
GEMMA = "google/gemma-3-4b"

# Runs the CLI with `rich` made unimportable: the plain-text fallback of a bare install.
WITHOUT_RICH = (
    "import sys; sys.modules['rich'] = None; from lmbridge.cli import main; sys.exit(main())"
)


@dataclass(frozen=True)
class Run:
    """What one command did."""

    status: int
    stdout: str
    stderr: str


@dataclass
class CLI:
    """Runs ``python -m lmbridge`` against one server, in a clean environment."""

    url: str
    home: Path
    lms_path: Path | None = None

    def env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        env = {
            key: value
            for key, value in os.environ.items()
            if key not in {"LM_API_TOKEN", "LMSTUDIO_API_TOKEN", "NO_COLOR", "LMS_PATH"}
        }
        # No real `lms` may be found: HOME holds no LM Studio, PATH only this interpreter.
        env.update(
            HOME=str(self.home),
            PATH=str(Path(sys.executable).parent),
            LMBRIDGE_BASE_URL=self.url,
            PYTHONIOENCODING="utf-8",
        )
        if self.lms_path is not None:
            env["LMS_PATH"] = str(self.lms_path)
        env.update(extra or {})
        return env

    async def __call__(
        self,
        *args: str,
        stdin: str | None = None,
        env: Mapping[str, str] | None = None,
        plain: bool = False,
        typed: str | None = None,
    ) -> Run:
        """Run a command; ``stdin`` is piped in, or ``typed`` is typed at a terminal (a pty)."""
        start: Sequence[str] = ("-c", WITHOUT_RICH) if plain else ("-m", "lmbridge")
        command = [sys.executable, *start, *args]
        with anyio.fail_after(60):
            if typed is None:
                done = await anyio.run_process(
                    command, input=(stdin or "").encode(), check=False, env=self.env(env)
                )
            else:
                keyboard, terminal = os.openpty()
                try:
                    os.write(keyboard, typed.encode())  # held by the terminal until read
                    done = await anyio.run_process(
                        command, stdin=terminal, check=False, env=self.env(env)
                    )
                finally:
                    os.close(keyboard)
                    os.close(terminal)
        return Run(done.returncode, done.stdout.decode(), done.stderr.decode())


@pytest.fixture
async def sim() -> AsyncIterator[SimulatedLMStudio]:
    simulator = SimulatedLMStudio(loaded=[QWEN])
    async with simulator.serve():
        yield simulator


@pytest.fixture
def cli(sim: SimulatedLMStudio, tmp_path: Path) -> CLI:
    assert sim.port is not None
    return CLI(url=f"http://127.0.0.1:{sim.port}", home=tmp_path)


def assert_no_traceback(run: Run) -> None:
    assert "Traceback" not in run.stderr + run.stdout
