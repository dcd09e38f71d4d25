"""Asking a partner state's hub that speaks PMIX: ``POST {endpoint}`` with a ``pmix:PMPRequest`` and our token.

The request is written and the report read by the PMIX codec (``adapters.pmix``), in the exchange namespace of the
setting ``pmix_exchange_ns``. A hub answers with a ``pmix:PMPPrescriptionReport`` whatever happened — HTTP 200 for
an answer about the person, the error's status for a refusal — so the report's own status decides:

* ``complete``, ``no-data``, ``deferred``, ``disallowed`` — that state's part of the answer (the hub is up);
* ``error``, ``version-mismatch``, or no readable report — ``PartnerCallError`` naming the HTTP status;
* a report whose ``pmix:RequestID`` is not the one we sent — ``PartnerCallError``: it answers another query, and
  its records may be another person's;
* HTTP 401 — our token was refused: forgotten, and the call retried once with a fresh one when the refused token
  was a cached one.

A query the codec cannot put in PMIX (no surname or full birth date: a query by an earlier answer's patient id) is
``PartnerNotAsked``.
"""

from __future__ import annotations

import uuid
from typing import Final

import aiohttp

from adapters import pmix
from gateway.interstate.answer import PartnerAnswer, PartnerCallError, PartnerNotAsked, PmixStatus
from gateway.interstate.credentials import PartnerTokens
from gateway.interstate.http import post_with_token
from gateway.interstate.partners import Outbound
from gateway.interstate.taxonomy import taxonomy_of
from protos.errors import PmpError
from protos.pmp.v1 import pmp_pb2 as pb

XML: Final = "application/xml"
_ANSWERS: Final = frozenset({pmix.COMPLETE, pmix.NO_DATA, pmix.DEFERRED, pmix.DISALLOWED})


class PmixPartnerClient:
    """One partner state's PMIX endpoint, over the partner's own session."""

    protocol = "pmix"

    def __init__(
        self,
        state: str,
        outbound: Outbound,
        session: aiohttp.ClientSession,
        tokens: PartnerTokens,
        *,
        requesting_state: str,
        exchange_ns: str,
    ) -> None:
        self.state = state
        self._url = outbound.endpoint
        self._session = session
        self._tokens = tokens
        self._requesting_state = requesting_state
        self._exchange_ns = exchange_ns

    async def search(self, request: pb.SearchHistoryRequest) -> PartnerAnswer:
        """Our query at this partner. The caller bounds the time and turns aiohttp's errors into
        ``PartnerCallError``; a report that is no answer raises it here."""
        request_id = uuid.uuid4().hex
        try:
            body = pmix.encode_request(
                request,
                request_id=request_id,
                requesting_state=self._requesting_state,
                disclosing_state=self.state,
                requester_taxonomy=taxonomy_of(request.requester.role),
                exchange_ns=self._exchange_ns,
            )
        except PmpError as error:
            raise PartnerNotAsked(f"not asked: {error.detail}") from None
        status, content = await post_with_token(self._session, self._url, body, XML, self._tokens)
        try:
            report = pmix.decode_report(content, exchange_ns=self._exchange_ns, disclosing_state=self.state)
        except PmpError as error:
            raise PartnerCallError(f"HTTP {status}" if status != 200 else error.detail) from None
        if report.status not in _ANSWERS:
            raise PartnerCallError(f"HTTP {status} ({report.status})")
        if report.request_id != request_id:
            raise PartnerCallError("the report answers another RequestID")
        detail = "" if status == 200 else f"HTTP {status}"
        return PartnerAnswer(self.state, PmixStatus(report.status), tuple(report.dispensations), detail)
