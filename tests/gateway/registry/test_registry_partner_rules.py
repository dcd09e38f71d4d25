"""The partner record's rules and row mapping as properties: any text given for a taxonomy code, a patient field, a
role or a URL is either normalised to a valid value or refused with a RegistryInputError (never another exception);
a checked partner survives the trip to its row and back unchanged."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.interstate.partners import InboundPolicy, Outbound, Partner, PartnerProtocol, PartnerStatus
from gateway.policy.registry import RegistryInputError
from gateway.policy.registry.identifiers import US_STATES
from gateway.policy.registry.partners import (
    DEFAULT_ROLES,
    PATIENT_FIELDS,
    TAXONOMY,
    checked_partner,
    endpoint_url,
    partner_record,
    partner_values,
    patient_field,
    role_name,
    taxonomy_code,
)


@given(st.text(max_size=20))
def test_taxonomy_codes_are_normalised_or_refused(text: str) -> None:
    try:
        code = taxonomy_code(text)
    except RegistryInputError:
        return
    assert TAXONOMY.fullmatch(code) and code == text.strip().upper()


@given(st.text(max_size=20) | st.sampled_from(PATIENT_FIELDS))
def test_patient_fields_are_known_or_refused(text: str) -> None:
    with contextlib.suppress(RegistryInputError):
        assert patient_field(text) in PATIENT_FIELDS


@given(st.text(max_size=30) | st.sampled_from([r.removeprefix("ROLE_").lower() for r in DEFAULT_ROLES]))
def test_roles_are_proto_names_or_refused(text: str) -> None:
    with contextlib.suppress(RegistryInputError):
        assert role_name(text) in DEFAULT_ROLES


@given(st.text(max_size=60) | st.from_regex(r"https?://[a-z0-9.:@/#?-]{0,40}", fullmatch=True))
def test_urls_are_https_or_loopback_or_refused(text: str) -> None:
    try:
        url = endpoint_url(text, "endpoint")
    except RegistryInputError:
        return
    assert url.startswith(("https://", "http://127.0.0.1", "http://localhost", "http://[::1]"))


_codes = st.from_regex(r"[0-9]{3}[0-9A-Z]{6}X", fullmatch=True)
_outbound = st.builds(
    Outbound,
    endpoint=st.sampled_from(["https://a.example.gov/pmix", "http://127.0.0.1:8081/fhir"]),
    protocol=st.sampled_from(list(PartnerProtocol)),
    token_url=st.just("https://a.example.gov/oauth/token"),
    client_id=st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=40),
    key_file=st.just(Path("/etc/pmp/keys/k.json")),
    scope=st.sampled_from(["pmp/interstate", "system/MedicationDispense.rs pmp/interstate"]),
    timeout_seconds=st.floats(min_value=0.0001, max_value=60),
    enabled=st.booleans(),
)
_partners = st.builds(
    Partner,
    state=st.sampled_from(sorted(US_STATES)),
    name=st.text(
        st.characters(codec="utf-8", categories=("L", "N", "P"), include_characters=" "), min_size=1, max_size=50
    ).filter(str.strip),
    status=st.sampled_from(list(PartnerStatus)),
    inbound=st.builds(
        InboundPolicy,
        allowed_taxonomies=st.frozensets(_codes, max_size=5),
        required_patient_fields=st.frozensets(st.sampled_from(PATIENT_FIELDS)),
    ),
    outbound=st.none() | _outbound,
    default_for_roles=st.frozensets(st.sampled_from(DEFAULT_ROLES)),
    eds_id=st.from_regex(r"eds_[0-9a-f]{16}", fullmatch=True),
)


@given(_partners, st.integers(min_value=1, max_value=10**6))
def test_a_checked_partner_survives_its_row(partner: Partner, version: int) -> None:
    if partner.outbound is not None and partner.outbound.timeout_seconds < 0.0005:
        with pytest.raises(RegistryInputError, match="timeout"):  # it would be stored as 0 ms
            checked_partner(partner)
        return
    checked = checked_partner(partner)
    values = partner_values(checked)
    row = (checked.state, *values[:2], checked.eds_id, *values[2:], version, "t0", "t1", "by")
    record = partner_record(row)
    assert record.partner == checked and record.version == version
    assert checked_partner(checked) == checked  # checking is idempotent
