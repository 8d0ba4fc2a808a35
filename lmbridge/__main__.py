"""Command line: ``python -m lmbridge demo [--base-url URL]``."""

from __future__ import annotations

import argparse
import asyncio
import sys

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m lmbridge`` and the ``lmbridge`` script."""
    parser = argparse.ArgumentParser(prog="lmbridge", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="a tour: LM Studio if one answers, else the simulator")
    demo.add_argument(
        "--base-url", default=None, help="default: $LMBRIDGE_BASE_URL or localhost:1234"
    )
    args = parser.parse_args(argv)
    if args.command == "demo":
        from lmbridge.demo import main as demo_main

        asyncio.run(demo_main(args.base_url))
    return 0


if __name__ == "__main__":
    sys.exit(main())
