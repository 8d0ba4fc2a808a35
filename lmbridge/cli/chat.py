"""``chat``: one streamed reply (the prompt an argument, piped in, or both), or a session turn by
turn when run in a terminal without a prompt."""

from __future__ import annotations

import argparse
from typing import Any, TextIO

import anyio.to_thread

from lmbridge.bridge import Bridge
from lmbridge.chat.results import ReasoningDelta, TextDelta
from lmbridge.cli.output import Output
from lmbridge.cli.parser import UsageError
from lmbridge.terminal import ReplyPrinter, is_terminal

__all__ = ["chat"]

_EXIT_WORDS = frozenset({"/exit", "/quit", "/bye"})


async def chat(bridge: Bridge, args: argparse.Namespace, out: Output, *, stdin: TextIO) -> int:
    options: dict[str, Any] = {}
    if args.temperature is not None:
        options["temperature"] = args.temperature
    if args.max_tokens is not None:
        options["max_tokens"] = args.max_tokens
    messages: list[dict[str, Any]] = []
    if args.system:
        messages.append({"role": "system", "content": args.system})

    piped = not is_terminal(stdin)
    if args.prompt is None and not piped:
        await _load_visibly(bridge, args.model, out)
        return await _session(bridge, args.model, messages, options, out, stdin)
    parts = [args.prompt] if args.prompt else []
    if piped:
        # Reading a pipe blocks until the writer is done: a worker thread, not the event loop.
        text = await anyio.to_thread.run_sync(stdin.read)
        if text.strip():
            parts.append(text)
    if not parts:
        raise UsageError("chat needs a prompt: an argument, or text piped to stdin")
    messages.append({"role": "user", "content": "\n\n".join(parts)})
    await _load_visibly(bridge, args.model, out)
    await _reply(bridge, args.model, messages, options, out)
    return 0


async def _load_visibly(bridge: Bridge, model: str, out: Output) -> None:
    """Load a downloaded model that is not loaded with a progress bar, rather than in silence
    inside the first request (a large model takes minutes). Anything else (a partial name, an
    instance identifier, a server that cannot show state) is left to the request's own check."""
    listing = await bridge.models.list()
    if bridge.models.source == "/v1/models":
        return
    match = next((m for m in listing if m.key == model), None)
    if match is None or match.loaded or match.type == "embedding":
        return
    with out.progress(f"Loading {model}") as update:
        await bridge.models.ensure_loaded(model, on_progress=update)


async def _reply(
    bridge: Bridge,
    model: str,
    messages: list[dict[str, Any]],
    options: dict[str, Any],
    out: Output,
) -> str:
    """Stream one reply: reasoning to stderr, the answer to stdout; the answer's text."""
    printer = ReplyPrinter(
        out=out.stdout, thoughts=out.stderr, label_answer=is_terminal(out.stdout)
    )
    async with bridge.stream(model, messages, **options) as stream:
        try:
            async for event in stream:
                if isinstance(event, ReasoningDelta):
                    printer.reasoning(event.text)
                elif isinstance(event, TextDelta):
                    printer.text(event.text)
        finally:
            printer.finish()
        result = await stream.result()
    return result.text


async def _session(
    bridge: Bridge,
    model: str,
    messages: list[dict[str, Any]],
    options: dict[str, Any],
    out: Output,
    stdin: TextIO,
) -> int:
    """Turn by turn until ``/exit`` or end of input; the whole conversation is sent each turn."""
    out.note(f"Chatting with {model}. /exit or Ctrl-D to leave.")

    def ask() -> str | None:
        out.stdout.write(out.style.bold("> "))
        out.stdout.flush()
        line = stdin.readline()
        return line if line else None  # "" is end of input; an empty line is "\n"

    while True:
        # abandon_on_cancel: Ctrl-C must not wait for a line that will never come.
        line = await anyio.to_thread.run_sync(ask, abandon_on_cancel=True)
        if line is None:
            out.stdout.write("\n")
            return 0
        prompt = line.strip()
        if not prompt:
            continue
        if prompt in _EXIT_WORDS:
            return 0
        messages.append({"role": "user", "content": prompt})
        answer = await _reply(bridge, model, messages, options, out)
        messages.append({"role": "assistant", "content": answer})
