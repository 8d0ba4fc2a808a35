"""lmbridge side by side with raw httpx and openai-python, against one loopback server (#18).

Run: ``python bench/compare.py [--quick] [--gross]``. The script starts its own server in a
separate process (a bare ASGI app on uvicorn serving prebuilt bytes, so its cost is the same for
every client), then runs the three clients interleaved round-robin so that machine noise hits
them alike. It prints medians, spread (p10-p90) and ratios, with PASS/FAIL per target:

- a non-streamed call: p50 within 1.05x of raw httpx (``post`` + ``.json()``);
- a 500-chunk stream, per chunk: within 1.0x of raw httpx (``aiter_lines`` + ``json.loads``)
  and at least 20x faster than openai-python;
- 64 concurrent calls: throughput at least 1.0x raw httpx;
- ``import lmbridge`` + ``lmbridge.Bridge`` + a first ``Bridge(...)``, beyond
  ``import httpx, anyio, backoff`` + pydantic, measured in fresh interpreters: at most 40 ms.

Exit status: 1 if a target is missed; with ``--gross``, 1 only if a result is 2x worse than its
target (CI's rule: a shared 2-core machine makes the tight targets noise, not signal).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx

MODEL = "qwen/qwen3-4b"
CHUNKS = 500
CONCURRENCY = 64
PAYLOAD: dict[str, Any] = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}]}


# --- the server (runs in its own process: `compare.py --serve`) -------------------------------


def completion_body() -> bytes:
    return json.dumps(
        {
            "id": "chatcmpl-bench",
            "object": "chat.completion",
            "created": 1,
            "model": MODEL,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "Hello there!"},
                    "logprobs": None,
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8},
        }
    ).encode()


def stream_body(chunks: int) -> bytes:
    """Chunks as LM Studio writes them: every field it sends, ``role`` in every delta and
    ``logprobs: null`` in every choice (leaner chunks would flatter the clients that validate)."""
    head = {
        "id": "chatcmpl-bench4t0x1p6a8c0tq5w2",
        "object": "chat.completion.chunk",
        "created": 1764673200,
        "model": MODEL,
        "system_fingerprint": MODEL,
    }
    parts = []
    for i in range(chunks):
        delta = {"role": "assistant", "content": f" tok{i}"}
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": None}
        parts.append({**head, "choices": [choice]})
    end = {"index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"}
    parts.append({**head, "choices": [end]})
    usage = {"prompt_tokens": 5, "completion_tokens": chunks, "total_tokens": chunks + 5}
    parts.append({**head, "choices": [], "usage": usage})
    # Compact, as LM Studio's JSON.stringify writes it.
    lines = [f"data: {json.dumps(part, separators=(',', ':'))}\n\n" for part in parts]
    lines.append("data: [DONE]\n\n")
    return "".join(lines).encode()


def serve() -> None:
    """A bare ASGI app: no framework, no per-request work beyond reading the request body."""
    import uvicorn

    completion, events = completion_body(), stream_body(CHUNKS)
    models = json.dumps({"object": "list", "data": [{"id": MODEL, "object": "model"}]}).encode()
    # Split the stream as a model server writes it: many small sends, not one buffer.
    pieces = [events[i : i + 4096] for i in range(0, len(events), 4096)]

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        path = scope["path"]
        streamed = b'"stream":true' in body.replace(b" ", b"")
        if path == "/v1/chat/completions" and streamed:
            headers = [(b"content-type", b"text/event-stream")]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            if b'"content":"hold"' in body.replace(b" ", b""):
                # An idle stream (bench/extras.py): one piece, then nothing until the client
                # goes away.
                await send({"type": "http.response.body", "body": pieces[0], "more_body": True})
                while (await receive())["type"] != "http.disconnect":
                    pass
                return
            for piece in pieces:
                await send({"type": "http.response.body", "body": piece, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
            return
        status, payload = 404, b'{"error": "Unexpected endpoint"}'
        if path == "/v1/chat/completions":
            status, payload = 200, completion
        elif path == "/v1/models":
            status, payload = 200, models
        headers = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})

    sock = socket.socket()
    # Replies are a header write then a body write: without NODELAY each waits ~40 ms for
    # the client's delayed ACK, which would swamp every client-side difference.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", 0))
    print(sock.getsockname()[1], flush=True)
    # Connections stay open between phases: with uvicorn's 5 s keep-alive, connections a client
    # pooled in one phase were closed by the server while idle in the next, and a request
    # racing that close failed with a ReadError (seen once, in raw httpx's pool).
    config = uvicorn.Config(
        app, log_level="warning", access_log=False, backlog=2048, timeout_keep_alive=3600
    )
    uvicorn.Server(config).run(sockets=[sock])


def start_server() -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, __file__, "--serve"], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    port = int(process.stdout.readline())
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):  # the socket is bound before uvicorn accepts on it
        try:
            httpx.get(f"{url}/v1/models")
            break
        except httpx.TransportError:
            time.sleep(0.05)
    return process, url


# --- the clients: each offers one call, one stream (returns chunks seen) ---------------------


class Client:
    name = ""
    first_token = 0.0  # perf_counter() when the stream's first text arrived

    async def call(self) -> None:
        raise NotImplementedError

    async def stream(self) -> int:
        raise NotImplementedError

    async def aclose(self) -> None:
        raise NotImplementedError


class RawHttpx(Client):
    """The least a hand-written client does: no validation, no retries, no typed results."""

    name = "raw httpx"

    def __init__(self, url: str) -> None:
        # httpx's defaults, as a hand-written client has them.
        self._client = httpx.AsyncClient(base_url=url)

    async def call(self) -> None:
        response = await self._client.post("/v1/chat/completions", json=PAYLOAD)
        response.json()

    async def stream(self) -> int:
        count = 0
        body = {**PAYLOAD, "stream": True}
        async with self._client.stream("POST", "/v1/chat/completions", json=body) as response:
            async for line in response.aiter_lines():
                if line.startswith("data: ") and line != "data: [DONE]":
                    chunk = json.loads(line[6:])
                    for choice in chunk["choices"]:
                        if choice["delta"].get("content"):
                            count += 1
                            if count == 1:
                                self.first_token = time.perf_counter()
        return count

    async def aclose(self) -> None:
        await self._client.aclose()


class Lmbridge(Client):
    name = "lmbridge"

    def __init__(self, url: str) -> None:
        from lmbridge import Bridge

        self._bridge = Bridge(url, auto_load=False)

    async def call(self) -> None:
        await self._bridge.chat(MODEL, "hi")

    async def stream(self) -> int:
        from lmbridge import TextDelta

        count = 0
        async with self._bridge.stream(MODEL, "hi") as stream:
            async for event in stream:
                if isinstance(event, TextDelta):
                    count += 1
                    if count == 1:
                        self.first_token = time.perf_counter()
            await stream.result()
        return count

    async def aclose(self) -> None:
        await self._bridge.aclose()


class OpenAI(Client):
    name = "openai-python"

    def __init__(self, url: str) -> None:
        import openai

        self._client = openai.AsyncOpenAI(base_url=f"{url}/v1", api_key="x")

    async def call(self) -> None:
        await self._client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "hi"}]
        )

    async def stream(self) -> int:
        count = 0
        stream = await self._client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "hi"}], stream=True
        )
        async for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                count += 1
                if count == 1:
                    self.first_token = time.perf_counter()
        return count

    async def aclose(self) -> None:
        await self._client.close()


# --- measurements ----------------------------------------------------------------------------


@dataclass
class Sample:
    """Measurements of one quantity for each client; ``lower`` means smaller is better."""

    title: str
    unit: str
    values: dict[str, list[float]]
    lower: bool = True

    def median(self, name: str) -> float:
        return statistics.median(self.values[name])

    def spread(self, name: str) -> str:
        data = sorted(self.values[name])
        low, high = data[len(data) // 10], data[(len(data) * 9) // 10]
        return f"{low:.4g}-{high:.4g}"


async def interleaved(
    clients: list[Client], rounds: int, measure: Callable[[Client], Awaitable[float]]
) -> dict[str, list[float]]:
    """``rounds`` measurements per client, taking turns (the starting client rotates)."""
    values: dict[str, list[float]] = {client.name: [] for client in clients}
    for i in range(rounds):
        order = clients[i % len(clients) :] + clients[: i % len(clients)]
        for client in order:
            values[client.name].append(await measure(client))
    return values


async def one_call(client: Client) -> float:
    started = time.perf_counter()
    await client.call()
    return (time.perf_counter() - started) * 1e6


# Time to first token of each stream read by one_stream, in µs, by client.
FIRST_TOKEN: dict[str, list[float]] = {}


async def one_stream(client: Client) -> float:
    started = time.perf_counter()
    seen = await client.stream()
    elapsed = time.perf_counter() - started
    assert seen == CHUNKS, f"{client.name} saw {seen} of {CHUNKS} chunks"
    FIRST_TOKEN.setdefault(client.name, []).append((client.first_token - started) * 1e6)
    return elapsed / CHUNKS * 1e6


async def concurrent_calls(client: Client) -> float:
    started = time.perf_counter()
    await asyncio.gather(*(client.call() for _ in range(CONCURRENCY)))
    return CONCURRENCY / (time.perf_counter() - started)


IMPORT_PROBE = """
import time
t0 = time.perf_counter()
import httpx, anyio, backoff
from pydantic import BaseModel, TypeAdapter
t1 = time.perf_counter()
import lmbridge
lmbridge.Bridge(auto_load=False)
t2 = time.perf_counter()
print((t1 - t0) * 1e3, (t2 - t1) * 1e3)
"""


def import_times(runs: int) -> Sample:
    """Fresh interpreters: the baseline's import time, and lmbridge's beyond it."""
    base: list[float] = []
    beyond: list[float] = []
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "0"}
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", IMPORT_PROBE],
            capture_output=True,
            text=True,
            env=env,
            check=True,
        ).stdout.split()
        base.append(float(out[0]))
        beyond.append(float(out[1]))
    return Sample("import", "ms", {"baseline": base, "lmbridge beyond": beyond})


# --- the report ------------------------------------------------------------------------------


@dataclass
class Target:
    label: str
    measured: float  # the ratio, or ms for the import target
    limit: float
    at_most: bool  # True: measured <= limit passes

    def passed(self, factor: float = 1.0) -> bool:
        """``factor=2`` is the gross rule: only a result 2x worse than the target fails."""
        if self.at_most:
            return self.measured <= self.limit * factor
        return self.measured >= self.limit / factor


def table(samples: list[Sample]) -> None:
    print(f"{'measurement':<34} {'client':<16} {'median':>10} {'p10-p90':>20}")
    for sample in samples:
        for name in sample.values:
            label = f"{sample.title} ({sample.unit})"
            print(f"{label:<34} {name:<16} {sample.median(name):>10.4g} {sample.spread(name):>20}")


async def run(quick: bool) -> list[Target]:
    process, url = start_server()
    try:
        clients: list[Client] = [RawHttpx(url), Lmbridge(url), OpenAI(url)]
        for client in clients:  # warm-up: connections, lazy imports, validators
            await client.call()
            await client.stream()
            await concurrent_calls(client)
        calls = Sample(
            "call p50", "µs", await interleaved(clients, 400 if quick else 1500, one_call)
        )
        streams = Sample(
            f"stream of {CHUNKS}, per chunk",
            "µs",
            await interleaved(clients, 30 if quick else 100, one_stream),
        )
        first = Sample("time to first token", "µs", FIRST_TOKEN)  # no target: for reading
        gathered = Sample(
            f"{CONCURRENCY} concurrent calls",
            "calls/s",
            await interleaved(clients, 30 if quick else 100, concurrent_calls),
            lower=False,
        )
        for client in clients:
            await client.aclose()
    finally:
        process.terminate()
        process.wait()
    imports = import_times(9 if quick else 21)
    table([calls, streams, first, gathered, imports])
    raw, mine, oai = "raw httpx", "lmbridge", "openai-python"
    return [
        Target("call p50 / raw httpx", calls.median(mine) / calls.median(raw), 1.05, True),
        Target(
            "stream per chunk / raw httpx", streams.median(mine) / streams.median(raw), 1.0, True
        ),
        Target(
            "openai / lmbridge per chunk", streams.median(oai) / streams.median(mine), 20, False
        ),
        Target(
            f"{CONCURRENCY} concurrent throughput / raw",
            gathered.median(mine) / gathered.median(raw),
            1.0,
            False,
        ),
        Target("import beyond baseline (ms)", imports.median("lmbridge beyond"), 40, True),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="fewer rounds: under a minute")
    parser.add_argument("--gross", action="store_true", help="fail only at 2x a target")
    parser.add_argument(
        "--known-miss",
        action="append",
        default=[],
        metavar="TEXT",
        help="report, but never fail on, targets whose label contains TEXT (a known open miss)",
    )
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve()
        return 0
    targets = asyncio.run(run(args.quick))
    print(f"\n{'target':<36} {'measured':>9} {'target':>9}  result")
    failed = False
    for target in targets:
        sign = "<=" if target.at_most else ">="
        verdict = "PASS" if target.passed() else "FAIL"
        if any(text in target.label for text in args.known_miss):
            verdict += " (known miss: not failing the run)" if not target.passed() else ""
        elif not target.passed(2.0):
            verdict, failed = "FAIL (gross: 2x the target)", True
        elif not target.passed() and not args.gross:
            failed = True
        limit = f"{sign} {target.limit:g}"
        print(f"{target.label:<36} {target.measured:>9.3g} {limit:>9}  {verdict}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
