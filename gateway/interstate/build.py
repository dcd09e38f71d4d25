"""The outbound exchange as the settings describe it: a protocol client per partner (FHIR or PMIX), a breaker each."""

from __future__ import annotations

import aiohttp

from gateway.interstate.clients import PartnerClient, PartnerClients
from gateway.interstate.credentials import PartnerTokens
from gateway.interstate.fhir_client import FhirPartnerClient
from gateway.interstate.outbound import Interstate
from gateway.interstate.partners import Outbound, Partner, PartnerDirectory, PartnerProtocol
from gateway.interstate.pmix_client import PmixPartnerClient
from gateway.policy.suspension.live import SuspensionSet
from gateway.settings import Settings


def make_interstate(
    settings: Settings, directory: PartnerDirectory, *, suspensions: SuspensionSet | None = None
) -> Interstate:
    """For one serving process; its clients open in the app's ``cleanup_ctx`` (``interstate.clients.lifecycle``).
    ``suspensions`` (the app's, when suspension is on): a suspended partner state is not asked."""
    own_state = settings.state_code.upper()

    def fhir(
        partner: Partner, outbound: Outbound, session: aiohttp.ClientSession, tokens: PartnerTokens
    ) -> PartnerClient:
        return FhirPartnerClient(partner.state, outbound, session, tokens)

    def pmix(
        partner: Partner, outbound: Outbound, session: aiohttp.ClientSession, tokens: PartnerTokens
    ) -> PartnerClient:
        return PmixPartnerClient(
            partner.state,
            outbound,
            session,
            tokens,
            requesting_state=own_state,
            exchange_ns=settings.pmix_exchange_ns,
        )

    clients = PartnerClients(directory, {PartnerProtocol.FHIR: fhir, PartnerProtocol.PMIX: pmix})
    return Interstate(
        directory,
        clients,
        own_state=own_state,
        breaker_failures=settings.interstate_breaker_failures,
        breaker_cooldown_seconds=settings.interstate_breaker_cooldown_seconds,
        max_partner_records=settings.search_max_page_size,
        suspensions=suspensions,
    )
