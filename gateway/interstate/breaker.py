"""A circuit breaker per partner state: stop waiting on a hub that keeps failing, probe it again after a pause.

Without it every query would spend up to the partner's timeout on a hub that is down, for as long as it is down.

* **closed** — calls go through; ``failure_threshold`` consecutive failures open it.
* **open** — no call is made (the partner's part of the answer is "error: circuit open") until ``cooldown_seconds``
  have passed since it opened.
* **half-open** — one call (the probe) goes through; the others still see it open. The probe's success closes the
  circuit, its failure opens it for another cool-down.

A success is any answer the partner gave (complete, no-data, disallowed, deferred): the hub is up. A failure is a
transport error, a timeout, an HTTP error or an answer that cannot be read. Breakers are per process (each worker
learns for itself: at most ``failure_threshold`` slow calls per worker). The clock is injected, so tests need no
sleeps.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable


class CircuitState(enum.StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half-open"


class CircuitBreaker:
    """One partner's breaker. ``allow()`` before a call; then exactly one of ``succeeded()`` / ``failed()``."""

    __slots__ = ("_clock", "_failures", "_opened_at", "_probing", "cooldown_seconds", "failure_threshold")

    def __init__(
        self, *, failure_threshold: int, cooldown_seconds: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if failure_threshold < 1 or cooldown_seconds < 0:
            raise ValueError("a breaker needs a threshold of at least 1 and a non-negative cool-down")
        self.failure_threshold = failure_threshold
        self.cooldown_seconds = cooldown_seconds
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._probing = False

    @property
    def state(self) -> CircuitState:
        if self._opened_at is None:
            return CircuitState.CLOSED
        if self._probing or self._clock() - self._opened_at >= self.cooldown_seconds:
            return CircuitState.HALF_OPEN
        return CircuitState.OPEN

    def allow(self) -> bool:
        """Whether to call now. In half-open, the first caller becomes the probe and the others are refused."""
        state = self.state
        if state is CircuitState.CLOSED:
            return True
        if state is CircuitState.HALF_OPEN and not self._probing:
            self._probing = True
            return True
        return False

    def succeeded(self) -> None:
        self._failures = 0
        self._opened_at = None
        self._probing = False

    def failed(self) -> None:
        self._failures += 1
        if self._probing or self._failures >= self.failure_threshold:
            self._opened_at = self._clock()
            self._probing = False

    def abandoned(self) -> None:
        """The call was cancelled before it ended (the whole request went away): a probe may be tried again."""
        self._probing = False
