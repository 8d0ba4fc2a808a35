"""Shared pieces of the observability tests: a hook that records, a sleep that does not sleep."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

from lmbridge import Event

E = TypeVar("E")

QWEN = "qwen/qwen3-4b"
NOMIC = "text-embedding-nomic-embed-text-v1.5"
SECRET = "zebra-quartz-7781 my bank PIN"  # distinctive: a log line holding it is a leak


class Recorder:
    """A sync hook keeping every event, in order."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def __call__(self, event: Event) -> None:
        self.events.append(event)

    @property
    def kinds(self) -> list[str]:
        return [event.kind for event in self.events]

    def of(self, cls: type[E]) -> list[E]:
        return [event for event in self.events if isinstance(event, cls)]


async def no_sleep(seconds: float) -> None:
    """Stands in for anyio.sleep in retry policies: tests never really wait."""


def no_lms(tmp_path: Path) -> str:
    return str(tmp_path / "not-installed" / "lms")
