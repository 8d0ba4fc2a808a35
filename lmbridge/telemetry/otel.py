"""Spans and metrics over ``opentelemetry-api``, following the GenAI semantic conventions.

Spans: ``chat {model}``, ``text_completion {model}``, ``embeddings {model}``,
``execute_tool {tool}``, ``invoke_agent`` and ``load_model {model}``, each with
``gen_ai.operation.name``, ``gen_ai.provider.name`` and ``server.address``/``server.port``, plus
what the operation knows (models, token usage, finish reasons, ``error.type``). Metrics:
``gen_ai.client.operation.duration``, ``gen_ai.client.token.usage`` and
``gen_ai.client.operation.time_to_first_chunk`` (streams only, as the conventions say).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from urllib.parse import urlsplit

from lmbridge.events import AttributeValue, Event, RequestFinished, SpanHandle

try:
    from opentelemetry import metrics, trace
    from opentelemetry.trace import Span, SpanKind, Status, StatusCode
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "Bridge(instrument=True) needs OpenTelemetry: pip install 'lmbridge[otel]'"
    ) from exc

__all__ = ["PROVIDER", "OtelTracer"]

PROVIDER = "lm_studio"
"""``gen_ai.provider.name``: the conventions list no value for LM Studio, so it names itself."""

_DURATION_BUCKETS = [
    0.01,
    0.02,
    0.04,
    0.08,
    0.16,
    0.32,
    0.64,
    1.28,
    2.56,
    5.12,
    10.24,
    20.48,
    40.96,
    81.92,
]
_TOKEN_BUCKETS = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304]
_KINDS = {"client": SpanKind.CLIENT, "internal": SpanKind.INTERNAL}


class _Handle:
    __slots__ = ("_span",)

    def __init__(self, span: Span) -> None:
        self._span = span

    def set(self, attributes: Mapping[str, AttributeValue | None]) -> None:
        for key, value in attributes.items():
            if value is not None:
                self._span.set_attribute(key, value)


class OtelTracer:
    """The :class:`~lmbridge.events.Tracer` a Bridge made with ``instrument=True`` uses.

    Args:
        base_url: the server's root URL, for ``server.address`` and ``server.port``.
    """

    def __init__(self, *, base_url: str) -> None:
        parts = urlsplit(base_url)
        default_port = 443 if parts.scheme == "https" else 80
        self.server: dict[str, AttributeValue | None] = {
            "server.address": parts.hostname,
            "server.port": parts.port or default_port,
        }
        self._tracer = trace.get_tracer("lmbridge")
        meter = metrics.get_meter("lmbridge")
        self._duration = meter.create_histogram(
            "gen_ai.client.operation.duration",
            unit="s",
            description="GenAI operation duration",
            explicit_bucket_boundaries_advisory=_DURATION_BUCKETS,
        )
        self._tokens = meter.create_histogram(
            "gen_ai.client.token.usage",
            unit="{token}",
            description="Number of input and output tokens used",
            explicit_bucket_boundaries_advisory=_TOKEN_BUCKETS,
        )
        self._first_chunk = meter.create_histogram(
            "gen_ai.client.operation.time_to_first_chunk",
            unit="s",
            description="Time to receive the first chunk of a streamed response",
            explicit_bucket_boundaries_advisory=_DURATION_BUCKETS,
        )

    @contextlib.contextmanager
    def span(
        self,
        name: str,
        *,
        kind: str,
        attributes: Mapping[str, AttributeValue | None],
    ) -> Iterator[SpanHandle]:
        """A span current over the block; an exception leaving it sets ``error.type``."""
        given = {"gen_ai.provider.name": PROVIDER, **self.server, **attributes}
        with self._tracer.start_as_current_span(
            name,
            kind=_KINDS.get(kind, SpanKind.INTERNAL),
            attributes={k: v for k, v in given.items() if v is not None},
            record_exception=False,  # an exception's message may quote the prompt
            set_status_on_exception=False,
        ) as span:
            try:
                yield _Handle(span)
            except Exception as exc:
                span.set_attribute("error.type", type(exc).__qualname__)
                span.set_status(Status(StatusCode.ERROR))
                raise

    def observe(self, event: Event) -> None:
        """Record a finished call's duration, tokens and time to first chunk."""
        if not isinstance(event, RequestFinished):
            return
        operation = "chat" if event.operation == "responses" else event.operation
        attributes: dict[str, AttributeValue] = {
            "gen_ai.operation.name": operation,
            "gen_ai.provider.name": PROVIDER,
        }
        if event.model:
            attributes["gen_ai.request.model"] = event.model
        if event.response_model:
            attributes["gen_ai.response.model"] = event.response_model
        for key, value in self.server.items():
            if value is not None:
                attributes[key] = value
        if event.error:
            attributes["error.type"] = event.error
        self._duration.record(event.timing.total, attributes)
        if event.error is None:
            for token_type, count in (
                ("input", event.prompt_tokens),
                ("output", event.completion_tokens),
            ):
                if count is not None:
                    self._tokens.record(count, {**attributes, "gen_ai.token.type": token_type})
        if event.stream and event.timing.time_to_first_token is not None:
            self._first_chunk.record(event.timing.time_to_first_token, attributes)
