"""The command line's grammar: global options, one sub-parser per command, plain-text help."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

__all__ = ["GLOBAL_OPTIONS", "UsageError", "build_parser", "parse_gpu", "split_passthrough"]

DESCRIPTION = """\
Drive a local LLM server (LM Studio, or any OpenAI-compatible one) from the shell:
check the setup, list, load and unload models, chat, or take the tour.

The server is --base-url, else $LMBRIDGE_BASE_URL, else http://localhost:1234.
The API token is --token, else $LM_API_TOKEN (prefer the variable: a command line
is visible to other users of the machine)."""

EPILOG = """\
examples:
  lmbridge doctor                      is everything set up? what to do if not
  lmbridge models                      downloaded models (also: lmbridge ls)
  lmbridge load qwen/qwen3-4b --ttl 3600
  lmbridge chat qwen/qwen3-4b "Say hi"
  git diff | lmbridge chat qwen/qwen3-4b "Review this"
  lmbridge ps --json                   loaded instances, for scripts
  lmbridge unload --all

exit status: 0 success, 1 an error (message and hint on stderr), 2 a usage error."""


class UsageError(Exception):
    """A usage error found only after parsing (exit status 2), e.g. ``chat`` with no prompt."""


GLOBAL_OPTIONS = ("--base-url", "--token")
"""Options that take a value and may come before the command (see :func:`split_passthrough`)."""


def parse_gpu(value: str) -> str | float:
    """``--gpu``: ``off``, ``max`` or a fraction between 0 and 1."""
    if value in ("off", "max"):
        return value
    try:
        fraction = float(value)
    except ValueError:
        fraction = -1.0
    if not 0.0 <= fraction <= 1.0:
        raise argparse.ArgumentTypeError(f"expected off, max or a fraction 0..1, got {value!r}")
    return fraction


def _positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {value!r}")
    return number


def _connection_options(*, suppress: bool) -> argparse.ArgumentParser:
    """``--base-url`` and ``--token``. Sub-commands take them too (``lmbridge ps --base-url X``)
    with suppressed defaults, so that a value given before the command is not reset after it."""
    parent = argparse.ArgumentParser(add_help=False)
    default = argparse.SUPPRESS if suppress else None
    parent.add_argument(
        "--base-url",
        metavar="URL",
        default=default,
        help="the server, or several separated by commas "
        "(default: $LMBRIDGE_BASE_URL, else http://localhost:1234)",
    )
    parent.add_argument(
        "--token", metavar="T", default=default, help="the API token (default: $LM_API_TOKEN)"
    )
    return parent


def build_parser(version: str) -> argparse.ArgumentParser:
    """The ``lmbridge`` parser."""
    parser = argparse.ArgumentParser(
        prog="lmbridge",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[_connection_options(suppress=False)],
    )
    parser.add_argument("--version", action="version", version=f"lmbridge {version}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    common = [_connection_options(suppress=True)]
    as_json = argparse.ArgumentParser(add_help=False)
    as_json.add_argument("--json", action="store_true", help="print JSON, for scripts")

    commands.add_parser(
        "doctor",
        parents=[*common, as_json],
        help="check the server, the token, lms, what is loaded; say what to do",
        description="Check the setup and say what to do about each problem. Exit status 1 when "
        "something is wrong.",
    )
    commands.add_parser(
        "models",
        aliases=["ls"],
        parents=[*common, as_json],
        help="downloaded models: type, size, context, loaded",
        description="The downloaded models, with their type, size, context length and whether "
        "they are loaded.",
    )
    commands.add_parser(
        "ps",
        parents=[*common, as_json],
        help="loaded instances: status, TTL, context",
        description="The loaded model instances, with their status, idle TTL and context length.",
    )

    load = commands.add_parser(
        "load",
        parents=[*common, as_json],
        help="load a model (nothing happens if it is loaded already)",
        description="Load a model, with a progress bar. A model that is already loaded is left "
        "as it is: no second instance.",
    )
    load.add_argument("key", metavar="KEY", help="a model key, or an unambiguous part of one")
    load.add_argument(
        "--ttl", type=_positive_int, metavar="SECONDS", help="unload after this long idle"
    )
    load.add_argument(
        "--context-length", type=_positive_int, metavar="N", help="the context length in tokens"
    )
    load.add_argument("--gpu", type=parse_gpu, metavar="off|max|0..1", help="GPU offload")
    load.add_argument("--identifier", metavar="ID", help="the name requests will use")

    unload = commands.add_parser(
        "unload",
        parents=[*common, as_json],
        help="unload an instance, a model's instances (ID --all), or everything (--all)",
        description="Unload one instance; with --all every instance of the model ID, or every "
        "loaded instance when no ID is given.",
    )
    unload.add_argument("identifier", metavar="ID", nargs="?", help="an instance or a model")
    unload.add_argument(
        "--all", action="store_true", dest="all_instances", help="every instance (of ID)"
    )

    chat = commands.add_parser(
        "chat",
        parents=common,
        help="stream a reply; a session when run in a terminal without a prompt",
        description="Stream a reply to PROMPT. Piped input is read as the prompt (after PROMPT, "
        "when both are given). In a terminal with no prompt, chat turn by turn until /exit or "
        "Ctrl-D. Reasoning goes to stderr, so a pipe receives the answer alone.",
    )
    chat.add_argument("model", metavar="MODEL", help="a model key, or an unambiguous part of one")
    chat.add_argument("prompt", metavar="PROMPT", nargs="?", help="the message (or pipe it in)")
    chat.add_argument("--system", metavar="TEXT", help="a system prompt")
    chat.add_argument("--temperature", type=float, metavar="T", help="sampling temperature")
    chat.add_argument(
        "--max-tokens", type=_positive_int, metavar="N", help="the longest reply, in tokens"
    )

    demo = commands.add_parser(
        "demo",
        parents=common,
        help="a tour: LM Studio if one answers, else the built-in simulator",
        description="A tour of lmbridge. On a real server it uses the models already loaded "
        "there; with --load it loads up to three chat models, smallest first.",
    )
    demo.add_argument("--load", action="store_true", help="load models for the tour if needed")

    commands.add_parser(
        "mcp-server",
        add_help=False,
        help="serve lmbridge as an MCP server (the options after it go to the server)",
    )
    return parser


def split_passthrough(argv: Sequence[str], command: str) -> tuple[list[str], list[str] | None]:
    """Split ``argv`` before the arguments of ``command`` when it is the command given.

    ``lmbridge mcp-server --help`` must reach the MCP server untouched, in order, so everything
    after ``mcp-server`` is cut off before argparse sees it. Returns ``(argv for lmbridge,
    arguments for the command)``, the second ``None`` when another command was given.
    """
    index = 0
    while index < len(argv):
        arg = argv[index]
        if arg in GLOBAL_OPTIONS:
            index += 2
            continue
        if arg.startswith("-"):
            index += 1
            continue
        if arg == command:
            return list(argv[: index + 1]), list(argv[index + 1 :])
        break
    return list(argv), None
