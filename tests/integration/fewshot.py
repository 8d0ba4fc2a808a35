"""Few-shot chat history that makes the base Gemma 3 270M call tools.

The model is not instruction-tuned: given only ``tools`` it never emits a call. With two earlier
rounds of user -> assistant tool call -> tool result -> answer in the prompt (and the tool-calling
chat template the servers run with), it answers the next question with a ``<tool_call>`` block,
which llama-server turns into ``tool_calls``. Pass :data:`TOOL_CALL_STOP` as ``stop`` to get
exactly one call; without it the model tends to emit two parallel calls.

Messages and tools are plain OpenAI-format dicts, so any client can send them; every call returns
fresh objects that a test may modify.
"""

from __future__ import annotations

from typing import Any

GET_TIME = "get_time"
TOOL_CALL_STOP = ("</tool_call>",)
DEFAULT_QUESTION = "What time is it in Tokyo?"

# (question, timezone argument, tool result, final answer) of each example round.
_ROUNDS = (
    ("What time is it in Paris?", "Europe/Paris", "14:05", "It is 14:05 in Paris."),
    ("What time is it in New York?", "America/New_York", "08:05", "It is 08:05 in New York."),
)


def get_time_tool() -> dict[str, Any]:
    """Return the OpenAI-format definition of the ``get_time(timezone)`` tool."""
    return {
        "type": "function",
        "function": {
            "name": GET_TIME,
            "description": "Get the current local time in a timezone.",
            "parameters": {
                "type": "object",
                "properties": {
                    "timezone": {
                        "type": "string",
                        "description": "IANA timezone name, e.g. Europe/Paris.",
                    }
                },
                "required": ["timezone"],
            },
        },
    }


def tool_call_fewshot_messages(
    question: str = DEFAULT_QUESTION, *, rounds: int = 2
) -> list[dict[str, Any]]:
    """Return example tool rounds followed by ``question`` as the last user message.

    Args:
        question: The user message the model should answer with a ``get_time`` call.
        rounds: How many example rounds precede it (1 or 2; 2 is what reliably works).

    Returns:
        OpenAI-format chat messages; tool call ids are ``call_1``, ``call_2``, ...
    """
    if not 1 <= rounds <= len(_ROUNDS):
        raise ValueError(f"rounds must be between 1 and {len(_ROUNDS)}, got {rounds}")
    messages: list[dict[str, Any]] = []
    for number, (asked, timezone, result, answer) in enumerate(_ROUNDS[:rounds], start=1):
        call_id = f"call_{number}"
        messages += [
            {"role": "user", "content": asked},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": call_id,
                        "type": "function",
                        "function": {
                            "name": GET_TIME,
                            "arguments": f'{{"timezone": "{timezone}"}}',
                        },
                    }
                ],
            },
            {"role": "tool", "tool_call_id": call_id, "content": result},
            {"role": "assistant", "content": answer},
        ]
    messages.append({"role": "user", "content": question})
    return messages
