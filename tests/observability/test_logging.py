"""Logs under ``lmbridge``: what happened, never what was said (unless ``log_content=True``)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from lmbridge import Bridge, RetryPolicy
from lmbridge.testing import Reply, SimError, SimulatedLMStudio, ToolCallSpec
from tests.observability.support import QWEN, SECRET, no_lms, no_sleep

TOKEN = "sk-lmbridge-secret-token-42"


def _texts(records: list[logging.LogRecord]) -> list[str]:
    texts = [record.getMessage() for record in records]
    return (
        texts
        + [str(record.args) for record in records]
        + [str(record.__dict__) for record in records]
    )


async def _busy_run(sim: SimulatedLMStudio, bridge: Bridge) -> None:
    """A run touching every logger: a load, a retry, a chat, a stream, an agent with a tool."""
    await bridge.chat(QWEN, SECRET)  # loads first
    sim.fail_next(QWEN, SimError.server_error(503))
    await bridge.chat(
        QWEN, [{"role": "system", "content": SECRET}, {"role": "user", "content": SECRET}]
    )
    async with bridge.stream(QWEN, SECRET) as stream:
        await stream.result()
    await bridge.complete(QWEN, SECRET)

    def lookup(query: str) -> str:
        """Look something up."""
        return SECRET

    sim.script(QWEN, Reply(tool_calls=[ToolCallSpec("lookup", {"query": SECRET})]), Reply(SECRET))
    await bridge.run_agent(QWEN, SECRET, tools=[lookup])


async def test_no_prompt_reply_or_token_in_any_record_at_any_level(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sim = SimulatedLMStudio(jit=False)
    sim.responder(QWEN, lambda body: Reply(f"echo {SECRET}"))
    caplog.set_level(logging.DEBUG)  # every logger, every level
    caplog.set_level(logging.DEBUG, logger="lmbridge")  # whatever an earlier test set it to
    async with Bridge(
        transport=sim.transport(),
        lms_path=no_lms(tmp_path),
        api_token=TOKEN,
        retry_policy=RetryPolicy(sleep=no_sleep),
    ) as bridge:
        await _busy_run(sim, bridge)
    ours = [r for r in caplog.records if r.name.startswith("lmbridge")]
    assert {r.name for r in ours} >= {"lmbridge.http", "lmbridge.models", "lmbridge.calls"}
    leaks = [text for text in _texts(caplog.records) if "zebra-quartz" in text or TOKEN in text]
    assert leaks == []


async def test_log_content_lets_prompts_and_replies_into_debug_records(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sim = SimulatedLMStudio(loaded=[QWEN])
    sim.script(QWEN, Reply("the reply text"))
    caplog.set_level(logging.DEBUG, logger="lmbridge")
    async with Bridge(transport=sim.transport(), log_content=True) as bridge:
        await bridge.chat(QWEN, SECRET)
    content = [r.getMessage() for r in caplog.records if r.name == "lmbridge.content"]
    assert len(content) == 1
    assert SECRET in content[0] and "the reply text" in content[0]


async def test_one_info_record_per_load_and_heal_one_warning_per_retry(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sim = SimulatedLMStudio(jit=False)
    caplog.set_level(logging.INFO, logger="lmbridge")
    async with Bridge(
        transport=sim.transport(),
        lms_path=no_lms(tmp_path),
        retry_policy=RetryPolicy(sleep=no_sleep),
    ) as bridge:
        await bridge.chat(QWEN, "hi")
        sim.fail_next(QWEN, SimError.server_error(502), times=2)
        await bridge.chat(QWEN, "hi")
        sim.evict(QWEN)
        await bridge.chat(QWEN, "hi")
        await bridge.models.unload(QWEN)
    models = [r for r in caplog.records if r.name == "lmbridge.models"]
    assert [r.levelno for r in models] == [logging.INFO] * 4
    assert [r.getMessage().split()[0] for r in models] == ["loaded", "loaded", "healed", "unloaded"]
    retries = [r for r in caplog.records if r.name == "lmbridge.http"]
    assert [r.levelno for r in retries] == [logging.WARNING] * 2
    assert "ServerError 502" in retries[0].getMessage() and "attempt 1" in retries[0].getMessage()


async def test_debug_records_each_http_exchange_with_status_and_sizes(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sim = SimulatedLMStudio(loaded=[QWEN])
    caplog.set_level(logging.DEBUG, logger="lmbridge.http")
    async with Bridge(transport=sim.transport()) as bridge:
        await bridge.chat(QWEN, "hi")
    lines = [r.getMessage() for r in caplog.records if r.name == "lmbridge.http"]
    chat = [line for line in lines if line.startswith("POST /v1/chat/completions")]
    assert len(chat) == 1
    assert "-> 200 in" in chat[0] and "bytes sent" in chat[0] and "bytes received" in chat[0]


def test_the_library_installs_no_handler() -> None:
    import lmbridge.events.logs  # noqa: F401  (the module that creates the loggers)

    for name in ("lmbridge", "lmbridge.http", "lmbridge.models", "lmbridge.agent"):
        assert logging.getLogger(name).handlers == []
