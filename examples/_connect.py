"""How every example connects: to LM Studio when one answers, else to the simulated LM Studio.

The same choice as ``python -m lmbridge demo``: ``LMBRIDGE_BASE_URL`` (default
``http://localhost:1234``) is tried first; when nothing answers there, the examples run on
``lmbridge.testing.SimulatedLMStudio`` in-process, scripted by the example so that its output
makes sense. Set ``LMBRIDGE_MODEL`` to use another chat model on a real server.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

import httpx

from lmbridge.testing import SimulatedLMStudio
from lmbridge.transport.client import normalize_base_url

MODEL = os.environ.get("LMBRIDGE_MODEL", "qwen/qwen3-4b")
"""The chat model the examples use."""


def server_answers(url: str) -> bool:
    """Whether an LM Studio (or any OpenAI-compatible server) answers at ``url``."""
    try:
        return httpx.get(url + "/v1/models", timeout=2.0).status_code < 500
    except httpx.HTTPError:
        return False


def connection(script: Callable[[SimulatedLMStudio], None] | None = None) -> dict[str, Any]:
    """Keyword arguments for ``Bridge(...)`` or ``SyncBridge(...)``.

    Args:
        script: prepares the simulator (scripted replies, responders) when it is used.
    """
    url = normalize_base_url(None)
    if server_answers(url):
        print(f"[using the server at {url}]", file=sys.stderr)
        return {"base_url": url}
    print(f"[no server at {url}: using the simulated LM Studio]", file=sys.stderr)
    sim = SimulatedLMStudio(loaded=[MODEL], load_delay=0.2)
    if script is not None:
        script(sim)
    return {"transport": sim.transport()}
