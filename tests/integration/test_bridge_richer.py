"""Richer requests against the real llama-server: images, structured output, streamed completions.

Its Gemma 270M is loaded without a vision projector: an image must come back as a clear
``WrongModelTypeError``, not a bare HTTP 500. Its text is nonsense (a base model): tests assert
protocol shape, never content.
"""

from __future__ import annotations

import base64

import pytest
from pydantic import BaseModel

import lmbridge
from lmbridge import Bridge, PartialParsed, TextDelta, UsageReport
from tests.integration.bridge_support import SHORT, SLOW_MACHINE_S

pytestmark = pytest.mark.timeout(SLOW_MACHINE_S + 60)

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


class Flag(BaseModel):
    ok: bool


async def test_an_image_for_a_model_without_a_projector_is_a_clear_error(
    bridge: Bridge, model_name: str
) -> None:
    with pytest.raises(lmbridge.WrongModelTypeError) as caught:
        await bridge.chat(model_name, "What is this?", images=[PNG], max_tokens=SHORT)
    assert caught.value.status_code == 500
    assert "projector" in caught.value.message and "mmproj" in (caught.value.hint or "")
    with pytest.raises(lmbridge.WrongModelTypeError):
        async with bridge.stream(model_name, "What is this?", images=[PNG], max_tokens=SHORT):
            pass
    # The server is fine afterwards, and text-only chat is untouched.
    assert (await bridge.chat(model_name, "Hello", max_tokens=SHORT)).usage is not None


async def test_structured_output_is_held_to_the_schema_by_the_grammar(
    bridge: Bridge, model_name: str
) -> None:
    async with bridge.stream(
        model_name, "Is the sky blue? Answer in JSON.", response_format=Flag, max_tokens=32
    ) as stream:
        events = [event async for event in stream]
        result = await stream.result()
    assert isinstance(result.parsed, Flag)
    partial = [e.value for e in events if isinstance(e, PartialParsed)]
    assert partial and partial[-1] == result.parsed.model_dump()


async def test_stream_complete_against_a_real_server(bridge: Bridge, model_name: str) -> None:
    async with bridge.stream_complete(model_name, "Once upon a time", max_tokens=SHORT) as stream:
        events = [event async for event in stream]
        result = await stream.result()
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == result.text
    assert result.finish_reason in {"stop", "length"}
    usage = [e.usage for e in events if isinstance(e, UsageReport)]
    assert usage and result.usage == usage[-1]
    assert 1 <= usage[-1].completion_tokens <= SHORT
