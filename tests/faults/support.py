"""Helpers shared by the fault-matrix modules: bodies, and a Bridge with short timeouts."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx

from lmbridge import Bridge, RetryPolicy
from tests.faults.conftest import SleepRecorder
from tests.faults.rawserver import MODEL

CHAT = "/v1/chat/completions"
TIMEOUT = httpx.Timeout(connect=1.0, read=0.3, write=1.0, pool=1.0)
NESTED = "[" * 2000 + "]" * 2000


def completion(text: str = "ok") -> dict[str, Any]:
    return {
        "id": "c1",
        "object": "chat.completion",
        "model": MODEL,
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
        ],
    }


def chunk(content: str | None = None, finish: str | None = None) -> bytes:
    delta = {} if content is None else {"content": content}
    body = {"model": MODEL, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    return f"data: {json.dumps(body)}\n\n".encode()


def bridge(url: str, no_lms: Path, sleeps: SleepRecorder, **options: Any) -> Bridge:
    options.setdefault("timeout", TIMEOUT)
    return Bridge(
        url, lms_path=no_lms, retry_policy=RetryPolicy(max_retries=2, sleep=sleeps), **options
    )


def sse_head(writer: asyncio.StreamWriter) -> None:
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n")
