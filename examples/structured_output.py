"""Structured output: a pydantic model as ``response_format``, the reply parsed into it.

    python examples/structured_output.py

The server constrains the reply to the model's JSON schema; ``result.parsed`` is an instance.
A reply that does not fit raises ``StructuredOutputError`` with the raw text kept.
"""

from __future__ import annotations

import asyncio

from _connect import MODEL, connection
from pydantic import BaseModel

from lmbridge import Bridge, StructuredOutputError
from lmbridge.testing import Reply, SimulatedLMStudio


class City(BaseModel):
    name: str
    country: str
    population: int


def script(sim: SimulatedLMStudio) -> None:
    sim.script(MODEL, Reply('{"name": "Tokyo", "country": "Japan", "population": 37400000}'))


async def main() -> None:
    async with Bridge(**connection(script)) as bridge:
        try:
            result = await bridge.chat(
                MODEL,
                "Name the world's largest city.",
                response_format=City,
                temperature=0,
                max_tokens=300,
            )
        except StructuredOutputError as error:
            print(f"the reply did not fit the schema: {error.message}; raw: {error.raw_text!r}")
            return
        city = result.parsed
        assert city is not None
        print(f"{city.name}, {city.country}: {city.population:,} people")


if __name__ == "__main__":
    asyncio.run(main())
