"""Events as stdlib log records, under the ``lmbridge`` logger (no handler is installed).

One INFO record per load, unload and heal, a WARNING per retry, DEBUG for the rest. Records carry
names, statuses, sizes and durations: never prompt or reply text (see ``log_content``), never
the API token.
"""

from __future__ import annotations

import logging

from lmbridge.events.kinds import (
    CircuitChanged,
    Event,
    Heal,
    ModelLoadFinished,
    ModelLoadStarted,
    ModelUnloaded,
    RequestFinished,
    Retry,
    Swap,
    ToolCallFinished,
)

__all__ = ["log_event"]

http = logging.getLogger("lmbridge.http")
models = logging.getLogger("lmbridge.models")
agent = logging.getLogger("lmbridge.agent")
calls = logging.getLogger("lmbridge.calls")
circuit = logging.getLogger("lmbridge.circuit")


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f} s"


def log_event(event: Event) -> None:
    """Write ``event`` to its logger, if that logger is enabled for the event's level."""
    if isinstance(event, Retry):
        http.warning(
            "retrying %s %s (model %s) in %.2f s after attempt %d failed: %s",
            event.method,
            event.path,
            event.model,
            event.wait,
            event.attempt,
            event.reason,
        )
    elif isinstance(event, ModelLoadFinished):
        if event.error is None:
            models.info("loaded %s via %s in %.2f s", event.model, event.via, event.duration)
        else:
            models.info(
                "loading %s via %s failed after %.2f s: %s",
                event.model,
                event.via,
                event.duration,
                event.error,
            )
    elif isinstance(event, ModelLoadStarted):
        models.debug("loading %s via %s", event.model, event.via)
    elif isinstance(event, ModelUnloaded):
        models.info("unloaded %s", event.model)
    elif isinstance(event, Heal):
        models.info(
            "healed %s (asked as %s) after %s: loaded again, retrying once",
            event.model,
            event.requested,
            event.reason,
        )
    elif isinstance(event, Swap):
        models.info("swapped %s in for %s: %s", event.model, event.previous, event.reason)
    elif isinstance(event, CircuitChanged):
        circuit.warning(
            "circuit for %s %s -> %s: %s", event.server, event.previous, event.state, event.reason
        )
    elif isinstance(event, ToolCallFinished):
        agent.debug(
            "tool %s (round %d) %s in %.3f s",
            event.tool,
            event.round,
            "failed" if event.error else "answered",
            event.duration,
        )
    elif isinstance(event, RequestFinished) and calls.isEnabledFor(logging.DEBUG):
        timing = event.timing
        calls.debug(
            "%s %s: %s in %s, first token %s, %s tok/s, %s+%s tokens%s",
            event.operation,
            event.sent_model or event.model,
            event.status,
            _seconds(timing.total),
            _seconds(timing.time_to_first_token),
            "-" if timing.tokens_per_second is None else f"{timing.tokens_per_second:.1f}",
            event.prompt_tokens,
            event.completion_tokens,
            f", {event.error}" if event.error else "",
        )
