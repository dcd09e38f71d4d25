"""``encode_request``: our search as a ``pmix:PMPRequest`` to a partner state — each element path, values fitted to
the schema, and what cannot be sent."""

from __future__ import annotations

import pytest
from pmix_test_data import OTHER_NS, count, encoded, read, search_request, text, texts

from protos.errors import PmpError
from protos.pmp.v1 import pmp_pb2 as pb

PATIENT = "pmp:RequestPatient"
CONTACT = f"{PATIENT}/pmp:PersonPrimaryContactInformation"


def test_routing_and_requester_elements() -> None:
    root = read(encoded())
    assert root.tag == "{urn:pmp-gateway:pmix:exchange:1}PMPRequest"
    assert text(root, "pmix:RequestID") == "NV-REQ-1"
    assert text(root, "pmix:RequestingState/nc:LocationStateUSPostalServiceCode") == "NV"
    assert text(root, "pmix:DisclosingState/nc:LocationStateUSPostalServiceCode") == "AZ"
    assert text(root, "pmix:Requester/nc:PersonName/nc:PersonSurName") == "Amster"
    assert text(root, "pmix:Requester/nc:PersonName/nc:PersonGivenName") == "Adam"
    assert text(root, "pmix:Requester/pmp:NPIIdentifier/nc:IdentificationID") == "1928340565"
    assert text(root, "pmix:Requester/pmp:DEANumberIdentifier/nc:IdentificationID") == "AA1234563"
    assert text(root, "pmix:Requester/pmp:StateLicenseIdentifier/nc:IdentificationID") == "MD-1"
    licence_state = "pmix:Requester/pmp:StateLicenseIdentifier/nc:IdentificationJurisdiction"
    assert text(root, f"{licence_state}/nc:LocationStateUSPostalServiceCode") == "NV"
    assert text(root, "pmix:RequesterRole") == "Prescriber"
    assert text(root, "pmix:RequesterRoleTaxonomyCode") == "208D00000X"
    assert text(root, "pmix:RequesterOrganization/pmp:NCPDPIdentifier/nc:IdentificationID") == "1234567"


def test_patient_and_period_elements() -> None:
    root = read(encoded())
    assert text(root, f"{PATIENT}/nc:PersonBirthDate/nc:Date") == "1980-02-29"
    name = f"{PATIENT}/nc:PersonName"
    assert [text(root, f"{name}/nc:{part}") for part in ("PersonNamePrefixText", "PersonGivenName")] == ["Ms", "Zoë"]
    assert [text(root, f"{name}/nc:{part}") for part in ("PersonMiddleName", "PersonSurName")] == [
        "Anne",
        "O'Brien-Müller",
    ]
    assert text(root, f"{name}/nc:PersonNameSuffixText") == "Jr"
    assert text(root, f"{PATIENT}/j:PersonSexCode") == "F"
    assert text(root, f"{PATIENT}/nc:PersonSSNIdentification/nc:IdentificationID") == "123-45-6789"
    licence = f"{PATIENT}/pmp:PersonDriverLicenseIdentifier"
    assert text(root, f"{licence}/nc:IdentificationID") == "D1234567"
    assert text(root, f"{licence}/nc:IdentificationJurisdiction/nc:LocationStateUSPostalServiceCode") == "NV"
    assert text(root, f"{PATIENT}/pmp:PersonOtherIdentifier/nc:IdentificationID") == "MRN-77"
    assert text(root, f"{PATIENT}/pmp:PersonOtherIdentifier/nc:IdentificationCategoryText") == "MR"
    mailing = f"{CONTACT}/nc:ContactMailingAddress"
    assert text(root, f"{mailing}/nc:LocationStreet/nc:StreetFullText") == "1 Main St"
    assert text(root, f"{mailing}/nc:AddressSecondaryUnitText") == "Apt 2"
    assert text(root, f"{mailing}/nc:LocationCityName") == "Reno"
    assert text(root, f"{mailing}/nc:LocationStateUSPostalServiceCode") == "NV"
    assert text(root, f"{mailing}/nc:LocationPostalCode") == "89501"
    phone = f"{CONTACT}/nc:ContactTelephoneNumber/nc:FullTelephoneNumber/nc:TelephoneNumberFullID"
    assert text(root, phone) == "775-555-0100"
    period = "pmp:RequestPrescriptionDateRange"
    assert text(root, f"{period}/pmp:RequestPrescriptionDateRangeBegin/nc:Date") == "2023-05-01"
    assert text(root, f"{period}/pmp:RequestPrescriptionDateRangeEnd/nc:Date") == "2024-05-01"


def test_the_first_identifier_of_each_kind_is_sent() -> None:
    request = search_request()
    request.patient.identifiers.add(type="SSN", value="999-99-9999")
    request.patient.identifiers.add(type="OTHER", value="X-2")
    request.patient.identifiers.add(type="dl", value="D2", issuer="Nevada")
    root = read(encoded(request))
    assert texts(root, f"{PATIENT}/nc:PersonSSNIdentification/nc:IdentificationID") == ["123-45-6789"]
    assert texts(root, f"{PATIENT}/pmp:PersonOtherIdentifier/nc:IdentificationID") == ["MRN-77"]
    assert texts(root, f"{PATIENT}/pmp:PersonDriverLicenseIdentifier/nc:IdentificationID") == ["D1234567"]


