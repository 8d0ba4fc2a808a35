"""The ``lmbridge`` command: parse, run one command under ``anyio.run``, turn errors into a
message, a hint and an exit status (0 success, 1 error, 2 usage), never a traceback."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Awaitable, Callable, Sequence
from functools import partial

import anyio

from lmbridge import __version__
from lmbridge.bridge import Bridge
from lmbridge.cli import chat, doctor, models
from lmbridge.cli.output import Output, load_rich
from lmbridge.cli.parser import UsageError, build_parser, split_passthrough
from lmbridge.errors import LMBridgeError

__all__ = ["main"]

Command = Callable[[Bridge, argparse.Namespace, Output], Awaitable[int]]

_INTERRUPTED = 130  # the shell's status for Ctrl-C


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``lmbridge`` with ``argv`` (default: the process's arguments); the exit status."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    own, passthrough = split_passthrough(arguments, "mcp-server")
    parser = build_parser(__version__)
    args = parser.parse_args(own)  # exits 2 on a usage error, 0 for --help and --version
    if args.command == "unload" and args.identifier is None and not args.all_instances:
        parser.error("unload needs an instance identifier, or --all")
    out = Output(stdout=sys.stdout, stderr=sys.stderr, rich=load_rich())
    try:
        if args.command == "mcp-server":
            return run_mcp_server(args, passthrough or [], out)
        if args.command == "demo":
            return anyio.run(partial(_demo, args))
        if args.command == "chat" and chat.is_session(args, sys.stdin):
            return chat.session(args, out, connect=partial(_connect, args))
        return anyio.run(partial(_run, _command(args.command), args, out))
    except UsageError as problem:
        out.usage_error(str(problem))
        return 2
    except LMBridgeError as error:
        out.error(error)
        return 1
    except KeyboardInterrupt:
        out.note("")
        return _INTERRUPTED


def _command(name: str) -> Command:
    if name == "chat":
        return partial(chat.chat, stdin=sys.stdin)
    commands: dict[str, Command] = {
        "doctor": doctor.doctor,
        "models": models.models,
        "ls": models.models,
        "ps": models.ps,
        "load": models.load,
        "unload": models.unload,
    }
    return commands[name]


def _connect(args: argparse.Namespace) -> Bridge:
    # doctor asks once and reports: retrying an unreachable server would only make it slow.
    retries = 0 if args.command == "doctor" else 2
    return Bridge(args.base_url, api_token=args.token, max_retries=retries)


async def _run(command: Command, args: argparse.Namespace, out: Output) -> int:
    async with _connect(args) as bridge:
        return await command(bridge, args, out)


async def _demo(args: argparse.Namespace) -> int:
    from lmbridge.demo import main as demo_main

    return await demo_main(args.base_url, api_token=args.token, load=args.load)


def run_mcp_server(args: argparse.Namespace, argv: list[str], out: Output) -> int:
    """Hand over to ``lmbridge.mcp_server.main(argv)``, imported only now (it needs ``mcp``)."""
    try:
        server = importlib.import_module("lmbridge.mcp_server")
    except ModuleNotFoundError as exc:
        if exc.name in ("lmbridge.mcp_server", None):
            out.note("lmbridge: error: this lmbridge has no MCP server (lmbridge.mcp_server).")
        else:
            out.note(
                f"lmbridge: error: the MCP server needs {exc.name}: pip install 'lmbridge[mcp]'"
            )
        return 1
    # The server builds its own Bridge from the environment, as any Bridge() does; options given
    # before `mcp-server` reach it that way (this process is the server: nothing else sees it).
    if args.base_url:
        os.environ["LMBRIDGE_BASE_URL"] = args.base_url
    if args.token:
        os.environ["LM_API_TOKEN"] = args.token
    status: int = server.main(argv)
    return status
