"""Per-chunk cost of a chat stream: lmbridge vs raw httpx vs openai-python.

Run: ``python bench/bench_stream.py [--chunks N] [--repeat R]``. Every client reads the same
prebuilt event-stream body from an in-memory ``httpx.MockTransport``, so the numbers measure
client-side work only (decoding, validation, event objects), not a server.

The raw-httpx baseline is the least a hand-written client does: ``aiter_lines()`` and
``json.loads`` of each ``data:`` line, with no validation. Targets (issue #2): lmbridge within
1.5x of that baseline and at least 10x faster than openai-python.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from collections.abc import Awaitable, Callable

import httpx

MODEL = "qwen/qwen3-4b"


def build_body(chunks: int) -> bytes:
    """The same chunks as bench/compare.py's server sends: as LM Studio writes them."""
    from compare import stream_body  # a sibling script: bench/ is on sys.path when run

    return stream_body(chunks)


class _Reads(httpx.AsyncByteStream):
    """The body in 1 KiB reads, as a socket delivers a long stream."""

    def __init__(self, body: bytes) -> None:
        self._pieces = [body[i : i + 1024] for i in range(0, len(body), 1024)]

    async def __aiter__(self):  # type: ignore[no-untyped-def]
        for piece in self._pieces:
            yield piece


def transport(body: bytes) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/models":
            return httpx.Response(200, json={"object": "list", "data": [{"id": MODEL}]})
        if request.url.path.startswith("/api/"):
            return httpx.Response(404, json={"error": "Unexpected endpoint"})
        return httpx.Response(
            200, headers={"content-type": "text/event-stream"}, stream=_Reads(body)
        )

    return httpx.MockTransport(handler)


async def raw_httpx(body: bytes) -> int:
    count = 0
    async with httpx.AsyncClient(transport=transport(body), base_url="http://bench") as client:
        payload = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "stream": True}
        async with client.stream("POST", "/v1/chat/completions", json=payload) as response:
            async for line in response.aiter_lines():
                if line.startswith("data: ") and line != "data: [DONE]":
                    chunk = json.loads(line[6:])
                    for choice in chunk["choices"]:
                        if choice["delta"].get("content"):
                            count += 1
    return count


async def lmbridge_stream(body: bytes) -> int:
    from lmbridge import Bridge, TextDelta

    count = 0
    bridge = Bridge("http://bench", transport=transport(body))
    async with bridge, bridge.stream(MODEL, "hi") as stream:
        async for event in stream:
            if isinstance(event, TextDelta):
                count += 1
        await stream.result()
    return count


async def openai_stream(body: bytes) -> int:
    import openai

    count = 0
    client = openai.AsyncOpenAI(
        base_url="http://bench/v1",
        api_key="x",
        # openai 3.x types this as httpx2's client; httpx's works the same at run time
        http_client=httpx.AsyncClient(transport=transport(body)),  # type: ignore[arg-type]
    )
    stream = await client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "hi"}], stream=True
    )
    async for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            count += 1
    await client.close()
    return count


async def measure(
    fn: Callable[[bytes], Awaitable[int]], body: bytes, chunks: int, repeat: int
) -> float:
    assert await fn(body) == chunks  # warm-up, and a check that every client saw every chunk
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        await fn(body)
        times.append(time.perf_counter() - started)
    return statistics.median(times) / chunks * 1e6


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--chunks", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    body = build_body(args.chunks)
    results = {}
    for name, fn in [
        ("raw httpx + json.loads", raw_httpx),
        ("lmbridge", lmbridge_stream),
        ("openai-python", openai_stream),
    ]:
        try:
            results[name] = await measure(fn, body, args.chunks, args.repeat)
        except ImportError as exc:
            print(f"{name}: skipped ({exc})")
    for name, micros in results.items():
        print(f"{name:<24} {micros:7.2f} µs/chunk")
    base = results["raw httpx + json.loads"]
    mine = results["lmbridge"]
    print(f"\nlmbridge / raw httpx: {mine / base:.2f}x (target <= 1.5x)")
    if "openai-python" in results:
        print(f"openai-python / lmbridge: {results['openai-python'] / mine:.1f}x (target >= 10x)")


if __name__ == "__main__":
    asyncio.run(main())
