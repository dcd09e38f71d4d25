"""Access tokens: issuing, verifying (issuer, audience, type, algorithm, kid, expiry), the verified-token cache
(never serving a revoked token), key rotation, and a micro-benchmark of a cache miss against a hit."""

from __future__ import annotations

import base64
import hashlib
import json
import timeit
from collections.abc import Callable
from pathlib import Path

import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey

from gateway.auth import scopes
from gateway.auth.errors import AccessTokenError, AuthStateUnavailable, ExpiredAccessToken, RevokedAccessToken
from gateway.auth.keys import KeyRing
from gateway.auth.revocation import MemoryRevocationStore
from gateway.auth.tokens import AccessTokenVerifier, TokenIssuer

ISS = "https://pmp.example.gov"
AUD = "https://pmp.example.gov"
GRANTED = (scopes.MEDICATION_DISPENSE_READ, scopes.NCPDP_HISTORY)


class Clock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def revoked() -> MemoryRevocationStore:
    return MemoryRevocationStore()


@pytest.fixture
def issuer(keyring: KeyRing, clock: Clock) -> TokenIssuer:
    return TokenIssuer(keyring, issuer=ISS, audience=AUD, clock=clock)


@pytest.fixture
def verifier(keyring: KeyRing, revoked: MemoryRevocationStore, clock: Clock) -> AccessTokenVerifier:
    return AccessTokenVerifier(keyring, revoked, issuer=ISS, audience=AUD, clock=clock)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _claims(token: str) -> dict[str, object]:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))  # type: ignore[no-any-return]


def test_issue_then_verify(issuer: TokenIssuer, verifier: AccessTokenVerifier) -> None:
    token, issued = issuer.issue("c1", "eds-9", GRANTED)
    verified = verifier.verify(token)
    assert verified == issued
    assert verified.client_id == "c1"
    assert verified.eds_id == "eds-9"
    assert verified.scopes == frozenset(GRANTED)
    assert verified.allows(scopes.MEDICATION_DISPENSE_READ)
    assert verified.allows(scopes.NCPDP_HISTORY)
    assert not verified.allows(scopes.ADMIN)
    assert verified.expires_at - verified.issued_at == 300


def test_wildcard_scope_covers_the_fhir_scope(issuer: TokenIssuer, verifier: AccessTokenVerifier) -> None:
    token, _ = issuer.issue("c1", "e", [scopes.ALL_RESOURCES_READ])
    assert verifier.verify(token).allows(scopes.MEDICATION_DISPENSE_READ)


def test_lifetime_is_capped_at_300_seconds(keyring: KeyRing) -> None:
    with pytest.raises(ValueError, match="300"):
        TokenIssuer(keyring, issuer=ISS, audience=AUD, ttl_seconds=301)


def test_a_hit_is_served_from_the_cache(issuer: TokenIssuer, verifier: AccessTokenVerifier) -> None:
    token, _ = issuer.issue("c1", "e", GRANTED)
    first = verifier.verify(token)
    assert len(verifier) == 1
    assert verifier.verify(token) is first


async def test_the_cache_never_serves_a_revoked_token(
    issuer: TokenIssuer, verifier: AccessTokenVerifier, revoked: MemoryRevocationStore
) -> None:
    token, issued = issuer.issue("c1", "e", GRANTED)
    verifier.verify(token)
    await revoked.revoke(issued.jti, issued.expires_at)
    with pytest.raises(RevokedAccessToken):
        verifier.verify(token)  # cache hit path
    verifier._cache.clear()
    with pytest.raises(RevokedAccessToken):
        verifier.verify(token)  # miss path


def test_expired_token_is_refused_on_hit_and_miss(
    issuer: TokenIssuer, verifier: AccessTokenVerifier, clock: Clock
) -> None:
    token, _ = issuer.issue("c1", "e", GRANTED)
    verifier.verify(token)
    clock.now += 306
    with pytest.raises(ExpiredAccessToken):
        verifier.verify(token)
    with pytest.raises(ExpiredAccessToken):
        verifier.verify(token)


def test_a_token_from_another_issuer_is_refused(keyring: KeyRing, verifier: AccessTokenVerifier, clock: Clock) -> None:
    other = TokenIssuer(keyring, issuer="https://evil.example", audience=AUD, clock=clock)
    token, _ = other.issue("c1", "e", GRANTED)
    with pytest.raises(AccessTokenError, match="invalid_claim"):
        verifier.verify(token)


