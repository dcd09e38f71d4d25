"""A circuit breaker per partner state: stop waiting on a hub that keeps failing, probe it again after a pause.

Without it every query would spend up to the partner's timeout on a hub that is down, for as long as it is down.

* **closed** — calls go through; ``failure_threshold`` consecutive failures open it.
* **open** — no call is made (the partner's part of the answer is "error: circuit open") until ``cooldown_seconds``
  have passed since it opened.
* **half-open** — one call (the probe) goes through; the others still see it open. The probe's success closes the
  circuit, its failure opens it for another cool-down. Each call carries the ``Permit`` it was let through with, so
  a call that began while the circuit was closed and ends late (failing, or never asked) cannot free the probe's
  slot and let a second probe through, nor restart the cool-down.

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


class Permit:
    """One call ``allow()`` let through; ``probe`` when it is the half-open circuit's one probe. Handing it back
    to ``succeeded`` / ``failed`` / ``abandoned`` ties the outcome to the call: a call let through while the circuit
    was still closed, ending late, never frees or ends another call's probe."""

    __slots__ = ("probe",)

    def __init__(self, *, probe: bool) -> None:
        self.probe = probe

    def __repr__(self) -> str:
        return f"Permit(probe={self.probe})"


class CircuitBreaker:
    """One partner's breaker. ``allow()`` before a call (a ``Permit``, or None: do not call); then exactly one of
    ``succeeded`` / ``failed`` / ``abandoned`` with that permit."""

    __slots__ = ("_clock", "_failures", "_opened_at", "_probe", "cooldown_seconds", "failure_threshold")

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
        self._probe: Permit | None = None

    @property
    def state(self) -> CircuitState:
        if self._opened_at is None:
            return CircuitState.CLOSED
        if self._probe is not None or self._clock() - self._opened_at >= self.cooldown_seconds:
            return CircuitState.HALF_OPEN
        return CircuitState.OPEN

    def allow(self) -> Permit | None:
        """Whether to call now. In half-open, the first caller becomes the probe and the others are refused."""
        state = self.state
        if state is CircuitState.CLOSED:
            return Permit(probe=False)
        if state is CircuitState.HALF_OPEN and self._probe is None:
            self._probe = Permit(probe=True)
            return self._probe
        return None

    def _is_probe(self, permit: Permit | None) -> bool:
        """``permit`` is the probe out now (no permit given: whichever probe is out)."""
        return self._probe is not None and (permit is None or permit is self._probe)

    def succeeded(self, permit: Permit | None = None) -> None:
        """The hub answered: closed (a late call that began while closed answering proves it up as well)."""
        self._failures = 0
        self._opened_at = None
        if permit is None or permit is self._probe:
            self._probe = None

    def failed(self, permit: Permit | None = None) -> None:
        if self._is_probe(permit):
            self._opened_at = self._clock()  # another cool-down
            self._probe = None
            return
        if self._opened_at is not None:  # a call from before it opened, ending late: already counted as open
            return
        self._failures += 1
        if self._failures >= self.failure_threshold:
            self._opened_at = self._clock()

    def abandoned(self, permit: Permit | None = None) -> None:
        """The call was cancelled before it ended (the whole request went away): a probe may be tried again."""
        if self._is_probe(permit):
            self._probe = None
