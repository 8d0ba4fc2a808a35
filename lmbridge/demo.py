"""``python -m lmbridge demo``: a tour on LM Studio if one answers, else on the simulator."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any, TextIO

import httpx
from pydantic import BaseModel

from lmbridge.bridge import Bridge
from lmbridge.chat.events import ReasoningDelta, TextDelta
from lmbridge.errors import LMBridgeError
from lmbridge.lifecycle.types import ModelInfo
from lmbridge.terminal import ReplyPrinter, Style, wants_color
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


class Tour:
    """Where the tour writes, how, and which section it is at: numbered as they are shown, so a
    section skipped on a real server leaves no gap."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.style = Style(color=wants_color(out))
        self._section = 0

    def say(self, text: str = "") -> None:
        print(text, file=self.out, flush=True)

    def section(self, title: str) -> None:
        self._section += 1
        self.say("\n" + self.style.bold(f"{self._section}. {title}"))

    def printer(self) -> ReplyPrinter:
        return ReplyPrinter(out=self.out, thoughts=self.out, indent="   ")


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


async def loaded_chat_models(bridge: Bridge) -> list[str]:
    """The chat models a real server has loaded now: the tour touches nothing else by default."""
    instances = [i for i in await bridge.models.loaded() if i.type != "embedding"]
    return list(dict.fromkeys(i.identifier for i in instances))[:3]


async def models_to_load(bridge: Bridge) -> list[ModelInfo]:
    """With ``--load``: up to three chat models, loaded ones first, then the smallest."""
    models = [m for m in await bridge.models.list() if m.type != "embedding"]
    models.sort(key=lambda m: (not m.loaded, m.size_bytes or 0))
    return models[:3]


async def demo(tour: Tour, bridge: Bridge, models: list[str], sim: Any | None) -> None:
    say = tour.say
    first = models[0]

    tour.section(f"Streaming from {first}")
    prompt = "Why run LLMs locally? Three reasons, one line."
    printer = tour.printer()
    async with bridge.stream(first, prompt, max_tokens=200) as stream:
        async for event in stream:
            if isinstance(event, ReasoningDelta):
                printer.reasoning(event.text)
            elif isinstance(event, TextDelta):
                printer.text(event.text)
        result = await stream.result()
    printer.finish()
    say(tour.style.dim(f"   finish_reason={result.finish_reason} usage={result.usage}"))

    plural = "s" if len(models) != 1 else ""
    tour.section(f"{len(models)} model{plural} answering at once (asyncio.gather on one Bridge)")
    started = time.monotonic()
    answers = await asyncio.gather(
        *(bridge.chat(m, "Say hi in five words.", max_tokens=40) for m in models)
    )
    for model, answer in zip(models, answers, strict=True):
        say(f"   {model:<22} {shorten(answer.text)!r}")
    say(f"   all {len(models)} in {time.monotonic() - started:.2f}s")

    tour.section("Structured output with a pydantic model")
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
        tour.section("LM Studio evicts the model behind our back...")
        evicted = sim.evict(first)
        say(f"   evicted: {evicted}; loaded now: {[i.identifier for i in sim.loaded]}")
        healed = await bridge.chat(first, "Are you still there?")
        say(f"   lmbridge reloaded it and retried once: {healed.text!r}")
        say(f"   loaded now: {[i.identifier for i in sim.loaded]} (no ':2' duplicates)")

    agent_model = models[-1]
    tour.section(f"An agent run on {agent_model} with a Python function tool")
    run = await bridge.run_agent(
        agent_model, "What time is it in Tokyo?", tools=[get_time], max_rounds=4, max_tokens=300
    )
    for call in run.tool_calls:
        say(f"   tool {call.name}({json.dumps(call.arguments)}) -> {shorten(call.outcome.text)!r}")
    say(f"   output: {shorten(run.output)!r}")
    say(f"   stop_reason={run.stop_reason} rounds={run.rounds}")


def next_steps(tour: Tour) -> None:
    tour.say("\n" + tour.style.bold("Next steps"))
    tour.say("   - The short tour in README.md: the same calls, as code to copy.")
    tour.say(
        "   - The docs, starting at docs/getting-started.md in the repository (`mkdocs serve` "
        "shows them as a site); the command line: `lmbridge --help`."
    )
    tour.say(
        "   - Tests without a GPU: lmbridge.testing.SimulatedLMStudio in-process, or "
        "`python -m lmbridge.testing serve --port 0` for any client."
    )


async def on_server(tour: Tour, url: str, *, api_token: str | None, load: bool) -> int:
    """The tour on a real server: only models already loaded there, unless ``load`` is set."""
    tour.say(f"A server answers at {url}: running the demo against it.")
    async with Bridge(url, api_token=api_token) as bridge:
        if load:
            chosen = await models_to_load(bridge)
            if not chosen:
                tour.say(
                    "No chat model is downloaded there; download one with `lms get qwen/qwen3-4b`."
                )
                return 1
            for model in chosen:
                if not model.loaded:
                    size = f" ({model.size_bytes / 1e9:.1f} GB)" if model.size_bytes else ""
                    tour.say(f"Loading {model.key}{size}...")
                    await bridge.models.ensure_loaded(model.key)
            models = [m.key for m in chosen]
        else:
            # Loading is the user's call: a 20B model can take minutes and most of a laptop's memory.
            models = await loaded_chat_models(bridge)
            if not models:
                tour.say(
                    "No chat model is loaded there, and the demo loads nothing unless asked.\n"
                    "Load one (`lmbridge load qwen/qwen3-4b`, or see `lmbridge models`), or run "
                    "`lmbridge demo --load` to let the demo load up to three, smallest first."
                )
                return 1
        await demo(tour, bridge, models, None)
    next_steps(tour)
    return 0


async def main(
    base_url: str | None = None,
    *,
    api_token: str | None = None,
    load: bool = False,
    out: TextIO | None = None,
) -> int:
    """Run the tour; the exit status.

    Args:
        base_url: the server to try first (default: ``$LMBRIDGE_BASE_URL`` or localhost:1234).
        api_token: its API token (default: ``$LM_API_TOKEN``).
        load: on a real server, load up to three chat models (smallest first) instead of using
            only those already loaded.
        out: where to write (default: stdout).
    """
    tour = Tour(sys.stdout if out is None else out)
    url = normalize_base_url(base_url)
    if await lm_studio_answers(url):
        return await on_server(tour, url, api_token=api_token, load=load)
    tour.say(f"No LM Studio answers at {url}: running on lmbridge's built-in simulator")
    tour.say("(lmbridge.testing.SimulatedLMStudio — the same code paths, no GPU needed).")
    bridge, sim = simulated_bridge()
    async with bridge:
        await demo(tour, bridge, list(CHAT_MODELS), sim)
    next_steps(tour)
    return 0
