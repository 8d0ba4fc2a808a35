"""Observability at the bottom of the stack: events, timings, logs and the usage report.

Beside :mod:`lmbridge.errors`: the transport, the model manager, the chat model and the agent
all emit events, so their types live where every one of them may import them.
"""

from lmbridge.events.emitter import AttributeValue, EventEmitter, Hook, SpanHandle, Tracer
from lmbridge.events.kinds import (
    CircuitChanged,
    Event,
    EventKind,
    Heal,
    ModelLoadFinished,
    ModelLoadProgress,
    ModelLoadStarted,
    ModelUnloaded,
    RequestFinished,
    RequestStarted,
    Retry,
    Swap,
    ToolCallFinished,
    ToolCallStarted,
)
from lmbridge.events.timing import AgentTiming, Stopwatch, Timing
from lmbridge.events.usage import ModelUsage, UsageTracker

__all__ = [
    "AgentTiming",
    "AttributeValue",
    "CircuitChanged",
    "Event",
    "EventEmitter",
    "EventKind",
    "Heal",
    "Hook",
    "ModelLoadFinished",
    "ModelLoadProgress",
    "ModelLoadStarted",
    "ModelUnloaded",
    "ModelUsage",
    "RequestFinished",
    "RequestStarted",
    "Retry",
    "SpanHandle",
    "Stopwatch",
    "Swap",
    "Timing",
    "ToolCallFinished",
    "ToolCallStarted",
    "Tracer",
    "UsageTracker",
]
