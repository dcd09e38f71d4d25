"""The outbound side of the interstate exchange: which partners a request goes to, and asking one of them.

``ask`` turns every way a partner call can end into a ``PartnerAnswer`` — it never raises except for the caller's
own cancellation — and keeps the partner's circuit breaker, the per-partner metrics and a log line for failures
(state, detail, request id: no PHI). A failed call's answer tells our user only a generic reason (timed out,
unavailable, refused our request, circuit open); what went wrong stays in the log line. Each call gets the smaller
of the partner's timeout and what is left of the request's budget less ``RESERVE_SECONDS``, so a slow partner costs
a partial answer, never the whole request.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Final

from gateway import metrics
from gateway.budget import Deadline
from gateway.interstate.answer import (
    TIMED_OUT,
    UNAVAILABLE,
    PartnerAnswer,
    PartnerCallError,
    PartnerNotAsked,
    PmixStatus,
)
from gateway.interstate.breaker import CircuitBreaker, Permit
from gateway.interstate.clients import PartnerClients
from gateway.interstate.http import transport_errors
from gateway.interstate.partners import Partner, PartnerDirectory
from gateway.interstate.selection import Selection, select
from gateway.policy.suspension.live import SuspensionSet
from protos.pmp.v1 import pmp_pb2 as pb

log = logging.getLogger("pmp.interstate")

# Kept back from a partner call for what follows it: merging, the remaining stages and encoding the answer.
RESERVE_SECONDS: Final = 0.05
CIRCUIT_OPEN: Final = "circuit open: not asked after repeated failures"


class Interstate:
    """Per serving process: the partner directory, the client pool, one circuit breaker per partner, the
    suspension list (a suspended partner state is not asked) and the cap on each partner's records."""

    def __init__(
        self,
        directory: PartnerDirectory,
        clients: PartnerClients,
        *,
        own_state: str,
        breaker_failures: int,
        breaker_cooldown_seconds: float,
        max_partner_records: int = 500,
        suspensions: SuspensionSet | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.directory = directory
        self.clients = clients
        self.own_state = own_state
        self._breaker_failures = breaker_failures
        self._breaker_cooldown = breaker_cooldown_seconds
        self.max_partner_records = max_partner_records
        self._suspensions = suspensions
        self._clock = clock
        self._breakers: dict[str, CircuitBreaker] = {}

    def select(self, search: pb.SearchHistoryRequest) -> Selection:
        return select(search, self.directory, own_state=self.own_state, suspensions=self._suspensions)

    def breaker(self, state: str) -> CircuitBreaker:
        found = self._breakers.get(state)
        if found is None:
            found = self._breakers[state] = CircuitBreaker(
                failure_threshold=self._breaker_failures, cooldown_seconds=self._breaker_cooldown, clock=self._clock
            )
        return found

    async def ask(
        self, partner: Partner, request: pb.SearchHistoryRequest, deadline: Deadline, *, request_id: str = ""
    ) -> PartnerAnswer:
        """``partner``'s part of the answer to ``request``, within ``deadline``."""
        state = partner.state
        breaker = self.breaker(state)
        permit = breaker.allow()
        if permit is None:
            metrics.PARTNER_CALLS.labels(state, "circuit-open").inc()
            return PartnerAnswer(state, PmixStatus.ERROR, detail=CIRCUIT_OPEN)
        timeout = deadline.remaining() - RESERVE_SECONDS
        if partner.outbound is not None:
            timeout = min(timeout, partner.outbound.timeout_seconds)
        if timeout <= 0:
            breaker.abandoned(permit)
            metrics.PARTNER_CALLS.labels(state, "no-time").inc()
            return PartnerAnswer(state, PmixStatus.ERROR, detail="not asked: the request's time budget ran out")
        started = time.perf_counter()
        outcome = "cancelled"
        try:
            async with asyncio.timeout(timeout), transport_errors():
                answer = await self.clients.get(partner).search(request)
        except TimeoutError:
            outcome = "timeout"
            return self._failed(breaker, permit, state, f"timed out after {timeout:.1f} s", TIMED_OUT, request_id)
        except PartnerCallError as exc:
            outcome = "error"
            return self._failed(breaker, permit, state, str(exc), exc.reason, request_id)
        except PartnerNotAsked as exc:
            outcome = "not-asked"
            breaker.abandoned(permit)
            return PartnerAnswer(state, PmixStatus.ERROR, detail=str(exc))
        except asyncio.CancelledError:
            breaker.abandoned(permit)
            raise
        except Exception:  # a bug must cost this partner's part of the answer, not the whole answer
            outcome = "error"
            log.exception("partner call failed unexpectedly", extra={"partner": state, "request_id": request_id})
            return self._failed(breaker, permit, state, "internal error", UNAVAILABLE, request_id)
        else:
            outcome = answer.status.value
            breaker.succeeded(permit)
            return answer
        finally:
            metrics.PARTNER_CALLS.labels(state, outcome).inc()
            metrics.PARTNER_CALL_SECONDS.labels(state).observe(time.perf_counter() - started)

    def _failed(
        self, breaker: CircuitBreaker, permit: Permit, state: str, detail: str, reason: str, request_id: str
    ) -> PartnerAnswer:
        """Logged with ``detail``; the answer says ``reason`` only."""
        breaker.failed(permit)
        log.warning(
            "partner call failed",
            extra={"partner": state, "detail": detail, "circuit": breaker.state.value, "request_id": request_id},
        )
        return PartnerAnswer(state, PmixStatus.ERROR, detail=reason)
