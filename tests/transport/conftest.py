"""Fixtures for transport tests: an OpenAI-compatible server mocked with respx."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import respx

from lmbridge import Bridge, RetryPolicy
from tests.transport.helpers import MODEL

BASE = "http://lms.test"


class SleepRecorder:
    """Stands in for anyio.sleep so retry tests never really wait."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
def sleeps() -> SleepRecorder:
    return SleepRecorder()


@pytest.fixture
def server() -> Iterator[respx.MockRouter]:
    """An OpenAI-only server (no LM Studio REST API): listings say nothing about state."""
    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        router.get("/api/v1/models").respond(404, json={"error": "Unexpected endpoint"})
        router.get("/api/v0/models").respond(404, json={"error": "Unexpected endpoint"})
        router.get("/v1/models").respond(
            200, json={"object": "list", "data": [{"id": MODEL, "object": "model"}]}
        )
        yield router


@pytest.fixture
async def bridge(
    server: respx.MockRouter, sleeps: SleepRecorder, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Bridge]:
    monkeypatch.setenv("PATH", str(tmp_path))  # no `lms` anywhere: REST and HTTP only
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("LMS_PATH", raising=False)
    async with Bridge(BASE, retry_policy=RetryPolicy(max_retries=2, sleep=sleeps)) as b:
        yield b
