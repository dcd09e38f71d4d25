"""Partners for the outbound tests: an in-memory ``PartnerDirectory``, partner records, our key file, and scripted
protocol clients (the partner's side of a call, without a network) for the fan-out tests."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from gateway.auth.client_key import ClientKey
from gateway.interstate.answer import PartnerAnswer, PartnerCallError, PmixStatus
from gateway.interstate.clients import PartnerClient, PartnerClients
from gateway.interstate.credentials import PartnerTokens
from gateway.interstate.outbound import Interstate
from gateway.interstate.partners import (
    InboundPolicy,
    Outbound,
    Partner,
    PartnerProtocol,
    PartnerStatus,
)
from protos.pmp.v1 import pmp_pb2 as pb

OWN_STATE = "UT"


class MemoryDirectory:
    """``PartnerDirectory`` over a dict (the registry's implementation is tested with the registry)."""

    def __init__(self, partners: Iterable[Partner] = ()) -> None:
        self.partners = {p.state: p for p in partners}

    def partner(self, state: str) -> Partner | None:
        return self.partners.get(state)

    def partner_for_eds(self, eds_id: str) -> Partner | None:
        return next((p for p in self.partners.values() if p.eds_id == eds_id), None)

    def outbound_partners(self) -> Sequence[Partner]:
        return [p for p in self.partners.values() if p.active and p.outbound is not None and p.outbound.enabled]


def key_file(directory: Path, key: ClientKey | None = None) -> Path:
    path = directory / "our-key.json"
    path.write_text(json.dumps((key or ClientKey.generate(kid="ut-hub-1")).private_jwk()))
    return path


def make_partner(
    state: str,
    key: Path,
    *,
    endpoint: str = "http://127.0.0.1:9/fhir",
    token_url: str = "http://127.0.0.1:9/oauth/token",
    roles: Iterable[str] = ("ROLE_PRESCRIBER",),
    timeout: float = 2.0,
    status: PartnerStatus = PartnerStatus.ACTIVE,
    enabled: bool = True,
    outbound: bool = True,
    scope: str = "pmp/interstate",
    protocol: PartnerProtocol = PartnerProtocol.FHIR,
) -> Partner:
    return Partner(
        state=state,
        name=f"{state} PMP",
        status=status,
        inbound=InboundPolicy(frozenset({"208D00000X"}), frozenset({"family", "birth_date"})),
        outbound=Outbound(
            endpoint=endpoint,
            protocol=protocol,
            token_url=token_url,
            client_id=f"cli-{state.lower()}",
            key_file=key,
            scope=scope,
            timeout_seconds=timeout,
            enabled=enabled,
        )
        if outbound
        else None,
        default_for_roles=frozenset(roles),
        eds_id=f"eds-{state.lower()}",
    )


ASKED_NAME = pb.HumanName(family="SMITH", given="JOHN")
ASKED_BIRTH_DATE = "1980-02-03"


def fill(
    rx: str, day: str, state: str = "", *, family: str = "SMITH", birth_date: str = ASKED_BIRTH_DATE
) -> pb.Dispensation:
    """A record of the person the tests ask about (SMITH JOHN, 1980-02-03) unless told otherwise."""
    return pb.Dispensation(
        id=rx,
        rx_number=rx,
        date_filled=day,
        source_state=state,
        ndc="00406052301",
        patient_name=pb.HumanName(family=family, given="JOHN"),
        patient_birth_date=birth_date,
    )


Behaviour = PartnerAnswer | Exception | Callable[[pb.SearchHistoryRequest], PartnerAnswer]


@dataclass
class ScriptedClient:
    """A partner that answers ``behaviour`` (an answer, an error to raise, or a function of the request) after
    ``delay`` seconds, and records what it was asked."""

    state: str
    behaviour: Behaviour
    delay: float = 0.0
    protocol: str = "fhir"
    asked: list[pb.SearchHistoryRequest] = field(default_factory=list)
    cancelled: int = 0

    async def search(self, request: pb.SearchHistoryRequest) -> PartnerAnswer:
        self.asked.append(request)
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        if isinstance(self.behaviour, Exception):
            raise self.behaviour
        if isinstance(self.behaviour, PartnerAnswer):
            return self.behaviour
        return self.behaviour(request)


def answering(state: str, *fills: pb.Dispensation) -> PartnerAnswer:
    status = PmixStatus.COMPLETE if fills else PmixStatus.NO_DATA
    return PartnerAnswer(state, status, tuple(fills))


def failing(detail: str = "HTTP 503") -> PartnerCallError:
    return PartnerCallError(detail)


def scripted_interstate(
    directory: MemoryDirectory,
    scripts: dict[str, ScriptedClient],
    *,
    failures: int = 3,
    cooldown: float = 30.0,
    clock: Callable[[], float] | None = None,
) -> Interstate:
    """An opened ``Interstate`` whose clients are ``scripts`` (by state)."""

    def build(
        partner: Partner, outbound: Outbound, session: aiohttp.ClientSession, tokens: PartnerTokens
    ) -> PartnerClient:
        return scripts[partner.state]

    clients = PartnerClients(directory, {PartnerProtocol.FHIR: build, PartnerProtocol.PMIX: build})
    clients.open()
    return Interstate(
        directory,
        clients,
        own_state=OWN_STATE,
        breaker_failures=failures,
        breaker_cooldown_seconds=cooldown,
        clock=clock or time.monotonic,
    )
