"""``bridge.models`` on a server that is not LM Studio: ids only, said plainly, nothing breaks.

llama-server has no ``/api/v1/models`` or ``/api/v0/models`` (404) and there is no ``lms`` for it, so
the listing comes from ``/v1/models``, which cannot tell loaded from not loaded.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from lmbridge import Bridge
from tests.integration.bridge_support import DETERMINISTIC, REQUEST_TIMEOUT_S

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path


@pytest.fixture
async def bridge_without_lms(
    llama_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Bridge]:
    """A Bridge that searches for ``lms`` the normal way, in an environment that has none."""
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.lmstudio, no ~/.lmstudio-home-pointer
    monkeypatch.delenv("LMS_PATH", raising=False)
    async with Bridge(llama_url, timeout=REQUEST_TIMEOUT_S) as bridge:
        yield bridge


async def test_listing_comes_from_v1_models_with_state_unknown(
    bridge_without_lms: Bridge, model_name: str
) -> None:
    bridge = bridge_without_lms

    models = await bridge.models.list()

    assert await bridge.lms.locate() is None
    assert bridge.models.source == "/v1/models"
    [info] = models
    assert info.key == model_name
    assert info.state == "unknown"
    assert (info.type, info.display_name, info.max_context_length) == (None, None, None)
    assert (info.capabilities.tool_use, info.capabilities.vision) == (None, None)
    assert info.instances == [] and not info.loaded


async def test_model_lookups_degrade_without_errors(
    bridge_without_lms: Bridge, model_name: str
) -> None:
    bridge = bridge_without_lms

    info = await bridge.models.get(model_name)
    instances = await bridge.models.loaded()
    # Nothing can say whether it is loaded: the request that proves it (a 1-token chat) is sent.
    instance = await bridge.models.ensure_loaded(model_name)
    result = await bridge.chat(model_name, "Hi", max_tokens=2, **DETERMINISTIC)

    assert info.key == model_name and info.state == "unknown"
    assert instances == []
    assert (instance.identifier, instance.model_key) == (model_name, model_name)
    assert instance.status is None
    assert result.model == model_name
