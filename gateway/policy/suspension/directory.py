"""The token service's view of clients, with suspensions applied: a suspended client, or a client of a suspended
EDS, is reported inactive, so ``POST /oauth/token`` refuses it (``invalid_client``) and it gets no new token. Its
tokens already issued are refused by the suspension stage on every request.

Fail closed: while the suspension set cannot be confirmed, every client reads as inactive (no token is issued that
the set might have refused).
"""

from __future__ import annotations

import logging
from dataclasses import replace

from gateway.auth.clients import ClientDirectory, RegisteredClient
from gateway.policy.suspension.errors import SuspensionStateUnavailable
from gateway.policy.suspension.live import SuspensionSet

log = logging.getLogger("pmp.suspension")


class SuspendingClientDirectory:
    """A ``ClientDirectory`` that wraps another (the registry) and applies the suspension set."""

    def __init__(self, clients: ClientDirectory, suspensions: SuspensionSet) -> None:
        self._clients = clients
        self._suspensions = suspensions

    async def find_client(self, client_id: str) -> RegisteredClient | None:
        client = await self._clients.find_client(client_id)
        if client is None or not client.active:
            return client
        try:
            suspended = self._suspensions.is_suspended(eds_id=client.eds_id, client_id=client.client_id)
        except SuspensionStateUnavailable:
            log.info("token refused: suspension list unconfirmed", extra={"client_id": client.client_id})
            return replace(client, active=False)
        if suspended is not None:
            log.info(
                "token refused: suspended",
                extra={"client_id": client.client_id, "suspension": suspended.id, "kind": suspended.kind.value},
            )
            return replace(client, active=False)
        return client
