"""Asking a partner state's FHIR hub: ``POST {endpoint}/Patient/$pdmp-history`` (US PDMP IG) with our token.

The request is built and the answer read by the FHIR codec (``adapters.fhir.history_request`` /
``history_answer``). HTTP outcomes:

* 200 — the output Parameters: ``complete`` with dispensations, or the status its ``outcome`` gives; an outcome
  ``error`` (the hub's backend down) is ``PartnerCallError``, as a PMIX ``error`` report is, so it counts against
  the partner's circuit breaker;
* 4xx with an OperationOutcome carrying a PMIXStatusCode (``disallowed`` for a requester the partner refuses,
  ``no-data``, ``deferred``) — that status: the hub answered;
* 401 — our token was refused: forgotten, and the call retried once with a fresh one when the refused token was
  a cached one;
* anything else (429, 5xx, an unreadable body) — ``PartnerCallError``.
"""

from __future__ import annotations

from typing import Final

import aiohttp

from adapters.fhir.history_answer import outcome_status, read_history_answer
from adapters.fhir.history_request import encode_history_request
from gateway.interstate.answer import REFUSED, UNAVAILABLE, PartnerAnswer, PartnerCallError, PmixStatus
from gateway.interstate.credentials import PartnerTokens
from gateway.interstate.http import post_with_token
from gateway.interstate.partners import Outbound
from gateway.interstate.taxonomy import taxonomy_of
from protos.errors import PmpError
from protos.pmp.v1 import pmp_pb2 as pb

FHIR_JSON: Final = "application/fhir+json"
_ANSWERED: Final = frozenset({"no-data", "disallowed", "deferred"})  # an error status that is still an answer


class FhirPartnerClient:
    """One partner state's FHIR ``$pdmp-history``, over the partner's own session."""

    protocol = "fhir"

    def __init__(self, state: str, outbound: Outbound, session: aiohttp.ClientSession, tokens: PartnerTokens) -> None:
        self.state = state
        self._url = f"{outbound.endpoint.rstrip('/')}/Patient/$pdmp-history"
        self._session = session
        self._tokens = tokens

    async def search(self, request: pb.SearchHistoryRequest) -> PartnerAnswer:
        """Our query at this partner. The caller bounds the time and turns aiohttp's errors into
        ``PartnerCallError`` (``http.transport_errors``); an answer that is not one raises it here."""
        body = encode_history_request(request, taxonomy=taxonomy_of(request.requester.role))
        status, content = await post_with_token(self._session, self._url, body, FHIR_JSON, self._tokens)
        if status == 200:
            return self._answer(content)
        code = outcome_status(content)
        if 400 <= status < 500 and code in _ANSWERED:
            return PartnerAnswer(self.state, PmixStatus(code), detail=f"HTTP {status}")
        reason = REFUSED if status == 403 else UNAVAILABLE
        raise PartnerCallError(f"HTTP {status}" + (f" ({code})" if code else ""), reason=reason)

    def _answer(self, content: bytes) -> PartnerAnswer:
        try:
            answer = read_history_answer(content)
        except PmpError as error:
            raise PartnerCallError(error.detail) from None
        if answer.status == PmixStatus.ERROR:
            raise PartnerCallError("HTTP 200 (error)")
        return PartnerAnswer(self.state, PmixStatus(answer.status), tuple(answer.dispensations))
