"""Asking a partner state's FHIR hub: ``POST {endpoint}/Patient/$pdmp-history`` (US PDMP IG) with our token.

The request is built and the answer read by the FHIR codec (``adapters.fhir.history_request`` /
``history_answer``). HTTP outcomes:

* 200 — the output Parameters: ``complete`` with dispensations, or the status its ``outcome`` gives;
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
from gateway.interstate.answer import PartnerAnswer, PartnerCallError, PmixStatus
from gateway.interstate.credentials import PartnerTokens
from gateway.interstate.http import MAX_ANSWER_BYTES, read_capped
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
        token, fresh = await self._tokens.token()
        status, content = await self._post(body, token)
        if status == 401 and not fresh:
            self._tokens.forget(token)
            token, _ = await self._tokens.token()
            status, content = await self._post(body, token)
        if status == 401:
            self._tokens.forget(token)
            raise PartnerCallError("HTTP 401: the partner refused our access token")
        if status == 200:
            return self._answer(content)
        code = outcome_status(content)
        if 400 <= status < 500 and code in _ANSWERED:
            return PartnerAnswer(self.state, PmixStatus(code), detail=f"HTTP {status}")
        raise PartnerCallError(f"HTTP {status}" + (f" ({code})" if code else ""))

    async def _post(self, body: bytes, token: str) -> tuple[int, bytes]:
        headers = {"Authorization": f"Bearer {token}", "Content-Type": FHIR_JSON, "Accept": FHIR_JSON}
        async with self._session.post(self._url, data=body, headers=headers, allow_redirects=False) as response:
            return response.status, await read_capped(response, MAX_ANSWER_BYTES)

    def _answer(self, content: bytes) -> PartnerAnswer:
        try:
            answer = read_history_answer(content)
        except PmpError as error:
            raise PartnerCallError(error.detail) from None
        return PartnerAnswer(self.state, PmixStatus(answer.status), tuple(answer.dispensations))
