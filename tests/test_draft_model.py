"""Speculative decoding: the `draft_model` chat option, as LM Studio 0.3.10 documents it (#10)."""

from __future__ import annotations

import pytest

from lmbridge import Bridge
from lmbridge.testing import SimulatedLMStudio

MAIN = "openai/gpt-oss-20b"
DRAFT = "qwen/qwen3-4b"


async def test_draft_model_is_sent_and_its_stats_land_on_the_result() -> None:
    sim = SimulatedLMStudio(loaded=[MAIN, DRAFT])
    async with Bridge(sim.base_url, transport=sim.transport()) as bridge:
        result = await bridge.chat(MAIN, "Hi", draft_model=DRAFT)
    sent = [r.body for r in sim.requests if r.path == "/v1/chat/completions"]
    assert sent[-1]["draft_model"] == DRAFT
    assert result.stats is not None
    assert result.stats["draft_model"] == DRAFT
    for name in ("total", "accepted", "rejected", "ignored"):
        assert isinstance(result.stats[f"{name}_draft_tokens_count"], int)


@pytest.mark.parametrize(("value", "error"), [(3, TypeError), ("  ", ValueError)])
async def test_a_bad_draft_model_is_refused_before_sending(
    value: object, error: type[Exception]
) -> None:
    sim = SimulatedLMStudio(loaded=[MAIN])
    async with Bridge(sim.base_url, transport=sim.transport()) as bridge:
        with pytest.raises(error, match="draft_model"):
            await bridge.chat(MAIN, "Hi", draft_model=value)  # type: ignore[call-overload]
    assert not [r for r in sim.requests if r.path == "/v1/chat/completions"]
