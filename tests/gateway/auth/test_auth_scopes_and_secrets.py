"""Scope rules (SMART v2 with v1 equivalence, the pmp scopes, the grant rule) and client-secret hashing."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.auth import scopes
from gateway.auth.clients import hash_secret, new_client_secret, verify_secret


@pytest.mark.parametrize(
    ("granted", "required", "ok"),
    [
        ("system/MedicationDispense.rs", scopes.MEDICATION_DISPENSE_READ, True),
        ("system/*.rs", scopes.MEDICATION_DISPENSE_READ, True),
        ("system/MedicationDispense.read", scopes.MEDICATION_DISPENSE_READ, True),  # v1
        ("system/*.read", scopes.MEDICATION_DISPENSE_READ, True),
        ("system/MedicationDispense.cruds", scopes.MEDICATION_DISPENSE_READ, True),
        ("system/MedicationDispense.r", scopes.MEDICATION_DISPENSE_READ, False),  # read without search
        ("system/MedicationDispense.s", scopes.MEDICATION_DISPENSE_READ, False),
        ("system/Patient.rs", scopes.MEDICATION_DISPENSE_READ, False),
        ("user/MedicationDispense.rs", scopes.MEDICATION_DISPENSE_READ, False),
        ("patient/*.rs", scopes.MEDICATION_DISPENSE_READ, False),
        (scopes.NCPDP_HISTORY, scopes.NCPDP_HISTORY, True),
        (scopes.ADMIN, scopes.NCPDP_HISTORY, False),
        ("system/*.rs", scopes.NCPDP_HISTORY, False),
        ("pmp/*", scopes.ADMIN, False),
    ],
)
def test_covers(granted: str, required: str, ok: bool) -> None:
    assert scopes.covers(granted, required) is ok


@pytest.mark.parametrize(
    ("scope", "supported"),
    [
        ("system/MedicationDispense.rs", True),
        ("system/MedicationDispense.read", True),
        ("system/*.rs", True),
        ("system/MedicationDispense.r", True),
        ("system/MedicationDispense.cruds", False),  # no writes
        ("system/MedicationDispense.write", False),
        ("system/Patient.rs", False),
        ("system/MedicationDispense.sr", False),  # v2 permissions are in c-r-u-d-s order
        ("system/MedicationDispense.", False),
        ("pmp/admin", True),
        ("pmp/unknown", False),
        ("openid", False),
    ],
)
def test_is_supported(scope: str, supported: bool) -> None:
    assert scopes.is_supported(scope) is supported


def test_every_advertised_scope_is_supported() -> None:
    assert all(scopes.is_supported(s) for s in scopes.SCOPES_SUPPORTED)
    assert all(scopes.is_supported(s) for s in scopes.REQUIRED_SCOPE.values())


def test_grant_is_requested_and_covered_by_allowed() -> None:
    allowed = frozenset({"system/*.rs", scopes.NCPDP_HISTORY})
    requested = f"system/MedicationDispense.rs {scopes.ADMIN} {scopes.NCPDP_HISTORY} system/*.rs system/Patient.rs"
    assert scopes.grant(requested, allowed) == ("system/MedicationDispense.rs", scopes.NCPDP_HISTORY, "system/*.rs")
    assert scopes.grant("system/*.rs", frozenset({"system/MedicationDispense.rs"})) == ()  # broader than allowed
    assert scopes.grant(None, allowed) == ()
    assert scopes.grant("  ", allowed) == ()
    assert scopes.grant("pmp/ncpdp.history  pmp/ncpdp.history", allowed) == (scopes.NCPDP_HISTORY,)


@pytest.mark.parametrize("bad", ['a"b', "a\\b", "é", "a\tb", " ".join(["pmp/admin"] * 40)])
def test_malformed_scope_parameter(bad: str) -> None:
    with pytest.raises(scopes.ScopeSyntaxError):
        scopes.split(bad)


def test_effective_is_the_route_scopes_covered() -> None:
    assert scopes.effective(["system/*.read", scopes.ADMIN]) == {scopes.MEDICATION_DISPENSE_READ, scopes.ADMIN}
    assert scopes.effective(["system/MedicationDispense.r"]) == frozenset()


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=80))
def test_split_never_fails_otherwise(text: str) -> None:
    try:
        tokens = scopes.split(text)
    except scopes.ScopeSyntaxError:
        return
    assert all(t and " " not in t for t in tokens)


def test_secret_hash_round_trip() -> None:
    secret = new_client_secret()
    stored = hash_secret(secret)
    assert stored.startswith("scrypt$16384$8$1$")
    assert len(stored.split("$")) == 6
    assert verify_secret(secret, stored)
    assert not verify_secret(secret + "x", stored)
    assert hash_secret(secret) != stored  # salted


@pytest.mark.parametrize(
    "stored",
    [
        "",
        "plain",
        "scrypt$1$8$1$AA$AA",
        "scrypt$16384$8$1$!!$!!",
        "bcrypt$16384$8$1$AA$AA",
        "scrypt$3$8$1$AAAA$AAAA",
        "scrypt$1073741824$8$1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    ],
)
def test_malformed_hashes_never_match(stored: str) -> None:
    assert not verify_secret("anything", stored)
