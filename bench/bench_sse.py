"""Benchmark the SSE decoder on an OpenAI-style token stream.

Run: ``python bench/bench_sse.py [--events N] [--chunk BYTES] [--repeat R]``. Not run by pytest.

It encodes N ``chat.completion.chunk`` events (one token each, as servers stream them), cuts the
bytes into fixed-size network chunks, and reports the best of R timed decodes.
"""

from __future__ import annotations

import argparse
import json
import time

from lmbridge.transport.sse import SSEDecoder

_WORDS = ["Hello", " world", ",", " the", " quick", " brown", " fox", " jumps", " 😀", " naïve"]


def openai_stream(n_events: int) -> bytes:
    """The bytes of an OpenAI-style streamed chat completion with ``n_events`` token chunks."""
    parts = []
    for i in range(n_events):
        chunk = {
            "id": "chatcmpl-7f3a9c2e1b",
            "object": "chat.completion.chunk",
            "created": 1_732_000_000,
            "model": "qwen2.5-7b-instruct",
            "system_fingerprint": "qwen2.5-7b-instruct",
            "choices": [
                {
                    "index": 0,
                    "delta": {"content": _WORDS[i % len(_WORDS)]},
                    "logprobs": None,
                    "finish_reason": None,
                }
            ],
        }
        parts.append(b"data: " + json.dumps(chunk, ensure_ascii=False).encode() + b"\n\n")
    parts.append(b"data: [DONE]\n\n")
    return b"".join(parts)


def decode_all(chunks: list[bytes]) -> int:
    """Decode every chunk with a fresh decoder; return how many events came out."""
    decoder = SSEDecoder()
    count = 0
    for chunk in chunks:
        count += len(decoder.feed(chunk))
    count += len(decoder.flush())
    return count


def main() -> None:
    """Parse the options, run the benchmark and print the rates."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000, help="token events per stream")
    parser.add_argument("--chunk", type=int, default=1024, help="network chunk size in bytes")
    parser.add_argument("--repeat", type=int, default=7, help="timed runs; the best is reported")
    args = parser.parse_args()

    stream = openai_stream(args.events)
    chunks = [stream[i : i + args.chunk] for i in range(0, len(stream), args.chunk)]
    expected = args.events + 1  # the token events and [DONE]

    best = float("inf")
    for _ in range(args.repeat):
        start = time.perf_counter()
        count = decode_all(chunks)
        best = min(best, time.perf_counter() - start)
        if count != expected:
            raise SystemExit(f"decoded {count} events, expected {expected}")

    print(
        f"{expected} events, {len(stream) / 1e6:.2f} MB in {len(chunks)} chunks of "
        f"{args.chunk} B: best {best * 1e3:.2f} ms -> {expected / best:,.0f} events/s, "
        f"{len(stream) / best / 1e6:.1f} MB/s"
    )


if __name__ == "__main__":
    main()
