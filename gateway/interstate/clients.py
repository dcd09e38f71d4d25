"""One aiohttp session and one protocol client per partner state, in the process that serves.

Sessions hold sockets and belong to one event loop, so they are made after any fork: the pool is opened in the
app's ``cleanup_ctx`` (which warms up a client for every partner the directory lists) and makes a client on first
use for a partner added later. Each partner gets its own session — its own connection pool, kept alive between
queries — so a slow hub cannot take the connections another one needs. A partner whose outbound configuration
changes (endpoint, credentials, protocol) gets a new client; the old session is closed at shutdown, after any call
still using it. ``aclose`` closes them all.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Protocol

import aiohttp
from aiohttp import web

from gateway.interstate.answer import PartnerAnswer, PartnerCallError
from gateway.interstate.credentials import AssertionKey, PartnerTokens
from gateway.interstate.partners import Outbound, Partner, PartnerDirectory, PartnerProtocol
from protos.pmp.v1 import pmp_pb2 as pb

log = logging.getLogger("pmp.interstate")

KEEPALIVE_SECONDS = 30.0
CONNECTIONS_PER_PARTNER = 32


class PartnerClient(Protocol):
    state: str
    protocol: str

    async def search(self, request: pb.SearchHistoryRequest) -> PartnerAnswer:
        """The partner's answer to ``request``; ``PartnerCallError`` (or an aiohttp error) when there is none."""
        ...


ClientBuilder = Callable[[Partner, Outbound, aiohttp.ClientSession, PartnerTokens], PartnerClient]


class PartnerClients:
    """The pool. ``builders`` maps each protocol to the function that makes its client."""

    def __init__(self, directory: PartnerDirectory, builders: Mapping[PartnerProtocol, ClientBuilder]) -> None:
        self._directory = directory
        self._builders = dict(builders)
        self._clients: dict[str, tuple[Outbound, PartnerClient, aiohttp.ClientSession]] = {}
        self._retired: list[aiohttp.ClientSession] = []
        self._open = False

    async def lifecycle(self, app: web.Application) -> AsyncIterator[None]:
        """``cleanup_ctx``: open; close everything at shutdown."""
        self.open()
        try:
            yield
        finally:
            await self.aclose()

    def open(self) -> None:
        """Start making clients (in the serving process's loop), warming up one for each listed partner."""
        self._open = True
        try:
            for partner in self._directory.outbound_partners():
                try:
                    self.get(partner)
                except PartnerCallError as exc:  # the call will say so again, in the answer
                    log.warning("partner client not ready", extra={"partner": partner.state, "error": str(exc)})
        except Exception:  # a directory that cannot be read now: clients are made on first use instead
            log.exception("partner directory unavailable at start-up")

    def get(self, partner: Partner) -> PartnerClient:
        """The client for ``partner`` (made now if there is none or its configuration changed)."""
        outbound = partner.outbound
        if outbound is None:
            raise PartnerCallError("this PMP does not send queries to that state")
        known = self._clients.get(partner.state)
        if known is not None and known[0] == outbound:
            return known[1]
        if not self._open:
            raise PartnerCallError("the gateway is not serving")
        builder = self._builders.get(outbound.protocol)
        if builder is None:
            raise PartnerCallError(f"no {outbound.protocol.value} client in this build")
        key = AssertionKey.load(outbound.key_file)
        session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=CONNECTIONS_PER_PARTNER, keepalive_timeout=KEEPALIVE_SECONDS),
            timeout=aiohttp.ClientTimeout(total=None),  # each call is bounded by the request's budget instead
            raise_for_status=False,
        )
        client = builder(partner, outbound, session, PartnerTokens(session, outbound, key))
        if known is not None:
            self._retired.append(known[2])
        self._clients[partner.state] = (outbound, client, session)
        return client

    async def aclose(self) -> None:
        self._open = False
        sessions = [session for _, _, session in self._clients.values()] + self._retired
        self._clients.clear()
        self._retired.clear()
        for session in sessions:
            await session.close()
