"""A circuit breaker per server: stop knocking on a door that keeps not opening.

When a server is down, every request to it pays a connect timeout (or a refusal) and its
retries before it fails. After ``failures`` connection failures in a row the breaker *opens*:
requests fail at once with :class:`~lmbridge.errors.CircuitOpenError` (a Bridge with several
servers sends them elsewhere). After ``cooldown`` seconds one request is let through as a probe
(*half-open*, shown as ``"probing"``): an answer closes the breaker, another connection failure
opens it for a new cooldown. Only failures to *connect* count: a server that answers, even with
an error status, is up.

The state machine does no I/O and reads time from a clock it is given, so tests drive it
without sleeping.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from lmbridge import errors

__all__ = ["Circuit", "CircuitBreaker", "ServerState"]

ServerState = Literal["up", "down", "probing"]
"""``"up"``: requests go through; ``"down"``: the breaker is open; ``"probing"``: after the
cooldown, one request is testing whether the server is back."""


@dataclass(frozen=True)
class CircuitBreaker:
    """When a server's breaker opens, and for how long.

    Attributes:
        failures: consecutive connection failures (refused, or connect timeout; each retry
            counts) that open it. Default 5: about two requests' worth with the default retries.
        cooldown: seconds it stays open before one request probes the server. Default 15.
        clock: the monotonic clock it reads (replace it in tests to skip the waiting).
    """

    failures: int = 5
    cooldown: float = 15.0
    clock: Callable[[], float] = field(
        default=time.monotonic, repr=False, compare=False, kw_only=True
    )

    def __post_init__(self) -> None:
        if isinstance(self.failures, bool) or not isinstance(self.failures, int):
            raise TypeError(f"failures must be an int, not {type(self.failures).__name__}")
        if self.failures < 1:
            raise ValueError(f"failures must be at least 1, not {self.failures}")
        if not self.cooldown >= 0:
            raise ValueError(f"cooldown must be seconds >= 0, not {self.cooldown!r}")


class Circuit:
    """One server's breaker: its state, and the admission of each connection attempt.

    Args:
        breaker: the settings; ``None``: never opens.
        server: the server's root URL, for errors.
    """

    def __init__(self, breaker: CircuitBreaker | None, *, server: str) -> None:
        self.breaker = breaker
        self._server = server
        self._failures = 0
        self._opened: float | None = None  # clock time it opened; None while closed
        self._opened_wall = 0.0
        self._probing = False

    @property
    def state(self) -> ServerState:
        """``"up"``, ``"down"`` (open) or ``"probing"`` (one request is testing it)."""
        if self._probing:
            return "probing"
        return "up" if self._opened is None else "down"

    def available(self) -> bool:
        """Whether a request sent now would be let through (for routing: no side effect)."""
        if self._opened is None or self.breaker is None:
            return True
        return not self._probing and self._cooled()

    def admit(self, *, url: str | None = None, model: str | None = None) -> bool:
        """Let a connection attempt through, or raise; ``True`` if it is the probe.

        A probe must end in :meth:`succeeded` or :meth:`failed`, or else :meth:`abandon` (the
        request was cancelled before the server answered), so the next request may probe.

        Raises:
            CircuitOpenError: the breaker is open, or another request is probing.
        """
        if self._opened is None or self.breaker is None:
            return False
        if self._probing or not self._cooled():
            raise self.error(url=url, model=model)
        self._probing = True
        return True

    def succeeded(self) -> None:
        """The server answered: close the breaker."""
        self._failures = 0
        self._opened = None
        self._probing = False

    def failed(self) -> None:
        """A connection failed: count it; open the breaker at the limit, or after a probe."""
        self._failures += 1
        breaker = self.breaker
        if breaker is None:
            return
        if self._probing or (self._opened is None and self._failures >= breaker.failures):
            self._opened = breaker.clock()
            self._opened_wall = time.time()
        self._probing = False

    def abandon(self) -> None:
        """The probe ended without a verdict: another request may probe at once."""
        self._probing = False

    def _cooled(self) -> bool:
        opened, breaker = self._opened, self.breaker
        return opened is None or breaker is None or breaker.clock() - opened >= breaker.cooldown

    def error(self, *, url: str | None = None, model: str | None = None) -> errors.CircuitOpenError:
        """The error a request held back by the open breaker raises."""
        retry_at = self._opened_wall + (self.breaker.cooldown if self.breaker else 0.0)
        since = time.strftime("%H:%M:%S", time.localtime(self._opened_wall))
        again = time.strftime("%H:%M:%S", time.localtime(retry_at))
        what = "another request is probing it" if self._probing else f"it tries again at {again}"
        failures = "failure" if self._failures == 1 else "failures"
        return errors.CircuitOpenError(
            f"{self._server} is not being contacted: its circuit breaker opened at {since} after "
            f"{self._failures} connection {failures} in a row, and {what}",
            server=self._server,
            failures=self._failures,
            opened_at=self._opened_wall,
            retry_at=retry_at,
            url=url,
            model=model,
        )
