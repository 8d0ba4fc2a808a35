"""The trimming rules on their own, with a counter that is easy to reason about."""

from __future__ import annotations

from typing import Any

import pytest

from lmbridge import ContextLengthExceededError, ContextUsage
from lmbridge.chat.fitting import fit_messages
from lmbridge.chat.window import prompt_chars


async def four_chars_a_token(messages: list[dict[str, Any]]) -> int:
    return prompt_chars(messages) // 4


def call(call_id: str) -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": "f", "arguments": "{}"}}


async def test_parallel_calls_and_their_results_go_together_and_the_last_round_stays() -> None:
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": "sys"},
        {"role": "user", "content": "task"},
    ]
    for n in range(6):
        messages.append(
            {"role": "assistant", "content": "", "tool_calls": [call(f"a{n}"), call(f"b{n}")]}
        )
        messages.append({"role": "tool", "tool_call_id": f"a{n}", "content": "x" * 800})
        messages.append({"role": "tool", "tool_call_id": f"b{n}", "content": "y" * 800})
    fitted = await fit_messages(
        messages, count=four_chars_a_token, context_length=1500, reserve=100
    )
    sent = fitted.messages
    assert sent[:2] == messages[:2]
    assert sent[-3:] == messages[-3:], "the latest round is kept whole"
    rounds = [m for m in sent if m.get("tool_calls")]
    for message in rounds:
        index = sent.index(message)
        assert [m["tool_call_id"] for m in sent[index + 1 : index + 3]] == [
            c["id"] for c in message["tool_calls"]
        ]
    assert len([m for m in sent if m["role"] == "tool"]) == 2 * len(rounds)
    assert fitted.trimmed is not None and fitted.trimmed.dropped_messages % 3 == 0
    assert fitted.tokens + 100 <= 1500


async def test_nothing_changes_when_it_fits() -> None:
    messages = [{"role": "user", "content": "short"}]
    fitted = await fit_messages(messages, count=four_chars_a_token, context_length=1000, reserve=10)
    assert fitted.trimmed is None and fitted.messages == messages


async def test_a_system_message_and_latest_turn_too_long_is_the_error() -> None:
    messages = [{"role": "system", "content": "s" * 8000}, {"role": "user", "content": "hi"}]
    with pytest.raises(ContextLengthExceededError) as caught:
        await fit_messages(messages, count=four_chars_a_token, context_length=1000, reserve=100)
    assert caught.value.context_length == 1000
    assert caught.value.prompt_tokens is not None and caught.value.prompt_tokens > 900


def test_context_usage_reads_as_a_share_of_the_window() -> None:
    usage = ContextUsage(prompt_tokens=3564, context_length=4096, completion_tokens=100)
    assert str(usage) == "87% of 4096"
    assert usage.remaining == 4096 - 3564 - 100
