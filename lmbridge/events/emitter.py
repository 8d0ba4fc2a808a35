"""The :class:`EventEmitter`: one per Bridge, handed down to every layer that has news.

The transport, the model manager and the agent loop are given it (data flows down once: nothing
calls back up into the Bridge). It writes each event to the logs, feeds the Bridge's own
listeners (the usage report, OpenTelemetry metrics), then calls the user's hooks, each isolated:
a hook that raises is logged and the request goes on. It also opens spans when a tracer was given.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Literal, Protocol

from lmbridge.events.kinds import Event
from lmbridge.events.logs import log_event

__all__ = ["AttributeValue", "EventEmitter", "Hook", "SpanHandle", "Tracer"]

Hook = Callable[[Event], object]
"""An event hook: called with each event; it may be async (what it returns is awaited)."""

AttributeValue = str | bool | int | float | Sequence[str]
SpanKind = Literal["client", "internal"]

_hooks_log = logging.getLogger("lmbridge.hooks")


class SpanHandle(Protocol):
    """The span of one operation, as the layers see it (OpenTelemetry's, or nothing)."""

    def set(self, attributes: Mapping[str, AttributeValue | None]) -> None:
        """Add attributes; ``None`` values are left out."""
        ...


class Tracer(Protocol):
    """Spans and metrics (implemented by ``lmbridge.telemetry`` over OpenTelemetry)."""

    def span(
        self, name: str, *, kind: SpanKind, attributes: Mapping[str, AttributeValue | None]
    ) -> contextlib.AbstractContextManager[SpanHandle]:
        """A span, current while the block runs; an exception leaving it marks it failed."""
        ...

    def observe(self, event: Event) -> None:
        """Record the metrics ``event`` carries."""
        ...


class _NoSpan:
    def set(self, attributes: Mapping[str, AttributeValue | None]) -> None:
        return None


_NO_SPAN = _NoSpan()


class EventEmitter:
    """Sends events to the logs, the listeners and the hooks; opens spans.

    Args:
        hooks: the user's hooks (sync or async); each event goes to each, in order.
        listeners: the Bridge's own consumers (sync; e.g. the usage report).
        tracer: OpenTelemetry spans and metrics, or ``None`` (``instrument=False``).
        log_content: whether prompt and reply text may be logged (and put on spans).
    """

    def __init__(
        self,
        *,
        hooks: Sequence[Hook] = (),
        listeners: Sequence[Callable[[Event], None]] = (),
        tracer: Tracer | None = None,
        log_content: bool = False,
    ) -> None:
        for hook in hooks:
            if not callable(hook):
                raise TypeError(f"event hooks must be callable, got {hook!r}")
        self._hooks = tuple(hooks)
        self._listeners = tuple(listeners)
        self.tracer = tracer
        self.log_content = log_content

    def __repr__(self) -> str:
        return f"EventEmitter(hooks={len(self._hooks)}, traced={self.tracer is not None})"

    async def emit(self, event: Event) -> None:
        """Log ``event``, then hand it to every listener and hook; never raises their errors."""
        log_event(event)
        for listener in self._listeners:
            self._guard(listener, event)
        if self.tracer is not None:
            self._guard(self.tracer.observe, event)
        for hook in self._hooks:
            try:
                outcome = hook(event)
                if inspect.isawaitable(outcome):
                    await outcome
            except Exception:
                # A dashboard's bug must not fail the request it was watching.
                _hooks_log.warning(
                    "event hook %s raised on a %s event", _name(hook), event.kind, exc_info=True
                )

    def _guard(self, listener: Callable[[Event], None], event: Event) -> None:
        try:
            listener(event)
        except Exception:
            _hooks_log.warning(
                "listener %s raised on a %s event", _name(listener), event.kind, exc_info=True
            )

    def span(
        self,
        name: str,
        *,
        kind: SpanKind = "internal",
        attributes: Mapping[str, AttributeValue | None] | None = None,
    ) -> contextlib.AbstractContextManager[SpanHandle]:
        """A span over the block when instrumented; otherwise a no-op costing one call."""
        if self.tracer is None:
            return contextlib.nullcontext(_NO_SPAN)
        return self.tracer.span(name, kind=kind, attributes=attributes or {})


def _name(function: object) -> str:
    return getattr(function, "__qualname__", None) or repr(function)
