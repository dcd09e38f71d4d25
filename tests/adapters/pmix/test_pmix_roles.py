"""The requester's role: role texts and NUCC taxonomy codes to ``pb.Role`` (the table in ``adapters.pmix.roles``),
and the round trip of every role our gateway sends."""

from __future__ import annotations

import pytest
from pmix_test_data import encoded, parse, search_request

from adapters.pmix import requester_role, role_text
from adapters.pmix.roles import role_of_taxonomy, taxonomy_code
from protos.pmp.v1 import pmp_pb2 as pb


@pytest.mark.parametrize(
    ("code", "role"),
    [
        ("207Q00000X", pb.ROLE_PRESCRIBER),  # family medicine
        ("208D00000X", pb.ROLE_PRESCRIBER),  # general practice
        ("122300000X", pb.ROLE_PRESCRIBER),  # dentist
        ("363L00000X", pb.ROLE_PRESCRIBER),  # nurse practitioner
        ("363A00000X", pb.ROLE_PRESCRIBER),  # physician assistant
        ("152W00000X", pb.ROLE_PRESCRIBER),  # optometrist
        ("213E00000X", pb.ROLE_PRESCRIBER),  # podiatrist
        ("183500000X", pb.ROLE_PHARMACIST),
        ("1835P1300X", pb.ROLE_PHARMACIST),  # pharmacotherapy specialist
        ("163W00000X", pb.ROLE_LICENSED_DELEGATE),  # registered nurse
        ("164W00000X", pb.ROLE_LICENSED_DELEGATE),  # licensed practical nurse
        ("183700000X", pb.ROLE_UNLICENSED_DELEGATE),  # pharmacy technician
        ("111N00000X", pb.ROLE_UNSPECIFIED),  # chiropractor: not a PMP role here
        ("", pb.ROLE_UNSPECIFIED),
        ("20", pb.ROLE_UNSPECIFIED),  # not a taxonomy code
    ],
)
def test_taxonomy_codes(code: str, role: pb.Role.ValueType) -> None:
    assert role_of_taxonomy(code) == role
    assert requester_role("", code) == role


@pytest.mark.parametrize(
    ("text", "role"),
    [
        ("Prescriber", pb.ROLE_PRESCRIBER),
        ("PHYSICIAN", pb.ROLE_PRESCRIBER),
        ("Nurse Practitioner", pb.ROLE_PRESCRIBER),
        ("physician-assistant", pb.ROLE_PRESCRIBER),
        ("Dentist", pb.ROLE_PRESCRIBER),
        (" Pharmacist ", pb.ROLE_PHARMACIST),
        ("Pharmacist in Charge", pb.ROLE_PHARMACIST),
        ("Prescriber Delegate - Licensed", pb.ROLE_LICENSED_DELEGATE),
        ("Pharmacist Delegate - Unlicensed", pb.ROLE_UNLICENSED_DELEGATE),
        ("Licensed Delegate", pb.ROLE_LICENSED_DELEGATE),
        ("Unlicensed Delegate", pb.ROLE_UNLICENSED_DELEGATE),
        ("Registered Nurse", pb.ROLE_LICENSED_DELEGATE),
        ("Pharmacy Technician", pb.ROLE_UNLICENSED_DELEGATE),
        ("Delegate", pb.ROLE_UNLICENSED_DELEGATE),  # licence not said: the narrower role
        ("Law Enforcement", pb.ROLE_LAW_ENFORCEMENT),
        ("Police Officer", pb.ROLE_LAW_ENFORCEMENT),
        ("Licensing Board", pb.ROLE_REGULATOR),
        ("Regulator", pb.ROLE_REGULATOR),
        ("Administrator", pb.ROLE_UNSPECIFIED),  # roles the gateway gives only its own users
        ("Partner State", pb.ROLE_UNSPECIFIED),
        ("Wizard", pb.ROLE_UNSPECIFIED),
    ],
)
def test_role_texts(text: str, role: pb.Role.ValueType) -> None:
    assert requester_role(text, "") == role


@pytest.mark.parametrize(
    ("text", "code", "role"),
    [
        ("Delegate", "163W00000X", pb.ROLE_LICENSED_DELEGATE),  # a nurse delegate is licensed
        ("Prescriber Delegate", "207Q00000X", pb.ROLE_LICENSED_DELEGATE),
        ("Delegate", "183700000X", pb.ROLE_UNLICENSED_DELEGATE),
        ("Licensed Delegate", "207Q00000X", pb.ROLE_LICENSED_DELEGATE),  # the capacity, not the profession
        ("Pharmacist Delegate - Unlicensed", "183500000X", pb.ROLE_UNLICENSED_DELEGATE),  # a narrower capacity
        ("Wizard", "183500000X", pb.ROLE_PHARMACIST),  # an unknown text: the code decides
        ("Prescriber", "111N00000X", pb.ROLE_PRESCRIBER),  # a code of no known profession: the policy refuses it
    ],
)
def test_text_and_code_together(text: str, code: str, role: pb.Role.ValueType) -> None:
    assert requester_role(text, code) == role


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("Physician", "183500000X"),  # a pharmacist's code: never a prescriber
        ("Prescriber", "183700000X"),  # a technician's code: never a prescriber (nor the delegate-supervisor rule)
        ("Pharmacist", "207Q00000X"),  # a physician's code: not a pharmacist
        ("Licensed Delegate", "183700000X"),  # a technician is not licensed
        ("Nurse Practitioner", "163W00000X"),  # a registered nurse does not prescribe
        ("Police Officer", "207R00000X"),  # a clinician's code with a non-clinical role
    ],
)
def test_a_role_text_the_code_contradicts_is_no_role(text: str, code: str) -> None:
    """Neither claim is taken (not even the narrower one): the partner_policy stage refuses ROLE_UNSPECIFIED."""
    assert requester_role(text, code) == pb.ROLE_UNSPECIFIED
    assert requester_role(text.upper(), code) == pb.ROLE_UNSPECIFIED  # texts compare case-insensitively
    assert requester_role(text, "") != pb.ROLE_UNSPECIFIED  # the text alone is a role: the code is what refuses


def test_the_taxonomy_code_may_come_in_the_role() -> None:
    assert taxonomy_code("183500000x", "") == "183500000X"
    assert taxonomy_code("Pharmacist", "") == ""
    assert taxonomy_code("Pharmacist", "183500000X") == "183500000X"


@pytest.mark.parametrize(
    ("role", "taxonomy"),
    [
        (pb.ROLE_PRESCRIBER, "208D00000X"),
        (pb.ROLE_PHARMACIST, "183500000X"),
        (pb.ROLE_LICENSED_DELEGATE, "163W00000X"),
        (pb.ROLE_UNLICENSED_DELEGATE, "183700000X"),
        (pb.ROLE_LAW_ENFORCEMENT, ""),
        (pb.ROLE_REGULATOR, ""),
        (pb.ROLE_PRESCRIBER, ""),
        (pb.ROLE_LICENSED_DELEGATE, "207Q00000X"),  # a physician acting as a delegate stays a delegate
    ],
)
def test_every_role_we_send_comes_back(role: pb.Role.ValueType, taxonomy: str) -> None:
    request = search_request()
    request.requester.role = role
    query = parse(encoded(request, taxonomy=taxonomy))
    assert query.request.requester.role == role
    assert (query.requester_taxonomy, query.requester_role_text) == (taxonomy, role_text(role))
