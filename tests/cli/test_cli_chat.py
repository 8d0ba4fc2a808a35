"""``chat``: the prompt from the argument, from a pipe, or both; the answer alone on stdout."""

from __future__ import annotations

from typing import Any

from lmbridge.testing import Reply, SimulatedLMStudio
from tests.cli.conftest import CLI, GEMMA, QWEN, assert_no_traceback


def user_messages(sim: SimulatedLMStudio) -> list[Any]:
    return [
        request.body["messages"]
        for request in sim.requests
        if request.path == "/v1/chat/completions"
    ]


async def test_a_piped_prompt_streams_the_answer_alone_to_stdout(
    cli: CLI, sim: SimulatedLMStudio
) -> None:
    sim.script(QWEN, Reply("Four.", reasoning="Two plus two.", chunk_size=2))
    run = await cli("chat", QWEN, stdin="What is 2+2?\n")
    assert run.status == 0, run.stderr
    assert run.stdout == "Four.\n"  # a pipe receives the answer, nothing else
    # The reasoning went to stderr, labelled, and ended before the answer began.
    assert "Thinking:" in run.stderr and "Two plus two." in run.stderr
    assert user_messages(sim) == [[{"role": "user", "content": "What is 2+2?\n"}]]


async def test_prompt_argument_and_pipe_are_sent_together(cli: CLI, sim: SimulatedLMStudio) -> None:
    sim.script(QWEN, Reply("Looks fine."))
    run = await cli(
        "chat", QWEN, "Review this:", "--system", "Be terse.", "--max-tokens", "50",
        stdin="def f(): pass\n",
    )  # fmt: skip
    assert (run.status, run.stdout) == (0, "Looks fine.\n"), run.stderr
    [messages] = user_messages(sim)
    assert messages == [
        {"role": "system", "content": "Be terse."},
        {"role": "user", "content": "Review this:\n\ndef f(): pass\n"},
    ]
    [request] = [r for r in sim.requests if r.path == "/v1/chat/completions"]
    assert request.body["max_tokens"] == 50


async def test_chat_loads_a_model_that_is_not_loaded_with_progress(
    cli: CLI, sim: SimulatedLMStudio
) -> None:
    sim.jit = False  # only an explicit load can serve it
    run = await cli("chat", GEMMA, "hi")
    assert run.status == 0, run.stderr
    assert run.stdout == f"Simulated reply from {GEMMA} to: hi\n"
    assert f"Loading {GEMMA}" in run.stderr and "100%" in run.stderr
    assert GEMMA in [instance.identifier for instance in sim.loaded]


async def test_no_prompt_anywhere_is_a_usage_error(cli: CLI, sim: SimulatedLMStudio) -> None:
    run = await cli("chat", QWEN, stdin="  \n")
    assert run.status == 2
    assert "chat needs a prompt" in run.stderr
    assert user_messages(sim) == []


async def test_an_unknown_model_is_an_error_with_a_hint(cli: CLI) -> None:
    run = await cli("chat", "no-such-model", "hi")
    assert run.status == 1
    assert run.stdout == ""
    assert "error: " in run.stderr and "hint: " in run.stderr
    assert_no_traceback(run)


async def test_in_a_terminal_without_a_prompt_it_is_a_conversation(
    cli: CLI, sim: SimulatedLMStudio
) -> None:
    sim.script(QWEN, Reply("Hello, Ann."), Reply("You are Ann."))
    run = await cli("chat", QWEN, typed="I am Ann\n\nWho am I?\n/exit\n")
    assert run.status == 0, run.stderr
    assert run.stdout == "> Hello, Ann.\n> > You are Ann.\n> "
    # The second turn carries the first: one conversation, not two questions.
    assert user_messages(sim)[-1] == [
        {"role": "user", "content": "I am Ann"},
        {"role": "assistant", "content": "Hello, Ann."},
        {"role": "user", "content": "Who am I?"},
    ]
