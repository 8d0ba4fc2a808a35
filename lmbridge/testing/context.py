"""What a route sees of the simulator: model state, scripts, behaviour switches and the stores routes write.

This module sits below every route module and :mod:`lmbridge.testing.core`: routes receive a
:class:`SimContext` and never import the request handler that dispatches to them, so data flows one
way (simulator -> core -> routes -> context).
"""

from __future__ import annotations

import itertools
import secrets
from dataclasses import dataclass, field
from typing import Any, Literal

from lmbridge.testing.catalogue import SimModel
from lmbridge.testing.downloads import SimDownload
from lmbridge.testing.script import Scripts
from lmbridge.testing.state import DEFAULT_JIT_TTL, SimState

__all__ = ["NotLoadedStyle", "SimContext", "SimSettings", "UnknownModelStyle"]

UnknownModelStyle = Literal["invalid_identifier", "not_found_404"]
"""How an unknown model name is answered: 400 "Invalid model identifier" (current LM Studio) or
404 "not found ... Your models:" (0.3.5)."""

NotLoadedStyle = Literal["object", "string", "plain_text"]
"""How "nothing loaded" is answered when JIT is off: 400 error object with ``code: null`` (0.4.8),
400 ``{"error": "<string>"}`` (2025 builds) or 404 plain text (0.3.5)."""


@dataclass
class SimSettings:
    """Behaviour switches of the simulated server (the model state's own live in ``SimState``)."""

    jit: bool = True
    load_delay: float = 0.0
    auth_token: str | None = None
    one_model_answers_all: bool = False
    unknown_model_error: UnknownModelStyle = "invalid_identifier"
    not_loaded_error: NotLoadedStyle = "object"
    routes_disabled: set[str] = field(default_factory=set)
    unknown_route_status: int = 200
    version: str = "0.4.8"
    default_jit_ttl: float | None = DEFAULT_JIT_TTL
    # How a prompt over the loaded context is answered (see ``overflow.py``).
    context_overflow: Literal["error", "error_object", "error_in_200", "empty_stream", "off"] = (
        "error"
    )
    download_seconds: float = 0.0


class SimContext:
    """The shared, mutable simulator data routes read and write.

    One instance lives as long as its ``SimulatedLMStudio``, which changes the attributes in place
    (settings, ``cli_config``, ``port``) while serving; routes read them on every request, so a change
    applies to the next request.

    Attributes:
        state: downloaded models and loaded instances.
        settings: behaviour switches.
        scripts: scripted replies, responders and injected failures.
        responses: stored ``/v1/responses`` results by id, for ``previous_response_id``.
        cli_calls: argv lists the simulated ``lms`` reported, oldest first.
        cli_config: behaviour switches served to the simulated ``lms``.
        port: the loopback port while serving over HTTP (``/__sim__/state`` reports it).
        downloadable: catalog models that can be downloaded, by key.
        downloads: download jobs by id.
        download_failures: reasons downloads of these keys fail with, by key.
    """

    def __init__(self, *, state: SimState, settings: SimSettings) -> None:
        self.state = state
        self.settings = settings
        self.scripts = Scripts()
        self.responses: dict[str, dict[str, Any]] = {}
        self.cli_calls: list[list[str]] = []
        self.cli_config: dict[str, Any] = {}
        self.port: int | None = None
        self.downloadable: dict[str, SimModel] = {}
        self.downloads: dict[str, SimDownload] = {}
        self.download_failures: dict[str, str] = {}
        self._call_numbers = itertools.count(1)

    def new_id(self, prefix: str) -> str:
        """A fresh random id such as ``chatcmpl-<hex>`` or ``resp_<hex>``."""
        return f"{prefix}{secrets.token_hex(12)}"

    def next_call_id(self) -> str:
        """A tool-call id: ``call_1``, ``call_2``... (unique within this simulator)."""
        return f"call_{next(self._call_numbers)}"

    def now(self) -> float:
        """The state's monotonic clock."""
        return self.state.clock()
