"""Helpers for the tests that drive the real llama-server through :class:`lmbridge.Bridge`.

The model is a base model whose words are nonsense: helpers here check protocol structure only.
Every request is deterministic (temperature 0, fixed seed) and short, because the machine that runs
the suite has two shared cores.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import TYPE_CHECKING, Any

import anyio
import httpx

from lmbridge import ToolCall
from tests.integration.fewshot import (
    DEFAULT_QUESTION,
    GET_TIME,
    get_time_tool,
    tool_call_fewshot_messages,
)

if TYPE_CHECKING:
    pass

SEED = 7
DETERMINISTIC: dict[str, Any] = {"temperature": 0, "seed": SEED}
"""Sampling options for every request: greedy and seeded, so replies repeat from run to run."""

KEEP_GOING: dict[str, Any] = {"ignore_eos": True}
"""``extra_body`` for llama-server: generate all ``max_tokens`` even past an end-of-turn token."""

SHORT = 16
"""``max_tokens`` of a reply whose words do not matter."""

TOOL_TOKENS = 64
"""``max_tokens`` of a reply that should be one tool call (a call takes about 30 tokens)."""

PARALLEL_TOKENS = 200
"""``max_tokens`` of a reply that should be several tool calls."""

REQUEST_TIMEOUT_S = 120.0
"""Read timeout of the test Bridges: generous, the machine may be loaded."""

SLOW_MACHINE_S = 240.0
"""Guard for a test that makes the model generate: normally seconds, but with the two cores
oversubscribed llama-server slows down tenfold and more. Such modules raise pytest's per-test
timeout above this."""

GET_WEATHER = "get_weather"

PARALLEL_STOP = ('</tool_call>\n<tool_call>\n{"name": "get_time"',)
"""Stop sequence for :func:`parallel_fewshot_messages`.

Shown a ``get_time`` + ``get_weather`` pair per round, the base model answers with a ``get_time``
call, one or more ``get_weather`` calls, then starts over with ``get_time`` until ``max_tokens``
(it never ends its turn by itself). Stopping where a second ``get_time`` call would begin leaves
at least two complete calls and makes the server report ``finish_reason: "tool_calls"``. (The
plain ``"</tool_call>"`` stop would end the reply after the first call.)
"""


async def running_tasks(llama_url: str) -> set[int]:
    """The ids of the tasks llama-server's slots are processing right now (``GET /slots``)."""
    async with httpx.AsyncClient(base_url=llama_url, timeout=30.0) as client:
        response = await client.get("/slots")
    response.raise_for_status()
    return {slot["id_task"] for slot in response.json() if slot["is_processing"]}


async def still_running(llama_url: str, tasks: set[int], *, settle_s: float = 5.0) -> set[int]:
    """Wait up to ``settle_s`` seconds for ``tasks`` to end; return those still running.

    A slot goes on generating until the server notices that its client went away, so an empty
    set soon after a client cut its stream short means the server noticed and stopped. (The
    replies the tests cut short are many seconds from their end.)
    """
    left = set(tasks)
    with anyio.move_on_after(settle_s):
        while left:
            left &= await running_tasks(llama_url)
            if left:
                await anyio.sleep(0.1)
    return left


def fewshot_messages(
    tool_name: str = GET_TIME, question: str = DEFAULT_QUESTION
) -> list[dict[str, Any]]:
    """Return :func:`tool_call_fewshot_messages` with the example calls made to ``tool_name``.

    The examples pass one ``timezone`` argument, which fits both the fixtures' ``get_time`` and
    mcp-server-time's ``get_current_time``.
    """
    messages = tool_call_fewshot_messages(question)
    for message in messages:
        for call in message.get("tool_calls", ()):
            call["function"]["name"] = tool_name
    return messages


def get_weather_tool() -> dict[str, Any]:
    """Return the OpenAI-format definition of a ``get_weather(city)`` tool."""
    return {
        "type": "function",
        "function": {
            "name": GET_WEATHER,
            "description": "Get the current weather in a city.",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string", "description": "A city name."}},
                "required": ["city"],
            },
        },
    }


def parallel_tools() -> list[dict[str, Any]]:
    """The tools :func:`parallel_fewshot_messages` calls."""
    return [get_time_tool(), get_weather_tool()]


def parallel_fewshot_messages() -> list[dict[str, Any]]:
    """Two example rounds of parallel ``get_time`` + ``get_weather`` calls, then a new question.

    Send with ``stop=PARALLEL_STOP`` (see there) to get two or more calls in one reply.
    """
    examples = (
        ("Paris", "Europe/Paris", "14:05", "sunny"),
        ("New York", "America/New_York", "08:05", "rainy"),
    )
    messages: list[dict[str, Any]] = []
    for number, (city, timezone, time, weather) in enumerate(examples):
        time_id, weather_id = f"call_{2 * number + 1}", f"call_{2 * number + 2}"
        messages += [
            {"role": "user", "content": f"What time is it in {city}, and what is the weather?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    _call(time_id, GET_TIME, {"timezone": timezone}),
                    _call(weather_id, GET_WEATHER, {"city": city}),
                ],
            },
            {"role": "tool", "tool_call_id": time_id, "content": time},
            {"role": "tool", "tool_call_id": weather_id, "content": weather},
            {"role": "assistant", "content": f"It is {time} in {city}, and {weather}."},
        ]
    messages.append(
        {"role": "user", "content": "What time is it in Tokyo, and what is the weather?"}
    )
    return messages


def _call(call_id: str, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": call_id,
        "type": "function",
        "function": {"name": name, "arguments": json.dumps(arguments)},
    }


def assert_well_formed_call(call: ToolCall, names: Collection[str]) -> None:
    """A call as lmbridge assembles it: an id, a known name, arguments parsed into a dict."""
    assert isinstance(call, ToolCall)
    assert call.id, "every call has an id"
    assert call.name in names
    assert call.ok, call.error
    assert isinstance(call.arguments, dict) and call.arguments
    assert json.loads(call.arguments_json) == call.arguments
