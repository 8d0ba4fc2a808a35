"""OpenTelemetry for lmbridge (``Bridge(instrument=True)``, the ``otel`` extra).

This package's ``__init__`` imports nothing of OpenTelemetry: :func:`otel_tracer` imports
:mod:`lmbridge.telemetry.otel` only when a Bridge is made with ``instrument=True``, so
``import lmbridge`` stays as fast as it was. Spans and metrics follow the OpenTelemetry GenAI
semantic conventions and go to the global tracer and meter providers, as instrumented libraries do
by convention.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lmbridge.events import Tracer

__all__ = ["otel_tracer"]


def otel_tracer(base_url: str) -> Tracer:
    """The OpenTelemetry tracer for a Bridge to ``base_url`` (a normalized root URL).

    Raises:
        ImportError: OpenTelemetry is not installed (``pip install 'lmbridge[otel]'``).
    """
    from lmbridge.telemetry.otel import OtelTracer

    return OtelTracer(base_url=base_url)
