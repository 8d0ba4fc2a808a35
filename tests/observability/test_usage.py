"""``bridge.usage()``: per model, since the Bridge was made."""

from __future__ import annotations

from pathlib import Path

import pytest

from lmbridge import Bridge
from lmbridge.testing import Reply, SimError, SimulatedLMStudio
from tests.observability.support import NOMIC, QWEN, no_lms

GEMMA = "google/gemma-3-4b"


async def test_usage_counts_calls_tokens_speed_loads_and_heals(tmp_path: Path) -> None:
    sim = SimulatedLMStudio(jit=False, loaded=[GEMMA, NOMIC])
    async with Bridge(transport=sim.transport(), lms_path=no_lms(tmp_path)) as bridge:
        assert bridge.usage() == {}
        results = [await bridge.chat(QWEN, "hi") for _ in range(3)]  # the first loads it
        sim.evict(QWEN)
        results.append(await bridge.chat(QWEN, "again"))  # healed
        async with bridge.stream(GEMMA, "hi") as stream:
            streamed = await stream.result()
        await bridge.embed(NOMIC, "text")
        sim.fail_next(GEMMA, SimError(400, {"error": "bad"}))
        with pytest.raises(Exception, match="bad"):
            await bridge.chat(GEMMA, "hi")
        usage = bridge.usage()
    assert set(usage) == {QWEN, GEMMA, NOMIC}
    qwen = usage[QWEN]
    assert (qwen.calls, qwen.errors, qwen.loads, qwen.heals) == (4, 0, 2, 1)
    usages = [r.usage for r in results if r.usage is not None]
    assert len(usages) == 4
    assert qwen.prompt_tokens == sum(u.prompt_tokens for u in usages)
    assert qwen.completion_tokens == sum(u.completion_tokens for u in usages)
    ttfts = [r.timing.time_to_first_token for r in results]
    assert qwen.mean_time_to_first_token == pytest.approx(sum(ttfts) / 4)  # type: ignore[arg-type]
    assert qwen.mean_tokens_per_second is not None
    gemma = usage[GEMMA]
    assert (gemma.calls, gemma.errors, gemma.loads) == (2, 1, 0)
    assert gemma.completion_tokens == streamed.usage.completion_tokens  # type: ignore[union-attr]
    assert usage[NOMIC].calls == 1 and usage[NOMIC].mean_time_to_first_token is None


async def test_usage_is_per_bridge() -> None:
    sim = SimulatedLMStudio(loaded=[QWEN])
    sim.responder(QWEN, lambda body: Reply("ok"))
    async with Bridge(transport=sim.transport()) as one, Bridge(transport=sim.transport()) as two:
        await one.chat(QWEN, "hi")
        assert one.usage()[QWEN].calls == 1
        assert two.usage() == {}


async def test_a_stream_read_without_result_still_counts_its_tokens() -> None:
    sim = SimulatedLMStudio(loaded=[QWEN])
    sim.script(QWEN, Reply("a few streamed words"))
    async with Bridge(transport=sim.transport()) as bridge:
        async with bridge.stream(QWEN, "hi") as stream:
            async for _ in stream:
                pass
        usage = bridge.usage()[QWEN]
    assert usage.calls == 1 and usage.errors == 0
    assert usage.completion_tokens > 0
    assert usage.mean_time_to_first_token is not None