@pytest.mark.parametrize(
    ("role", "taxonomy", "role_text"),
    [
        (pb.ROLE_PHARMACIST, "183500000X", "Pharmacist"),
        (pb.ROLE_LICENSED_DELEGATE, "163W00000X", "Licensed Delegate"),
        (pb.ROLE_UNLICENSED_DELEGATE, "183700000X", "Unlicensed Delegate"),
        (pb.ROLE_LAW_ENFORCEMENT, "", "Law Enforcement"),
        (pb.ROLE_REGULATOR, "", "Regulator"),
        (pb.ROLE_UNSPECIFIED, "", "Unspecified"),
        (pb.ROLE_ADMINISTRATOR, "", "Unspecified"),
    ],
)
def test_the_role_text_and_taxonomy(role: pb.Role.ValueType, taxonomy: str, role_text: str) -> None:
    request = search_request()
    request.requester.role = role
    root = read(encoded(request, taxonomy=taxonomy))
    assert text(root, "pmix:RequesterRole") == role_text
    assert text(root, "pmix:RequesterRoleTaxonomyCode") == (taxonomy or None)


def test_values_are_fitted_to_the_schema() -> None:
    request = search_request()
    request.patient.name.given = "Ann\x00a\tMarie \x85"
    request.patient.name.family = "W" * 150
    request.patient.address.postal_code = "89501-12"  # not a ZIP or ZIP+4: its first 5 digits
    request.patient.address.state = "Nevada"  # not a code: left out
    request.patient.phone = "call 775 555 0100 ext 2"
    request.requester.practitioner.license_state = "Nevada"
    request.requester.organization = "A & B <Clinic>"
    root = read(encoded(request))
    assert text(root, f"{PATIENT}/nc:PersonName/nc:PersonGivenName") == "Ann a Marie"
    assert text(root, f"{PATIENT}/nc:PersonName/nc:PersonSurName") == "W" * 100
    mailing = f"{CONTACT}/nc:ContactMailingAddress"
    assert text(root, f"{mailing}/nc:LocationPostalCode") == "89501"
    assert count(root, f"{mailing}/nc:LocationStateUSPostalServiceCode") == 0
    phone = f"{CONTACT}/nc:ContactTelephoneNumber/nc:FullTelephoneNumber/nc:TelephoneNumberFullID"
    assert text(root, phone) == "77555501002"
    assert count(root, "pmix:Requester/pmp:StateLicenseIdentifier/nc:IdentificationJurisdiction") == 0
    assert text(root, "pmix:RequesterOrganization/nc:OrganizationDoingBusinessAsName") == "A & B <Clinic>"


def test_empty_parts_are_left_out() -> None:
    request = pb.SearchHistoryRequest(patient=pb.PatientQuery(name=pb.HumanName(family="Ng"), birth_date="2001-01-01"))
    root = read(encoded(request, taxonomy=""))
    assert count(root, "pmix:RequesterOrganization") == 0
    assert count(root, "pmix:RequesterRoleTaxonomyCode") == 0
    assert count(root, "pmp:RequestPrescriptionDateRange") == 0
    assert count(root, f"{CONTACT}") == 0
    assert count(root, "pmix:Requester/*") == 0


def test_another_exchange_namespace() -> None:
    root = read(encoded(exchange_ns=OTHER_NS), exchange_ns=OTHER_NS)
    assert root.tag == "{" + OTHER_NS + "}PMPRequest"
    assert text(root, "pmix:RequestID", exchange_ns=OTHER_NS) == "NV-REQ-1"


@pytest.mark.parametrize(
    "patient",
    [
        pb.PatientQuery(patient_id="p-42"),  # an earlier answer's patient: no demographics to send
        pb.PatientQuery(name=pb.HumanName(family="Ng")),
        pb.PatientQuery(name=pb.HumanName(given="Ng"), birth_date="2001-01-01"),
        pb.PatientQuery(name=pb.HumanName(family="Ng"), birth_date="2001-02-30"),
    ],
)
def test_a_patient_a_partner_cannot_match_is_refused(patient: pb.PatientQuery) -> None:
    with pytest.raises(PmpError) as caught:
        encoded(search_request(patient=patient))
    assert caught.value.code == pb.ERROR_CODE_INVALID_REQUEST
    assert "surname and full birth date" in caught.value.detail


@pytest.mark.parametrize(
    ("arguments", "words"),
    [
        ({"request_id": " \x01 "}, "request id"),
        ({"requesting_state": "XX"}, "USPS"),
        ({"disclosing_state": ""}, "USPS"),
        ({"taxonomy": "doctor"}, "NUCC"),
        ({"exchange_ns": "not a uri"}, "namespace"),
        ({"exchange_ns": "http://pmixpmp.org/niem/4.0/extension"}, "namespace"),
        ({"exchange_ns": 'urn:x"y'}, "namespace"),
    ],
)
def test_unusable_routing_values_are_the_callers_mistake(arguments: dict[str, str], words: str) -> None:
    with pytest.raises(ValueError, match=words):
        encoded(**arguments)  # type: ignore[arg-type]