def test_a_token_for_another_audience_is_refused(keyring: KeyRing, verifier: AccessTokenVerifier, clock: Clock) -> None:
    token, _ = TokenIssuer(keyring, issuer=ISS, audience="https://other", clock=clock).issue("c1", "e", GRANTED)
    with pytest.raises(AccessTokenError):
        verifier.verify(token)


def test_a_token_signed_by_another_key_is_refused(tmp_path: Path, verifier: AccessTokenVerifier, clock: Clock) -> None:
    stranger = KeyRing.load_or_create(tmp_path / "elsewhere")
    token, _ = TokenIssuer(stranger, issuer=ISS, audience=AUD, clock=clock).issue("c1", "e", GRANTED)
    with pytest.raises(AccessTokenError, match="unknown kid"):
        verifier.verify(token)


def test_same_kid_but_another_key_is_refused(keyring: KeyRing, verifier: AccessTokenVerifier, clock: Clock) -> None:
    forged_key = RSAKey.generate_key(2048, parameters={"kid": keyring.signing_key.kid, "alg": "RS256"})
    claims = _claims(TokenIssuer(keyring, issuer=ISS, audience=AUD, clock=clock).issue("c1", "e", GRANTED)[0])
    header = {"typ": "at+jwt", "alg": "RS256", "kid": keyring.signing_key.kid}
    with pytest.raises(AccessTokenError):
        verifier.verify(jwt.encode(header, claims, forged_key, algorithms=["RS256"]))


def test_alg_none_and_hs256_are_refused(issuer: TokenIssuer, verifier: AccessTokenVerifier, keyring: KeyRing) -> None:
    token, _ = issuer.issue("c1", "e", GRANTED)
    _, payload, _ = token.split(".")
    kid = keyring.signing_key.kid
    none_header = _b64(json.dumps({"typ": "at+jwt", "alg": "none", "kid": kid}).encode())
    with pytest.raises(AccessTokenError):
        verifier.verify(f"{none_header}.{payload}.")
    hs_header = _b64(json.dumps({"typ": "at+jwt", "alg": "HS256", "kid": kid}).encode())
    with pytest.raises(AccessTokenError):
        verifier.verify(f"{hs_header}.{payload}.{_b64(b'x' * 32)}")


def test_a_token_without_kid_or_with_the_wrong_typ_is_refused(
    keyring: KeyRing, verifier: AccessTokenVerifier, issuer: TokenIssuer
) -> None:
    claims = _claims(issuer.issue("c1", "e", GRANTED)[0])
    key = keyring.signing_key
    no_kid = jwt.encode({"typ": "at+jwt", "alg": "RS256"}, claims, key.key, algorithms=["RS256"])
    with pytest.raises(AccessTokenError, match="no kid"):
        verifier.verify(no_kid)
    id_token = jwt.encode({"typ": "JWT", "alg": "RS256", "kid": key.kid}, claims, key.key, algorithms=["RS256"])
    with pytest.raises(AccessTokenError, match="not an access token"):
        verifier.verify(id_token)


def test_tampered_claims_are_refused(issuer: TokenIssuer, verifier: AccessTokenVerifier) -> None:
    token, _ = issuer.issue("c1", "e", GRANTED)
    header, _, signature = token.split(".")
    claims = _claims(token)
    claims["scope"] = scopes.ADMIN
    with pytest.raises(AccessTokenError):
        verifier.verify(f"{header}.{_b64(json.dumps(claims).encode())}.{signature}")


@pytest.mark.parametrize("junk", ["", "abc", "a.b.c", "x" * 5000, "é.é.é", "\udcff.a.b"])
def test_junk_is_refused(verifier: AccessTokenVerifier, junk: str) -> None:
    with pytest.raises(AccessTokenError):
        verifier.verify(junk)


def test_inspect_recognises_an_expired_token(issuer: TokenIssuer, verifier: AccessTokenVerifier, clock: Clock) -> None:
    token, issued = issuer.issue("c1", "e", GRANTED)
    clock.now += 3600
    assert verifier.inspect(token, check_expiry=False) == issued
    with pytest.raises(ExpiredAccessToken):
        verifier.inspect(token)


def test_cache_is_bounded(keyring: KeyRing, issuer: TokenIssuer, clock: Clock) -> None:
    small = AccessTokenVerifier(keyring, MemoryRevocationStore(), issuer=ISS, audience=AUD, max_entries=3, clock=clock)
    tokens = [issuer.issue(f"c{i}", "e", GRANTED)[0] for i in range(5)]
    for token in tokens:
        small.verify(token)
    assert len(small) == 3
    assert small.verify(tokens[0]).client_id == "c0"  # evicted, verified again


