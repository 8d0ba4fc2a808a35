"""``chat``: one streamed reply (the prompt an argument, piped in, or both), or a session turn by
turn when run in a terminal without a prompt."""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Callable
from functools import partial
from typing import Any, TextIO

import anyio
import anyio.to_thread

from lmbridge.bridge import Bridge
from lmbridge.chat.events import ReasoningDelta, TextDelta
from lmbridge.cli.output import Output
from lmbridge.cli.parser import UsageError
from lmbridge.terminal import ReplyPrinter, is_terminal

__all__ = ["chat", "is_session", "session"]

_EXIT_WORDS = frozenset({"/exit", "/quit", "/bye"})


def _options(args: argparse.Namespace) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if args.temperature is not None:
        options["temperature"] = args.temperature
    if args.max_tokens is not None:
        options["max_tokens"] = args.max_tokens
    return options


def _system(args: argparse.Namespace) -> list[dict[str, Any]]:
    return [{"role": "system", "content": args.system}] if args.system else []


async def chat(bridge: Bridge, args: argparse.Namespace, out: Output, *, stdin: TextIO) -> int:
    """One reply: to the prompt argument, the piped text, or both (argument first)."""
    options = _options(args)
    messages = _system(args)
    piped = not is_terminal(stdin)
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


def is_session(args: argparse.Namespace, stdin: TextIO) -> bool:
    """Whether ``chat`` runs a session: no prompt given, and a person at the keyboard."""
    return args.prompt is None and is_terminal(stdin)


def session(args: argparse.Namespace, out: Output, *, connect: Callable[[], Bridge]) -> int:
    """Turn by turn until ``/exit`` or Ctrl-D; the whole conversation is sent each turn.

    The prompt is read by ``input()`` in the main thread, outside any event loop: Ctrl-C at the
    prompt ends the session at once (a worker thread blocked in a read would keep the process
    alive until Enter), and ``input()`` gives line editing. Each turn runs under its own
    ``anyio.run`` with its own Bridge. Ctrl-C during a reply stops that reply only.
    """
    with contextlib.suppress(ImportError):
        import readline  # noqa: F401  (line editing and history for input(); not on Windows)

    options = _options(args)
    messages = _system(args)
    anyio.run(partial(_turn, connect, args.model, None, options, out))
    out.note(f"Chatting with {args.model}. /exit or Ctrl-D to leave; Ctrl-C stops a reply.")
    while True:
        try:
            line = input("> ")
        except EOFError:
            out.line()
            return 0
        prompt = line.strip()
        if not prompt:
            continue
        if prompt in _EXIT_WORDS:
            return 0
        messages.append({"role": "user", "content": prompt})
        try:
            answer = anyio.run(partial(_turn, connect, args.model, messages, options, out))
        except KeyboardInterrupt:
            out.note("\n(stopped)")
            messages.pop()  # the question goes unanswered: leave it out of the conversation
            continue
        messages.append({"role": "assistant", "content": answer})


async def _turn(
    connect: Callable[[], Bridge],
    model: str,
    messages: list[dict[str, Any]] | None,
    options: dict[str, Any],
    out: Output,
) -> str:
    """One turn on a fresh Bridge; with ``messages=None``, only load the model if needed."""
    async with connect() as bridge:
        await _load_visibly(bridge, model, out)
        if messages is None:
            return ""
        return await _reply(bridge, model, messages, options, out)
