"""Options are checked before anything is sent: types, ranges, and misspelt names."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from lmbridge import Bridge
from lmbridge.testing import SimulatedLMStudio

MODEL = "qwen/qwen3-4b"


@pytest.fixture
def sim() -> SimulatedLMStudio:
    return SimulatedLMStudio(loaded=[MODEL])


@pytest.fixture
async def bridge(sim: SimulatedLMStudio) -> AsyncIterator[Bridge]:
    async with Bridge(transport=sim.transport()) as bridge:
        yield bridge


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"temperature": "hot"}, TypeError, "temperature must be a number >= 0, not 'hot'"),
        ({"temperature": -0.1}, ValueError, "temperature must be a number >= 0"),
        ({"temperature": float("nan")}, ValueError, "temperature must be a number >= 0"),
        ({"top_p": 1.5}, ValueError, r"top_p must be a number in \[0, 1\], not 1.5"),
        ({"max_tokens": 0}, ValueError, "max_tokens must be an int >= 1 or -1, not 0"),
        ({"max_tokens": 2.5}, TypeError, "max_tokens must be an int >= 1 or -1"),
        ({"max_tokens": True}, TypeError, "max_tokens must be an int"),
        ({"top_k": -2}, ValueError, "top_k must be an int >= 0 or -1"),
        ({"seed": "7"}, TypeError, "seed must be an int"),
        ({"ttl": 0}, ValueError, "ttl must be an int >= 1"),
        ({"stop": 3}, TypeError, "stop must be a string or a list of strings"),
        ({"max_retries": -1}, ValueError, "max_retries must be an int >= 0"),
    ],
)
async def test_a_bad_value_is_refused_before_sending(
    sim: SimulatedLMStudio,
    bridge: Bridge,
    options: dict[str, Any],
    error: type[Exception],
    message: str,
) -> None:
    with pytest.raises(error, match=message):
        await bridge.chat(MODEL, "hi", **options)
    with pytest.raises(error, match=message):
        await bridge.complete(MODEL, "hi", **options)
    with pytest.raises(error, match=message):
        await bridge.run_agent(MODEL, "hi", **options)
    assert not [r for r in sim.requests if r.method == "POST"], "nothing was sent"


@pytest.mark.parametrize(
    "options",
    [
        {"temperature": 0},
        {"temperature": 1.7, "top_p": 1, "top_k": 0},
        {"max_tokens": -1, "seed": 0, "stop": ["\n\n", "END"]},
        {"max_tokens": 1, "stop": "END", "ttl": 60, "max_retries": 0},
        {"temperature": None, "max_tokens": None},
    ],
)
async def test_good_values_are_sent(
    sim: SimulatedLMStudio, bridge: Bridge, options: dict[str, Any]
) -> None:
    assert (await bridge.chat(MODEL, "hi", **options)).text


async def test_the_responses_api_checks_its_sampling_options(bridge: Bridge) -> None:
    with pytest.raises(TypeError, match="temperature must be a number"):
        await bridge.respond(MODEL, "hi", temperature="hot")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_output_tokens must be an int >= 1 or -1"):
        await bridge.respond(MODEL, "hi", max_output_tokens=0)


@pytest.mark.parametrize(
    ("typo", "meant"),
    [("temprature", "temperature"), ("max_token", "max_tokens"), ("topp", "top_p")],
)
async def test_a_misspelt_option_suggests_the_closest_name(
    bridge: Bridge, typo: str, meant: str
) -> None:
    with pytest.raises(TypeError, match=f"'{typo}' \\(did you mean `{meant}`\\?\\)"):
        await bridge.chat(MODEL, "hi", **{typo: 1})  # type: ignore[call-overload]


async def test_a_name_close_to_nothing_lists_the_known_ones(bridge: Bridge) -> None:
    with pytest.raises(TypeError) as caught:
        await bridge.chat(MODEL, "hi", **{"xyzzy": 1})  # type: ignore[call-overload]
    assert "did you mean" not in str(caught.value)
    assert "known: draft_model, extra_body, fit, images, max_retries, max_tokens" in str(
        caught.value
    )


async def test_a_misspelt_agent_option_suggests_the_closest_name(bridge: Bridge) -> None:
    with pytest.raises(TypeError, match="did you mean `max_rounds`"):
        await bridge.run_agent(MODEL, "task", max_round=3)  # type: ignore[call-arg]
