"""An agent with a REAL MCP server (mcp-server-time over stdio) and a Python function.

    pip install 'lmbridge[mcp,testing]' mcp-server-time
    python examples/agent_mcp.py

With LM Studio running, a real model (``LMBRIDGE_MODEL``, default ``qwen/qwen3-4b``: pick one
that calls tools) drives the tools; without one, the simulated LM Studio plays the model with the
script below, so this runs anywhere. The MCP server is real either way.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from typing import Any

import anyio
from _connect import MODEL, connection
from mcp import ClientSession, StdioServerParameters, stdio_client
from mcp.types import TextContent

from lmbridge.agent.events import (
    RoundStarted,
    RunFinished,
    RunTextDelta,
    ToolCallRequested,
    ToolResultReady,
)
from lmbridge.bridge import Bridge
from lmbridge.testing import Reply, SimulatedLMStudio, ToolCallSpec

CITY_ZONES = {"tokyo": "Asia/Tokyo", "paris": "Europe/Paris", "new york": "America/New_York"}


def city_timezone(city: str) -> str:
    """The IANA time zone of a city.

    Args:
        city: the city's name, e.g. "Tokyo".
    """
    zone = CITY_ZONES.get(city.strip().lower())
    if zone is None:
        raise ValueError(f"unknown city {city!r}; known: {', '.join(CITY_ZONES)}")
    return zone


def scripted_model(body: dict[str, Any]) -> Reply:
    """What the simulated model says, given the request it received.

    Round 1: look up the city's time zone (our Python function). Round 2: ask the MCP server
    for the time there. Round 3: answer from the server's JSON.
    """
    results = [m["content"] for m in body["messages"] if m["role"] == "tool"]
    if not results:
        lookup = ToolCallSpec("city_timezone", {"city": "Tokyo"})
        return Reply("Let me look that up.", tool_calls=[lookup])
    if len(results) == 1:
        return Reply(tool_calls=[ToolCallSpec("get_current_time", {"timezone": results[0]})])
    answer = json.loads(results[1])
    moment = datetime.fromisoformat(answer["datetime"])
    return Reply(f"It is {moment:%H:%M} in Tokyo ({answer['timezone']}).")


def script(sim: SimulatedLMStudio) -> None:
    sim.responder(MODEL, scripted_model)


async def main() -> None:
    server = StdioServerParameters(command=sys.executable, args=["-m", "mcp_server_time"])
    async with (
        stdio_client(server) as (read, write),
        ClientSession(read, write) as session,
        Bridge(**connection(script)) as bridge,
    ):
        await session.initialize()
        tools = [session, city_timezone]  # MCP sessions and plain functions mix freely
        async with bridge.stream_agent(MODEL, "What time is it in Tokyo?", tools=tools) as run:
            mid_line = False  # text deltas were printed without a newline yet
            async for event in run:
                if mid_line and not isinstance(event, RunTextDelta):
                    print()
                    mid_line = False
                if isinstance(event, RoundStarted):
                    print(f"--- round {event.round}")
                elif isinstance(event, RunTextDelta):
                    print(event.text, end="", flush=True)
                    mid_line = True
                elif isinstance(event, ToolCallRequested):
                    print(f"-> {event.name}({event.arguments_json})")
                elif isinstance(event, ToolResultReady):
                    status = "error" if event.record.outcome.is_error else "ok"
                    print(f"<- {event.record.name} [{status}, {event.record.duration:.2f} s]")
                elif isinstance(event, RunFinished):
                    print(f"=== {event.result.stop_reason} after {event.result.rounds} rounds")
            result = await run.result()

        print("Answer:", result.output)
        for record in result.tool_calls:
            shown = " ".join((record.result or f"error: {record.error}").split())
            print(f"  {record.source}/{record.tool} {record.arguments} -> {shown}")
        # The session is still ours, open and usable after the run.
        again = await session.call_tool("get_current_time", {"timezone": "UTC"})
        text = next(block.text for block in again.content if isinstance(block, TextContent))
        print("UTC now:", json.loads(text)["datetime"])


if __name__ == "__main__":
    anyio.run(main)
