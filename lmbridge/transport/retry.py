"""When to retry a request, and how long to wait first."""

from __future__ import annotations

import email.utils
import math
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field

import anyio
import backoff

__all__ = ["RETRYABLE_STATUSES", "RetryPolicy"]

#: Statuses that mean "try again later" rather than "your request is wrong".
RETRYABLE_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    """How lmbridge retries failed requests.

    Connection errors (refused, reset, connect timeout) and the statuses in
    :data:`RETRYABLE_STATUSES` are retried up to ``max_retries`` times. A server's ``Retry-After``
    (seconds or an HTTP date) or ``retry-after-ms`` header is honoured up to ``max_retry_after``
    seconds; otherwise the wait is exponential with full jitter, from the ``backoff`` package's
    ``expo`` wait generator. A read timeout is never retried (it would run the whole generation
    again), and a stream is never retried once its first byte has arrived.

    Attributes:
        max_retries: retries after the first attempt (so ``2`` means at most three attempts).
        initial_wait: the first backoff step, in seconds, before jitter.
        max_wait: the largest backoff step, in seconds, before jitter.
        max_retry_after: the longest server-requested wait honoured, in seconds; longer requests
            are capped to it.
        sleep: the function used to wait (replace it in tests to avoid real sleeping).
    """

    max_retries: int = 2
    initial_wait: float = 0.5
    max_wait: float = 8.0
    max_retry_after: float = 60.0
    sleep: Callable[[float], Awaitable[None]] = field(default=anyio.sleep, repr=False)

    def __post_init__(self) -> None:
        if self.max_retries < 0:
            raise ValueError("max_retries must be >= 0")

    def backoff_waits(self) -> Iterator[float]:
        """Yield the jittered backoff waits for successive retries."""
        waits = backoff.expo(base=2, factor=self.initial_wait, max_value=self.max_wait)
        next(waits)  # backoff's generators are primed with one send(None)
        for wait in waits:
            yield backoff.full_jitter(wait)

    def server_wait(self, headers: Mapping[str, str]) -> float | None:
        """The wait the server asked for in its headers, capped, or ``None`` if it asked none."""
        wait = parse_retry_after(headers)
        if wait is None:
            return None
        return min(max(wait, 0.0), self.max_retry_after)


def _seconds(text: str, scale: float = 1.0) -> float | None:
    try:
        value = float(text) / scale
    except ValueError:
        return None
    # "nan" and "inf" parse as floats but are no waits; a negative wait means "now".
    return max(value, 0.0) if math.isfinite(value) else None


def parse_retry_after(headers: Mapping[str, str], *, now: float | None = None) -> float | None:
    """Read ``retry-after-ms`` or ``Retry-After`` (delta-seconds or HTTP date) in seconds.

    Returns ``None`` when neither header holds a usable value; never a negative or non-finite
    number.
    """
    ms = headers.get("retry-after-ms")
    if ms is not None:
        wait = _seconds(ms.strip(), 1000.0)
        if wait is not None:
            return wait
    value = headers.get("retry-after")
    if value is None:
        return None
    value = value.strip()
    wait = _seconds(value)
    if wait is not None:
        return wait
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    current = time.time() if now is None else now
    return max(when.timestamp() - current, 0.0)
