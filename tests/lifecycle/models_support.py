"""Helpers for the ModelManager tests (imported by name: tests/lifecycle is not a package)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx

from lmbridge.lifecycle.lms import LmsCli
from lmbridge.lifecycle.models import ModelManager
from lmbridge.testing import SimulatedLMStudio
from lmbridge.transport.client import HTTPTransport
from lmbridge.transport.retry import RetryPolicy

MakeManager = Callable[..., ModelManager]
ServeManager = Callable[..., AbstractAsyncContextManager[ModelManager]]


def missing_lms(tmp_path: Path) -> LmsCli:
    """An ``LmsCli`` whose executable does not exist (``lms`` not installed)."""
    return LmsCli(path=tmp_path / "not-installed" / "lms", env={"PATH": ""})


@asynccontextmanager
async def http(
    base_url: str, *, transport: httpx.AsyncBaseTransport | None = None
) -> AsyncIterator[HTTPTransport]:
    """An ``HTTPTransport`` (no retries), closed afterwards."""
    rest = HTTPTransport(base_url=base_url, transport=transport, retry=RetryPolicy(max_retries=0))
    try:
        yield rest
    finally:
        await rest.aclose()


def load_calls(sim: SimulatedLMStudio) -> list[list[str]]:
    """The ``lms load`` invocations the simulator recorded."""
    return [call for call in sim.cli_calls if call[:1] == ["load"]]


def requests_to(sim: SimulatedLMStudio, method: str, path: str) -> list[Any]:
    """Bodies of the requests ``sim`` received for ``method path``."""
    return [r.body for r in sim.requests if r.method == method and r.path == path]


def child_processes() -> list[tuple[int, str]]:
    """This process's children as ``(pid, state)``; a zombie (``Z``) is a child never reaped."""
    me = os.getpid()
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # exited meanwhile
        # "pid (comm) state ppid ...": comm may contain spaces, so split after the last ")".
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == me:
            children.append((int(entry.name), fields[0]))
    return children
