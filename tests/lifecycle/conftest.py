"""Fixtures for the ModelManager tests: a manager over the simulator, in-process or on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from lmbridge.lifecycle.lms import LmsCli
from lmbridge.lifecycle.models import ModelManager
from lmbridge.testing import SimulatedLMStudio
from lmbridge.testing.simulated_lms import install_simulated_lms
from lmbridge.transport.client import HTTPTransport
from lmbridge.transport.retry import RetryPolicy
from tests.lifecycle.models_support import MakeManager, ServeManager, missing_lms


@pytest.fixture
async def make_manager(tmp_path: Path) -> AsyncIterator[MakeManager]:
    """``make_manager(sim, **options)``: a manager over ``sim``'s in-process transport, no ``lms``."""
    transports: list[HTTPTransport] = []

    def make(sim: SimulatedLMStudio, **options: Any) -> ModelManager:
        rest = HTTPTransport(
            base_url=sim.base_url, transport=sim.transport(), retry=RetryPolicy(max_retries=0)
        )
        transports.append(rest)
        options.setdefault("lms", missing_lms(tmp_path))
        return ModelManager(rest=rest, **options)

    yield make
    for rest in transports:
        await rest.aclose()


@pytest.fixture
def serve_manager(tmp_path: Path) -> ServeManager:
    """``async with serve_manager(sim, **options) as manager``: ``sim`` on loopback + simulated ``lms``."""

    @asynccontextmanager
    async def serve(sim: SimulatedLMStudio, **options: Any) -> AsyncIterator[ModelManager]:
        async with sim.serve() as url:
            lms = LmsCli(path=install_simulated_lms(tmp_path / "bin", server_url=url))
            rest = HTTPTransport(base_url=url, retry=RetryPolicy(max_retries=0))
            try:
                yield ModelManager(rest=rest, lms=lms, **options)
            finally:
                await rest.aclose()

    return serve
