"""``python -m lmbridge.testing serve``: run the simulated LM Studio on a port, for curl or any client."""

from __future__ import annotations

import argparse
import errno
import sys
from collections.abc import Sequence

from lmbridge.testing.server import bind_socket, format_url, load_uvicorn
from lmbridge.testing.simulator import SimulatedLMStudio

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m lmbridge.testing",
        description="A simulated LM Studio server for testing (no models, no GPU).",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve over HTTP until Ctrl-C")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=1234, help="port (default 1234; 0 = any free)")
    serve.add_argument(
        "--load", action="append", default=[], metavar="KEY", help="model key to preload (repeat)"
    )
    serve.add_argument("--no-jit", action="store_true", help="disable JIT loading")
    serve.add_argument("--load-delay", type=float, default=0.0, help="seconds each load takes")
    serve.add_argument("--auth-token", default=None, help="require this bearer token")
    serve.add_argument(
        "--memory-gb",
        type=float,
        default=None,
        help="memory for loaded models: a load past it fails with LM Studio's out-of-memory error",
    )
    serve.add_argument(
        "--one-model-answers-all",
        action="store_true",
        help="with one model loaded, answer any model name with it",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    args = _parser().parse_args(argv)
    sim = SimulatedLMStudio(
        loaded=args.load,
        jit=not args.no_jit,
        load_delay=args.load_delay,
        auth_token=args.auth_token,
        memory_limit_bytes=None if args.memory_gb is None else int(args.memory_gb * 1e9),
        one_model_answers_all=args.one_model_answers_all,
    )
    uvicorn = load_uvicorn()
    try:
        sock = bind_socket(args.host, args.port)
    except OSError as exc:
        # A one-line answer, not a traceback: the usual cause is LM Studio (or another simulator)
        # already listening on the default port 1234.
        print(
            f"python -m lmbridge.testing serve: {_bind_problem(exc, args.host, args.port)}",
            file=sys.stderr,
        )
        return 1
    port = sock.getsockname()[1]
    context = sim._context  # the CLI owns this simulator: let /__sim__/state report the real port
    context.port = port
    print(
        f"Simulated LM Studio on {format_url(args.host, port)} "
        f"(models: {', '.join(sim.models)}; Ctrl-C to stop)",
        file=sys.stderr,
    )
    config = uvicorn.Config(sim.asgi_app(), lifespan="off", http="h11", ws="none")
    uvicorn.Server(config).run(sockets=[sock])
    return 0


def _bind_problem(exc: OSError, host: str, port: int) -> str:
    where = format_url(host, port)
    if exc.errno == errno.EADDRINUSE:
        return (
            f"{where} is already in use (LM Studio or another server?); "
            "pick another port with --port N, or --port 0 for any free one."
        )
    if exc.errno == errno.EACCES:
        return f"not allowed to listen on {where}; use a port above 1023."
    return f"cannot listen on {where}: {exc.strerror or exc}."


if __name__ == "__main__":
    sys.exit(main())
