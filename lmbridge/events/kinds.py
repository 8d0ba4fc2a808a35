"""The events lmbridge emits: typed, immutable, each with a ``kind``, a ``model`` and a ``time``.

They are what ``Bridge(event_hooks=[...])`` hooks receive, and what the logs and the usage report
are made from. None carries prompt or reply text, or the API token.
"""

from __future__ import annotations

import time as _time
from dataclasses import dataclass, field
from typing import Literal

from lmbridge.events.timing import Timing

__all__ = [
    "CircuitChanged",
    "Event",
    "EventKind",
    "Heal",
    "ModelLoadFinished",
    "ModelLoadProgress",
    "ModelLoadStarted",
    "ModelUnloaded",
    "RequestFinished",
    "RequestStarted",
    "Retry",
    "Swap",
    "ToolCallFinished",
    "ToolCallStarted",
]

EventKind = Literal[
    "request_started",
    "request_finished",
    "retry",
    "model_load_started",
    "model_load_progress",
    "model_load_finished",
    "model_unloaded",
    "heal",
    "swap",
    "circuit",
    "tool_call_started",
    "tool_call_finished",
]
"""Every event's ``kind``; more may be added, so a hook should ignore kinds it does not know."""

Operation = Literal["chat", "text_completion", "embeddings", "responses"]


def _now() -> float:
    return _time.time()


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestStarted:
    """A model call began (``chat``, ``stream``, ``embed``, ``complete``, ``respond``).

    Attributes:
        operation: ``"chat"`` (streams too), ``"text_completion"``, ``"embeddings"`` or
            ``"responses"``.
        model: the model asked for.
        path: the endpoint, e.g. ``"/v1/chat/completions"``.
        stream: whether the reply streams.
    """

    operation: Operation
    model: str | None
    path: str
    stream: bool = False
    time: float = field(default_factory=_now)
    kind: Literal["request_started"] = "request_started"


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestFinished:
    """A model call ended, with its result or an error.

    Attributes:
        operation: as in :class:`RequestStarted`.
        model: the model asked for.
        sent_model: the name sent (a partial name resolved to its key), if it got that far.
        response_model: the model the server says answered.
        path: the endpoint.
        stream: whether the reply streamed.
        status: the HTTP status of the answer (``200``), or of the error; ``None`` when there
            was no answer (connection failures) or the stream broke.
        error: the :mod:`lmbridge.errors` class name of the failure, or ``None``.
        timing: the call's :class:`~lmbridge.Timing`.
        prompt_tokens: input tokens, when the server reported usage.
        completion_tokens: output tokens, when the server reported usage.
        finish_reasons: why generation stopped, per choice.
    """

    operation: Operation
    model: str | None
    path: str
    stream: bool = False
    sent_model: str | None = None
    response_model: str | None = None
    status: int | None = None
    error: str | None = None
    timing: Timing = field(default_factory=Timing)
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    finish_reasons: tuple[str, ...] = ()
    time: float = field(default_factory=_now)
    kind: Literal["request_finished"] = "request_finished"


@dataclass(frozen=True, slots=True, kw_only=True)
class Retry:
    """An HTTP request failed in a way that is safe to retry; it is sent again after ``wait``.

    Attributes:
        method: ``"GET"`` or ``"POST"``.
        path: the path requested.
        attempt: the attempt that failed (from 1).
        reason: the error class name, with the status if there was one (``"ServerError 503"``).
        status: the failed answer's status, or ``None`` for a connection failure.
        wait: seconds until the next attempt (the server's ``Retry-After`` when it sent one).
    """

    model: str | None
    method: str
    path: str
    attempt: int
    reason: str
    status: int | None = None
    wait: float = 0.0
    time: float = field(default_factory=_now)
    kind: Literal["retry"] = "retry"


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelLoadStarted:
    """lmbridge began loading ``model`` (``via``: ``"lms"``, ``"rest"``, ``"chat"`` or ``"jit"``)."""

    model: str
    via: str
    time: float = field(default_factory=_now)
    kind: Literal["model_load_started"] = "model_load_started"


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelLoadProgress:
    """A load reached ``progress`` (``0..1``; the REST and JIT loads report only ``1.0``)."""

    model: str
    progress: float
    time: float = field(default_factory=_now)
    kind: Literal["model_load_progress"] = "model_load_progress"


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelLoadFinished:
    """A load ended after ``duration`` seconds; ``error`` names the failure's class, if any."""

    model: str
    via: str
    duration: float
    error: str | None = None
    time: float = field(default_factory=_now)
    kind: Literal["model_load_finished"] = "model_load_finished"


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelUnloaded:
    """``model`` (an instance identifier) was unloaded by ``bridge.models.unload``."""

    model: str
    time: float = field(default_factory=_now)
    kind: Literal["model_unloaded"] = "model_unloaded"


@dataclass(frozen=True, slots=True, kw_only=True)
class Heal:
    """A request failed because its model was not loaded (evicted); it was made available again.

    Attributes:
        model: the name the request is retried with.
        requested: the name the call asked for.
        reason: the error class name of the failed request.
    """

    model: str
    requested: str
    reason: str
    time: float = field(default_factory=_now)
    kind: Literal["heal"] = "heal"


@dataclass(frozen=True, slots=True, kw_only=True)
class Swap:
    """The swap scheduler unloaded ``previous`` (a model this Bridge loaded) to make room for
    ``model``, whose load had run out of memory; the load is tried again next."""

    model: str
    previous: str | None
    reason: str
    time: float = field(default_factory=_now)
    kind: Literal["swap"] = "swap"


@dataclass(frozen=True, slots=True, kw_only=True)
class CircuitChanged:
    """A server's circuit breaker changed state: ``"open"`` after consecutive connection
    failures (requests skip the server), ``"half_open"`` when one request probes it after the
    cooldown, ``"closed"`` when it answers again. ``model`` is the request's that caused it."""

    model: str | None
    state: Literal["closed", "open", "half_open"]
    previous: Literal["closed", "open", "half_open"]
    reason: str
    server: str | None = None
    time: float = field(default_factory=_now)
    kind: Literal["circuit"] = "circuit"


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolCallStarted:
    """An agent run is calling ``tool`` (its arguments are not carried: they may be private)."""

    model: str
    tool: str
    call_id: str
    round: int
    time: float = field(default_factory=_now)
    kind: Literal["tool_call_started"] = "tool_call_started"


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolCallFinished:
    """A tool call ended after ``duration`` seconds; ``error`` says whether it failed."""

    model: str
    tool: str
    call_id: str
    round: int
    duration: float
    error: bool = False
    time: float = field(default_factory=_now)
    kind: Literal["tool_call_finished"] = "tool_call_finished"


Event = (
    RequestStarted
    | RequestFinished
    | Retry
    | ModelLoadStarted
    | ModelLoadProgress
    | ModelLoadFinished
    | ModelUnloaded
    | Heal
    | Swap
    | CircuitChanged
    | ToolCallStarted
    | ToolCallFinished
)
"""Any event a hook may receive; switch on ``event.kind`` or ``isinstance``."""
