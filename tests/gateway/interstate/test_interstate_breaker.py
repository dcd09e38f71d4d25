"""The circuit breaker on an injected clock: opens after N consecutive failures, refuses while open, lets one probe
through after the cool-down, closes on the probe's success and re-opens on its failure."""

from __future__ import annotations

import pytest

from gateway.interstate.breaker import CircuitBreaker, CircuitState


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def breaker(clock: Clock, failures: int = 3, cooldown: float = 30.0) -> CircuitBreaker:
    return CircuitBreaker(failure_threshold=failures, cooldown_seconds=cooldown, clock=clock)


def test_opens_after_consecutive_failures_only() -> None:
    clock = Clock()
    b = breaker(clock)
    for _ in range(2):
        assert b.allow()
        b.failed()
    assert b.allow()
    b.succeeded()  # a success in between starts the count again
    for _ in range(2):
        assert b.allow()
        b.failed()
    assert b.state is CircuitState.CLOSED
    assert b.allow()
    b.failed()
    assert b.state is CircuitState.OPEN
    assert not b.allow()


def test_half_open_after_the_cooldown_lets_one_probe_through() -> None:
    clock = Clock()
    b = breaker(clock, failures=1, cooldown=30.0)
    b.failed()
    clock.now += 29.9
    assert not b.allow()
    clock.now += 0.1
    assert b.state is CircuitState.HALF_OPEN
    assert b.allow()  # the probe
    assert not b.allow()  # everyone else while the probe is out
    assert b.state is CircuitState.HALF_OPEN
    b.succeeded()
    assert b.state is CircuitState.CLOSED
    assert b.allow() and b.allow()


def test_a_failed_probe_opens_for_another_cooldown() -> None:
    clock = Clock()
    b = breaker(clock, failures=2, cooldown=10.0)
    b.failed()
    b.failed()
    clock.now += 10
    assert b.allow()
    b.failed()  # one failure of the probe is enough, whatever the threshold
    assert b.state is CircuitState.OPEN
    clock.now += 9.9
    assert not b.allow()
    clock.now += 0.1
    assert b.allow()


def test_an_abandoned_probe_frees_the_slot() -> None:
    clock = Clock()
    b = breaker(clock, failures=1, cooldown=1.0)
    b.failed()
    clock.now += 1
    assert b.allow()
    b.abandoned()
    assert b.allow()


@pytest.mark.parametrize(("failures", "cooldown"), [(0, 1.0), (1, -1.0)])
def test_refuses_nonsense_settings(failures: int, cooldown: float) -> None:
    with pytest.raises(ValueError, match="threshold"):
        CircuitBreaker(failure_threshold=failures, cooldown_seconds=cooldown)


def test_a_late_call_from_before_the_circuit_opened_never_lets_a_second_probe_through() -> None:
    clock = [0.0]
    b = CircuitBreaker(failure_threshold=2, cooldown_seconds=30.0, clock=lambda: clock[0])
    slow, late, quick, other = b.allow(), b.allow(), b.allow(), b.allow()
    assert slow and late and quick and other and not slow.probe
    b.failed(quick)
    b.failed(other)  # open
    clock[0] = 30.0
    probe = b.allow()
    assert probe is not None and probe.probe
    b.abandoned(slow)  # the slow call from before: its request went away
    assert b.allow() is None  # the probe is still out: no second one
    b.failed(late)  # and another's late failure neither ends the probe nor restarts the cool-down
    assert b.state is CircuitState.HALF_OPEN and b.allow() is None
    b.succeeded(probe)
    assert b.state is CircuitState.CLOSED
