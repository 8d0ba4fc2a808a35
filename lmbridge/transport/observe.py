"""What the transport tells observers: a DEBUG record per HTTP exchange, an event per retry.

Records name the method, path, status, duration and sizes: never a body or a header (the API
token travels in one).
"""

from __future__ import annotations

import logging
import time

import httpx

from lmbridge import errors
from lmbridge.events import Retry

__all__ = ["log_exchange", "retry_event"]

_log = logging.getLogger("lmbridge.http")


def log_exchange(
    request: httpx.Request, path: str, response: httpx.Response | None, began: float
) -> None:
    """One DEBUG record for one attempt: its answer's status (or none), duration and sizes."""
    if not _log.isEnabledFor(logging.DEBUG):
        return
    sent = len(request.content) if request.content else 0
    _log.debug(
        "%s %s -> %s in %.3f s (%d bytes sent, %s received)",
        request.method,
        path,
        "no answer" if response is None else response.status_code,
        time.perf_counter() - began,
        sent,
        "-" if response is None else f"{response.num_bytes_downloaded} bytes",
    )


def retry_event(
    failure: errors.LMBridgeError,
    *,
    method: str,
    path: str,
    model: str | None,
    attempt: int,
    wait: float,
) -> Retry:
    """The event for a retry after ``failure``: its class and status, never its message (a
    server's message may quote the request)."""
    status = failure.status_code
    reason = type(failure).__name__ + (f" {status}" if status is not None else "")
    return Retry(
        model=model,
        method=method,
        path=path,
        attempt=attempt,
        reason=reason,
        status=status,
        wait=wait,
    )
