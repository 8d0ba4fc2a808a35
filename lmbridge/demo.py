"""``python -m lmbridge demo``: a tour on LM Studio if one answers, else on the simulator."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx
from pydantic import BaseModel

from lmbridge.bridge import Bridge
from lmbridge.chat.results import ReasoningDelta, TextDelta
from lmbridge.errors import LMBridgeError
from lmbridge.transport.client import normalize_base_url

__all__ = ["main"]

CHAT_MODELS = ("qwen/qwen3-4b", "google/gemma-3-4b", "openai/gpt-oss-20b")


class City(BaseModel):
    """The structured-output example's schema."""

    name: str
    country: str
    population: int


def get_time(timezone: str) -> str:
    """Tell the current time in a timezone.

    Args:
        timezone: an IANA timezone name, e.g. "Asia/Tokyo".
    """
    from datetime import datetime
    from zoneinfo import ZoneInfo

    return datetime.now(ZoneInfo(timezone)).strftime("%H:%M %Z")


def say(text: str = "") -> None:
    print(text, flush=True)


def shorten(text: str, limit: int = 160) -> str:
    """Keep the tour readable whatever a real model rambles."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


async def lm_studio_answers(base_url: str) -> bool:
    """Whether an LM Studio (or any OpenAI-compatible server) answers at ``base_url``."""
    try:
        async with httpx.AsyncClient(timeout=httpx.Timeout(2.0)) as client:
            response = await client.get(base_url + "/v1/models")
    except httpx.HTTPError:
        return False
    return response.status_code < 500


def _agent_responder(body: dict[str, Any]) -> Any:
    from lmbridge.testing import Reply, ToolCallSpec

    tool_results = [m for m in body.get("messages", []) if m.get("role") == "tool"]
    if not tool_results:
        return Reply(
            reasoning="The user asks for the time in Tokyo: I should call get_time.",
            tool_calls=[ToolCallSpec("get_time", {"timezone": "Asia/Tokyo"})],
        )
    return Reply(f"It is {tool_results[-1]['content']} in Tokyo right now.")


def simulated_bridge() -> tuple[Bridge, Any]:
    """A Bridge on a simulated LM Studio with JIT off, so eviction must be healed by lmbridge."""
    from lmbridge.testing import Reply, SimulatedLMStudio

    sim = SimulatedLMStudio(jit=False, load_delay=0.3)
    sim.script(
        "qwen/qwen3-4b",
        Reply(
            "Local models keep your data on your machine, cost nothing per token, and work offline.",
            reasoning="Three short reasons, then stop.",
            chunk_delay=0.02,
        ),
    )
    sim.script("google/gemma-3-4b", Reply("Gemma here: hello!", delay=0.4))
    sim.script(
        "openai/gpt-oss-20b",
        Reply("gpt-oss here: hi!", delay=0.4, reasoning="Be brief.", reasoning_shape="reasoning"),
    )
    sim.script("qwen/qwen3-4b", Reply("Hi from Qwen!", delay=0.4))
    sim.script(
        "qwen/qwen3-4b", Reply('{"name": "Tokyo", "country": "Japan", "population": 37400000}')
    )
    sim.script("qwen/qwen3-4b", Reply("Still here after the eviction."))
    sim.responder("openai/gpt-oss-20b", _agent_responder)
    return Bridge(transport=sim.transport(), load_timeout=30), sim


async def pick_models(bridge: Bridge) -> list[str]:
    """Up to three chat models on a real server, loaded ones first."""
    models = [m for m in await bridge.models.list() if m.type != "embedding"]
    models.sort(key=lambda m: m.state != "loaded")
    return [m.key for m in models[:3]]


async def demo(bridge: Bridge, models: list[str], sim: Any | None) -> None:
    first = models[0]

    say(f"\n1. Streaming from {first}")
    prompt = "Why run LLMs locally? Three reasons, one line."
    async with bridge.stream(first, prompt, max_tokens=200) as stream:
        async for event in stream:
            if isinstance(event, ReasoningDelta):
                print(f"\033[2m{event.text}\033[0m", end="", flush=True)
            elif isinstance(event, TextDelta):
                print(event.text, end="", flush=True)
        result = await stream.result()
    say(f"\n   finish_reason={result.finish_reason} usage={result.usage}")

    plural = "s" if len(models) != 1 else ""
    say(f"\n2. {len(models)} model{plural} answering at once (asyncio.gather on one Bridge)")
    started = time.monotonic()
    answers = await asyncio.gather(
        *(bridge.chat(m, "Say hi in five words.", max_tokens=40) for m in models)
    )
    for model, answer in zip(models, answers, strict=True):
        say(f"   {model:<22} {shorten(answer.text)!r}")
    say(f"   all {len(models)} in {time.monotonic() - started:.2f}s")

    say("\n3. Structured output with a pydantic model")
    try:
        city = await bridge.chat(
            first,
            "Name the world's largest city.",
            response_format=City,
            temperature=0,
            max_tokens=200,
        )
        say(f"   parsed: {city.parsed!r}")
    except LMBridgeError as error:
        say(f"   the model broke the schema: {shorten(str(error))}")

    if sim is not None:
        say("\n4. LM Studio evicts the model behind our back...")
        evicted = sim.evict(first)
        say(f"   evicted: {evicted}; loaded now: {[i.identifier for i in sim.loaded]}")
        healed = await bridge.chat(first, "Are you still there?")
        say(f"   lmbridge reloaded it and retried once: {healed.text!r}")
        say(f"   loaded now: {[i.identifier for i in sim.loaded]} (no ':2' duplicates)")

    agent_model = models[-1]
    say(f"\n5. An agent run on {agent_model} with a Python function tool")
    run = await bridge.run_agent(
        agent_model, "What time is it in Tokyo?", tools=[get_time], max_rounds=4, max_tokens=300
    )
    for call in run.tool_calls:
        say(f"   tool {call.name}({json.dumps(call.arguments)}) -> {shorten(call.outcome.text)!r}")
    say(f"   output: {shorten(run.output)!r}")
    say(f"   stop_reason={run.stop_reason} rounds={run.rounds}")


async def main(base_url: str | None = None) -> None:
    """Run the tour."""
    url = normalize_base_url(base_url)
    if await lm_studio_answers(url):
        say(f"A server answers at {url}: running the demo against it.")
        async with Bridge(url) as bridge:
            models = await pick_models(bridge)
            if not models:
                say("No chat model is downloaded there; download one with `lms get qwen/qwen3-4b`.")
                return
            await demo(bridge, models, None)
        return
    say(f"No LM Studio answers at {url}: running on lmbridge's built-in simulator")
    say("(lmbridge.testing.SimulatedLMStudio — the same code paths, no GPU needed).")
    bridge, sim = simulated_bridge()
    async with bridge:
        await demo(bridge, list(CHAT_MODELS), sim)
