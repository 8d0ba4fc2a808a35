"""What a failed attempt means: the typed error, whether it may be retried, whether it tells the
circuit breaker that the server cannot be reached.

A request is retried (and, with several servers, sent elsewhere) only when it cannot have run:
the connection was refused or never made. A connection the server closed without answering may
have started a generation, so only a ``GET`` is repeated then; a timeout after connecting never is.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from lmbridge import errors

__all__ = ["AttemptFailure", "attempt_failure", "timeout_error"]


@dataclass(frozen=True)
class AttemptFailure:
    """One failed attempt, read.

    Attributes:
        error: the typed error to raise (now or after the last retry).
        retryable: whether sending the request again is safe.
        unreachable: whether the server could not be connected to (counts for the breaker).
    """

    error: errors.LMBridgeError
    retryable: bool
    unreachable: bool


def timeout_error(
    exc: httpx.TimeoutException, *, url: str, model: str | None
) -> errors.APITimeoutError:
    """The typed error for a timeout after the connection was made (never retried)."""
    if isinstance(exc, httpx.PoolTimeout):
        return errors.APITimeoutError(
            "no pooled connection became free within the pool timeout",
            url=url,
            model=model,
            hint="Too many requests at once for the pool: raise httpx.Timeout(pool=...) or the "
            "client's limits, pass max_concurrency=..., or send fewer requests concurrently.",
        )
    if isinstance(exc, httpx.WriteTimeout):
        return errors.APITimeoutError(
            "sending the request took longer than the write timeout", url=url, model=model
        )
    return errors.ReadTimeoutError(
        "no answer from the server within the read timeout", url=url, model=model
    )


def attempt_failure(
    exc: httpx.TransportError, *, method: str, base_url: str, url: str, model: str | None
) -> AttemptFailure:
    """Read an httpx failure of one attempt (before any response arrived)."""
    if isinstance(exc, httpx.ConnectTimeout):
        error: errors.LMBridgeError = errors.ConnectTimeoutError(
            f"could not connect to {base_url} in time", url=url, model=model, server=base_url
        )
        return AttemptFailure(error, retryable=True, unreachable=True)
    if isinstance(exc, httpx.ConnectError):
        error = errors.APIConnectionError(
            f"could not reach {base_url}: {exc or type(exc).__name__}",
            url=url,
            model=model,
            sent=False,
            server=base_url,
        )
        return AttemptFailure(error, retryable=True, unreachable=True)
    if isinstance(exc, httpx.RemoteProtocolError):
        error = errors.APIConnectionError(
            f"{base_url} closed the connection without answering: {exc}",
            url=url,
            model=model,
            server=base_url,
            hint="The server may have crashed or unloaded the model mid-request; its log "
            "says why. Generation requests are not sent again automatically.",
        )
        # A generation may have run (or still run) on the server: sending it again would run
        # it again. Only reads are safe to repeat.
        return AttemptFailure(error, retryable=method == "GET", unreachable=False)
    if isinstance(exc, httpx.TimeoutException):
        return AttemptFailure(
            timeout_error(exc, url=url, model=model), retryable=False, unreachable=False
        )
    error = errors.APIConnectionError(
        f"the connection to {base_url} failed: {exc or type(exc).__name__}",
        url=url,
        model=model,
        server=base_url,
    )
    return AttemptFailure(error, retryable=False, unreachable=False)
