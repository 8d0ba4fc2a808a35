"""Fixtures of the fault matrix: a leak check around every test, a Bridge without ``lms``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.lifecycle.models_support import child_processes


class SleepRecorder:
    """Stands in for anyio.sleep in retry policies: records each wait, never waits."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
def sleeps() -> SleepRecorder:
    return SleepRecorder()


@pytest.fixture
def no_lms(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A path where no ``lms`` is, with no ``lms`` on PATH or in HOME either."""
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("LMS_PATH", raising=False)
    return tmp_path / "no-lms" / "lms"


@pytest.fixture(autouse=True)
async def nothing_left_behind() -> AsyncIterator[None]:
    """Every fault leaves no task and no child process behind (connections: per test)."""
    before = asyncio.all_tasks()
    yield
    for _ in range(100):  # tasks ending on their own (a closed stream's cleanup) get a moment
        left = asyncio.all_tasks() - before - {asyncio.current_task()}
        if not left:
            break
        await asyncio.sleep(0.01)
    assert left == set()
    assert [state for _, state in child_processes()] == []
