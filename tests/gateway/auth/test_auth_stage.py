"""The authenticate pipeline stage: bearer token → client, EDS and scopes on the context; each refusal as the
PmpError the protocol adapters render (UNAUTHENTICATED 401, INSUFFICIENT_SCOPE 403, BACKEND_UNAVAILABLE 503)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from gateway.auth import scopes
from gateway.auth.errors import AuthStateUnavailable
from gateway.auth.keys import KeyRing
from gateway.auth.revocation import MemoryRevocationStore
from gateway.auth.tokens import AccessTokenVerifier, TokenIssuer
from gateway.budget import Deadline
from gateway.pipeline.authenticate import INVALID, MISSING, Authenticate, authenticate, bearer_token
from gateway.pipeline.context import RequestContext
from protos.errors import PmpError
from protos.pmp.v1 import pmp_pb2 as pb

ISS = AUD = "https://pmp.example.gov"


@dataclass(slots=True)
class Ctx(RequestContext):
    """RequestContext with the two fields the stage needs (to be added to RequestContext itself)."""

    authorization: str = ""
    eds_id: str = ""


def _ctx(protocol: str = "fhir", authorization: str = "") -> Ctx:
    return Ctx(
        "rid", protocol, "pdmp-history", Deadline.after(5), pb.SearchHistoryRequest(), authorization=authorization
    )


@pytest.fixture
def revocations() -> MemoryRevocationStore:
    return MemoryRevocationStore()


@pytest.fixture
def verifier(keyring: KeyRing, revocations: MemoryRevocationStore) -> AccessTokenVerifier:
    return AccessTokenVerifier(keyring, revocations, issuer=ISS, audience=AUD)


@pytest.fixture
def issue(keyring: KeyRing) -> TokenIssuer:
    return TokenIssuer(keyring, issuer=ISS, audience=AUD)


def _code(excinfo: pytest.ExceptionInfo[PmpError]) -> int:
    return excinfo.value.http_status


async def test_the_stage_fills_the_context(verifier: AccessTokenVerifier, issue: TokenIssuer) -> None:
    token, _ = issue.issue("client-1", "eds-4", [scopes.MEDICATION_DISPENSE_READ])
    ctx = _ctx(authorization=f"Bearer {token}")
    await Authenticate(verifier)(ctx)
    assert ctx.client_id == "client-1"
    assert ctx.eds_id == "eds-4"
    assert ctx.scopes == {scopes.MEDICATION_DISPENSE_READ}
    assert ctx.notes["authenticate"] == "client=client-1 eds=eds-4"
    assert token not in repr(ctx.notes)


@pytest.mark.parametrize(
    ("protocol", "granted", "ok"),
    [
        ("fhir", scopes.MEDICATION_DISPENSE_READ, True),
        ("fhir", "system/*.read", True),
        ("fhir", scopes.NCPDP_HISTORY, False),
        ("ncpdp", scopes.NCPDP_HISTORY, True),
        ("ncpdp", scopes.ALL_RESOURCES_READ, False),
        ("pmix", scopes.INTERSTATE, True),
        ("pmix", scopes.ADMIN, False),
    ],
)
async def test_each_protocol_needs_its_scope(
    verifier: AccessTokenVerifier, issue: TokenIssuer, protocol: str, granted: str, ok: bool
) -> None:
    token, _ = issue.issue("c", "e", [granted])
    ctx = _ctx(protocol, f"Bearer {token}")
    if ok:
        await Authenticate(verifier)(ctx)
        return
    with pytest.raises(PmpError) as excinfo:
        await Authenticate(verifier)(ctx)
    assert _code(excinfo) == 403
    assert excinfo.value.detail == f"the token lacks scope {scopes.REQUIRED_SCOPE[protocol]}"


async def test_an_unknown_protocol_is_refused(verifier: AccessTokenVerifier, issue: TokenIssuer) -> None:
    token, _ = issue.issue("c", "e", [scopes.ADMIN])
    with pytest.raises(PmpError) as excinfo:
        await Authenticate(verifier)(_ctx("smtp", f"Bearer {token}"))
    assert _code(excinfo) == 403


@pytest.mark.parametrize("header", ["", "Bearer", "Bearer   ", "Basic abc", "token-without-scheme"])
async def test_missing_token(verifier: AccessTokenVerifier, header: str) -> None:
    with pytest.raises(PmpError) as excinfo:
        await Authenticate(verifier)(_ctx(authorization=header))
    assert _code(excinfo) == 401
    assert excinfo.value.detail == MISSING


async def test_a_context_without_the_header_field_reads_as_no_token(verifier: AccessTokenVerifier) -> None:
    plain = RequestContext("rid", "fhir", "x", Deadline.after(5), pb.SearchHistoryRequest())
    with pytest.raises(PmpError) as excinfo:
        await Authenticate(verifier)(plain)
    assert _code(excinfo) == 401


async def test_invalid_and_revoked_tokens_share_one_generic_detail(
    verifier: AccessTokenVerifier, issue: TokenIssuer, revocations: MemoryRevocationStore, keyring: KeyRing
) -> None:
    token, issued = issue.issue("c", "e", [scopes.MEDICATION_DISPENSE_READ])
    other_issuer, _ = TokenIssuer(keyring, issuer="https://elsewhere", audience=AUD).issue("c", "e", ["pmp/admin"])
    await revocations.revoke(issued.jti, issued.expires_at)
    for bad in (token, other_issuer, "not.a.jwt", token[:-4] + "AAAA"):
        with pytest.raises(PmpError) as excinfo:
            authenticate(verifier, f"Bearer {bad}", scopes.MEDICATION_DISPENSE_READ)
        assert _code(excinfo) == 401
        assert excinfo.value.detail == INVALID


def test_unconfirmed_revocation_state_is_503(keyring: KeyRing, issue: TokenIssuer) -> None:
    class Stale:
        async def revoke(self, jti: str, expires_at: float) -> None: ...

        def is_revoked(self, jti: str) -> bool:
            raise AuthStateUnavailable("stale")

    verifier = AccessTokenVerifier(keyring, Stale(), issuer=ISS, audience=AUD)
    token, _ = issue.issue("c", "e", [scopes.MEDICATION_DISPENSE_READ])
    with pytest.raises(PmpError) as excinfo:
        authenticate(verifier, f"Bearer {token}", scopes.MEDICATION_DISPENSE_READ)
    assert _code(excinfo) == 503
    assert excinfo.value.retry_after == 1.0


def test_bearer_scheme_is_case_insensitive() -> None:
    assert bearer_token("bearer abc") == "abc"
    assert bearer_token("BEARER  abc ") == "abc"
