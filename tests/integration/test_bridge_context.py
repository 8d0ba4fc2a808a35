"""Context windows against the real llama-server's ``-c 2048 -np 1`` instance (the auth one).

Few and short requests: that server has one slot and is shared. The model is a base model whose
words are nonsense, so only counts, errors and the run's structure are checked.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import anyio
import pytest

from lmbridge import Bridge, ContextLengthExceededError
from lmbridge.agent import ContextTrimmed, ToolResultReady
from tests.integration.bridge_support import (
    DETERMINISTIC,
    REQUEST_TIMEOUT_S,
    SHORT,
    SLOW_MACHINE_S,
    TOOL_TOKENS,
    fewshot_messages,
)
from tests.integration.fewshot import TOOL_CALL_STOP

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.timeout(SLOW_MACHINE_S * 3 + 60)

WINDOW = 2048  # the auth server's -c 2048 over one slot
# About 3 000 tokens with this tokenizer ("lorem ipsum dolor sit amet " is ~5 tokens).
LONG_PROMPT = "lorem ipsum dolor sit amet " * 600


@pytest.fixture
async def small(llama_auth_url: str, api_key: str, missing_lms: Path) -> AsyncIterator[Bridge]:
    """A Bridge on the 2048-token server."""
    async with Bridge(
        llama_auth_url, api_token=api_key, lms_path=missing_lms, timeout=REQUEST_TIMEOUT_S
    ) as bridge:
        yield bridge


async def test_count_tokens_is_exact_and_what_the_server_then_reports(
    small: Bridge, model_name: str
) -> None:
    messages = [
        {"role": "system", "content": "Answer in one word."},
        {"role": "user", "content": "What colour is the sky on a clear day?"},
    ]
    count = await small.count_tokens(model_name, messages)
    assert count.exact is True
    assert (count.context_length, count.max_context_length) == (WINDOW, 32768)
    result = await small.chat(model_name, messages, max_tokens=SHORT, **DETERMINISTIC)
    assert result.usage is not None
    assert count.tokens == result.usage.prompt_tokens
    assert result.context is not None and result.context.context_length == WINDOW
    assert result.context.prompt_tokens == count.tokens


async def test_a_3000_token_prompt_is_context_length_exceeded_with_both_figures(
    small: Bridge, model_name: str
) -> None:
    with pytest.raises(ContextLengthExceededError) as sent:
        await small.chat(model_name, LONG_PROMPT, max_tokens=SHORT, **DETERMINISTIC)
    assert sent.value.context_length == WINDOW
    assert sent.value.prompt_tokens is not None and sent.value.prompt_tokens > WINDOW
    assert sent.value.status_code == 400
    # fit="error" says the same before sending, with the exact count.
    with pytest.raises(ContextLengthExceededError) as checked:
        await small.chat(model_name, LONG_PROMPT, max_tokens=SHORT, fit="error")
    assert checked.value.context_length == WINDOW
    assert checked.value.prompt_tokens == sent.value.prompt_tokens
    assert 'fit="trim"' in (checked.value.hint or "")


async def test_fit_trim_over_a_long_history_succeeds(small: Bridge, model_name: str) -> None:
    history: list[dict[str, Any]] = [{"role": "system", "content": "Be brief."}]
    for n in range(16):
        history.append({"role": "user", "content": f"Note {n}: " + "lorem ipsum dolor " * 40})
        history.append({"role": "assistant", "content": "Noted. " * 20})
    history.append({"role": "user", "content": "Summarise the notes."})
    total = await small.count_tokens(model_name, history)
    assert total.tokens > WINDOW, "the history alone overflows the window"
    result = await small.chat(model_name, history, fit="trim", max_tokens=SHORT, **DETERMINISTIC)
    assert result.usage is not None and result.context is not None
    assert result.usage.prompt_tokens + SHORT <= WINDOW
    assert result.context.fraction < 1


def get_time(timezone: str) -> str:
    """Get the current time in an IANA time zone (returns a 50 kB report)."""
    return f"Report for {timezone}: " + "0123456789 " * 4600


def agent_options(**more: Any) -> dict[str, Any]:
    return {
        "tools": [get_time],
        "max_rounds": 10,
        "loop_rounds": 11,
        "max_result_chars": None,  # the whole 50 kB reaches the transcript
        "stop": list(TOOL_CALL_STOP),
        "max_tokens": TOOL_TOKENS,
        **DETERMINISTIC,
        **more,
    }


async def test_an_agent_reading_50_kb_per_call_finishes_instead_of_overflowing(
    small: Bridge, model_name: str
) -> None:
    """The base model calls the tool when the few-shot history shows it how (usually once: then
    it answers); the ten-round workload itself runs on the simulator (tests/context)."""
    events: list[Any] = []
    with anyio.fail_after(SLOW_MACHINE_S * 3):
        async with small.stream_agent(
            model_name, fewshot_messages("get_time"), **agent_options()
        ) as run:
            async for event in run:
                events.append(event)
            result = await run.result()
    assert result.stop_reason in ("completed", "max_rounds", "loop_detected")
    results = [e for e in events if isinstance(e, ToolResultReady)]
    assert results, "the model called the tool"
    assert all(len(e.record.outcome.text) > 50_000 for e in results)
    trims = [e for e in events if isinstance(e, ContextTrimmed)]
    followed = {e.round + 1 for e in results if e.round < result.rounds}
    assert {e.round for e in trims} == followed, "every round after a 50 kB result was trimmed"
    assert all(e.trimmed.tokens_after + TOOL_TOKENS <= WINDOW for e in trims)
    assert all(e.trimmed.tokens_before > WINDOW for e in trims)
    # Without fitting, the round after the first result overflows (cut to 8 000 characters,
    # ~2 500 tokens: enough to overflow, small enough a body for the server to answer promptly).
    options = agent_options(fit=None, max_result_chars=8000)
    with anyio.fail_after(SLOW_MACHINE_S), pytest.raises(ContextLengthExceededError) as caught:
        await small.run_agent(model_name, fewshot_messages("get_time"), **options)
    assert caught.value.context_length == WINDOW