def test_revocation_state_unavailable_propagates(keyring: KeyRing, issuer: TokenIssuer, clock: Clock) -> None:
    class Stale:
        async def revoke(self, jti: str, expires_at: float) -> None: ...

        def is_revoked(self, jti: str) -> bool:
            raise AuthStateUnavailable("stale")

    stale = AccessTokenVerifier(keyring, Stale(), issuer=ISS, audience=AUD, clock=clock)
    with pytest.raises(AuthStateUnavailable):
        stale.verify(issuer.issue("c1", "e", GRANTED)[0])


# -- rotation ------------------------------------------------------------------------------------------------------


def test_a_token_signed_by_the_old_key_verifies_after_rotation(
    keyring: KeyRing, issuer: TokenIssuer, verifier: AccessTokenVerifier, tmp_path: Path, clock: Clock
) -> None:
    old_token, _ = issuer.issue("c1", "e", GRANTED)
    old_kid = keyring.signing_key.kid
    new = keyring.rotate()
    assert keyring.signing_key.kid == new.kid != old_kid
    new_token, _ = issuer.issue("c1", "e", GRANTED)
    assert jwt.decode(new_token, keyring.key_set, algorithms=["RS256"]).header["kid"] == new.kid
    assert verifier.verify(old_token).client_id == "c1"
    assert verifier.verify(new_token).client_id == "c1"
    # another worker's ring, loaded before the rotation, learns the new key on its first unknown kid
    assert {k["kid"] for k in keyring.jwks()["keys"]} == {old_kid, new.kid}


def test_another_process_picks_up_a_rotated_key(tmp_path: Path, clock: Clock) -> None:
    ours = KeyRing.load_or_create(tmp_path)
    theirs = KeyRing.load_or_create(tmp_path)  # another worker, same data dir
    verifier = AccessTokenVerifier(ours, MemoryRevocationStore(), issuer=ISS, audience=AUD, clock=clock)
    theirs.rotate("ES256")
    token, _ = TokenIssuer(theirs, issuer=ISS, audience=AUD, clock=clock).issue("c1", "e", GRANTED)
    assert verifier.verify(token).client_id == "c1"
    assert ours.algorithms == {"RS256", "ES256"}


def test_a_retired_key_no_longer_verifies(keyring: KeyRing, issuer: TokenIssuer, clock: Clock) -> None:
    old_token, _ = issuer.issue("c1", "e", GRANTED)
    old_kid = keyring.signing_key.kid
    keyring.rotate()
    keyring.retire(old_kid)
    fresh = AccessTokenVerifier(keyring, MemoryRevocationStore(), issuer=ISS, audience=AUD, clock=clock)
    with pytest.raises(AccessTokenError, match="unknown kid"):
        fresh.verify(old_token)


# -- micro-benchmark -----------------------------------------------------------------------------------------------


def test_benchmark_cache_hit_against_verification(keyring: KeyRing, issuer: TokenIssuer) -> None:
    """Prints µs per call: a full verification (cache miss) and a cache hit, each beside its baseline measured in the
    same run — a bare joserfc signature check, and a bare sha256 + dict lookup. The hit must be far cheaper."""
    verifier = AccessTokenVerifier(keyring, MemoryRevocationStore(), issuer=ISS, audience=AUD)
    token, _ = TokenIssuer(keyring, issuer=ISS, audience=AUD).issue("c1", "eds-1", GRANTED)
    key = keyring.key_set.keys[0]
    table = {hashlib.sha256(str(i).encode()).digest(): i for i in range(10_000)}
    table[hashlib.sha256(token.encode()).digest()] = 1
    n = 300

    def per_call(fn: Callable[[], object], number: int) -> float:
        fn()
        return min(timeit.repeat(fn, number=number, repeat=5)) / number * 1e6

    def miss() -> None:
        verifier._cache.clear()
        verifier.verify(token)

    miss_us = per_call(miss, n)
    bare_verify_us = per_call(lambda: jwt.decode(token, key, algorithms=["RS256"]), n)
    hit_us = per_call(lambda: verifier.verify(token), n * 20)
    bare_hit_us = per_call(lambda: table.get(hashlib.sha256(token.encode()).digest()), n * 20)
    print(
        f"\naccess token ({keyring.signing_key.alg}): uncached {miss_us:.1f} µs"
        f" (bare joserfc verify {bare_verify_us:.1f}, ×{miss_us / bare_verify_us:.2f});"
        f" cache hit {hit_us:.2f} µs (bare sha256+dict {bare_hit_us:.2f}, ×{hit_us / bare_hit_us:.2f});"
        f" hit/miss = 1/{miss_us / hit_us:.0f}"
    )
    assert hit_us * 10 < miss_us
