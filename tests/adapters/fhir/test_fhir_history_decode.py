"""``decode_pdmp_history``: every IG input example decodes; fields map; references, period, roles and delegates."""

from __future__ import annotations

from typing import Any

import pytest
from fhir_test_data import (
    EX1,
    EX2,
    EX4,
    INPUT_EXAMPLES,
    PRESTU1,
    TODAY,
    dumps,
    example,
    example_bytes,
    parameter,
    patient_of,
    with_changes,
)

from adapters.fhir import HistoryParams, decode_pdmp_history
from adapters.fhir.codes import EXT_ACTIVITY_PERIOD, SYSTEM_NUCC
from protos.errors import PmpError
from protos.pmp.v1 import pmp_pb2 as pb


def decode(body: bytes, **kwargs: Any) -> pb.SearchHistoryRequest:
    return decode_pdmp_history(body, today=TODAY, **kwargs).request


def refused(body: bytes, code: int = pb.ERROR_CODE_INVALID_REQUEST, **kwargs: Any) -> PmpError:
    with pytest.raises(PmpError) as caught:
        decode_pdmp_history(body, today=TODAY, **kwargs)
    assert caught.value.code == code, caught.value
    assert caught.value.location, "every refusal says where"
    return caught.value


@pytest.mark.parametrize("path", INPUT_EXAMPLES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_every_ig_input_example_decodes_unchanged(path: Any) -> None:
    params = decode_pdmp_history(path.read_bytes(), today=TODAY)
    assert isinstance(params, HistoryParams)
    assert params.request.patient.name.family
    assert params.request.patient.birth_date == params.request.patient.birth_date.strip()
    assert params.request.requester.practitioner.npi
    assert params.states == ()


def test_the_parameters_inside_the_prestu1_request_message_decode() -> None:
    bundle = example("Bundle-pdmp-bundle-request-message-1", PRESTU1)
    parameters = next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Parameters")
    request = decode(dumps(parameters))
    assert request.patient.name.family == "Samuels"
    # this old example names the practitioner in the role by identifier only: the practitioner parameter decides
    assert request.requester.practitioner.npi == "1928340565"


def test_example_1_maps_every_field() -> None:
    request = decode(example_bytes(EX1))
    assert request.patient == pb.PatientQuery(
        name=pb.HumanName(family="Samuels", given="August"),
        birth_date="1989-03-12",
        gender=pb.GENDER_MALE,
        address=pb.Address(state="MA", postal_code="01059"),
        identifiers=[pb.Identifier(type="SSN", value="120-35-2435")],
    )
    assert request.requester == pb.Requester(
        role=pb.ROLE_UNSPECIFIED,  # no code or specialty in the role: the registry decides
        practitioner=pb.Practitioner(name=pb.HumanName(family="Amster", given="Adam"), npi="1928340565"),
        organization="Highview Clinic",
    )
    assert request.date_range == pb.DateRange(start="2025-11-23", end="2026-11-23")
    assert not request.page_size
    assert not request.page_token


def test_example_2_minimum_maps_every_field() -> None:
    request = decode(example_bytes(EX2))
    assert request.patient == pb.PatientQuery(
        name=pb.HumanName(family="Samuels", given="August"),
        birth_date="1989-03-12",
        gender=pb.GENDER_UNKNOWN,
        identifiers=[pb.Identifier(type="SSN", value="120-35-2435")],
    )
    assert request.requester == pb.Requester(
        practitioner=pb.Practitioner(name=pb.HumanName(family="Amster"), npi="1928340565"),
        organization="Highview Clinic",
    )


def test_example_4_delegate_acts_on_behalf_of_the_authorized_practitioner() -> None:
    request = decode(example_bytes(EX4))
    assert request.patient == pb.PatientQuery(
        name=pb.HumanName(family="Julien", given="Jules"),
        birth_date="1980-05-20",
        gender=pb.GENDER_FEMALE,
        address=pb.Address(line1="10023 Santa Clara Blvd", state="MA", postal_code="01742"),
        identifiers=[pb.Identifier(type="MR", value="10035666601", issuer="http://highview-va.example.org/mrn")],
    )
    assert request.requester == pb.Requester(
        role=pb.ROLE_LICENSED_DELEGATE,  # 163W00000X Registered Nurse
        practitioner=pb.Practitioner(name=pb.HumanName(family="Bartok"), npi="1554505606"),
        on_behalf_of=pb.Practitioner(name=pb.HumanName(family="Kimble"), npi="1665015602"),
        organization="Highview VA Clinic",
    )


# --- roles ---------------------------------------------------------------------------------------------------------


def _with_role(name: str, role_param: str, system: str, code: str, key: str = "specialty") -> bytes:
    def change(data: dict[str, Any]) -> None:
        role = parameter(data, role_param)["resource"]
        role.pop("specialty", None)
        role[key] = [{"coding": [{"system": system, "code": code}]}]

    return with_changes(name, change)


@pytest.mark.parametrize(
    ("system", "code", "role"),
    [
        (SYSTEM_NUCC, "207R00000X", pb.ROLE_PRESCRIBER),  # internal medicine
        (SYSTEM_NUCC, "208D00000X", pb.ROLE_PRESCRIBER),  # general practice
        (SYSTEM_NUCC, "1223G0001X", pb.ROLE_PRESCRIBER),  # general dentist
        (SYSTEM_NUCC, "363L00000X", pb.ROLE_PRESCRIBER),  # nurse practitioner
        (SYSTEM_NUCC, "363A00000X", pb.ROLE_PRESCRIBER),  # physician assistant
        (SYSTEM_NUCC, "183500000X", pb.ROLE_PHARMACIST),
        (SYSTEM_NUCC, "163W00000X", pb.ROLE_UNSPECIFIED),  # a nurse is no authorized practitioner by itself
        (SYSTEM_NUCC, "225100000X", pb.ROLE_UNSPECIFIED),  # physical therapist: not recognised
        ("http://terminology.hl7.org/CodeSystem/practitioner-role", "doctor", pb.ROLE_PRESCRIBER),
        ("http://terminology.hl7.org/CodeSystem/practitioner-role", "pharmacist", pb.ROLE_PHARMACIST),
        ("http://example.org/other", "207R00000X", pb.ROLE_UNSPECIFIED),  # NUCC code, wrong system
    ],
)
def test_authorized_role_from_specialty(system: str, code: str, role: int) -> None:
    request = decode(_with_role(EX1, "authorized-practitioner-role", system, code))
    assert request.requester.role == role


def test_authorized_role_from_code_comes_before_specialty() -> None:
    def change(data: dict[str, Any]) -> None:
        role = parameter(data, "authorized-practitioner-role")["resource"]
        role["code"] = [{"coding": [{"system": SYSTEM_NUCC, "code": "183500000X"}]}]
        role["specialty"] = [{"coding": [{"system": SYSTEM_NUCC, "code": "207R00000X"}]}]

    assert decode(with_changes(EX1, change)).requester.role == pb.ROLE_PHARMACIST


@pytest.mark.parametrize(
    ("code", "role"),
    [
        ("163W00000X", pb.ROLE_LICENSED_DELEGATE),
        ("164W00000X", pb.ROLE_LICENSED_DELEGATE),
        ("183500000X", pb.ROLE_LICENSED_DELEGATE),
        ("207R00000X", pb.ROLE_LICENSED_DELEGATE),
        ("183700000X", pb.ROLE_UNLICENSED_DELEGATE),  # pharmacy technician
        ("171M00000X", pb.ROLE_UNLICENSED_DELEGATE),  # not recognised: the narrower delegate role
    ],
)
def test_delegate_role(code: str, role: int) -> None:
    request = decode(_with_role(EX4, "delegate-practitioner-role", SYSTEM_NUCC, code))
    assert request.requester.role == role


def test_delegate_without_a_role_is_an_unlicensed_delegate() -> None:
    def change(data: dict[str, Any]) -> None:
        data["parameter"] = [p for p in data["parameter"] if p["name"] != "delegate-practitioner-role"]

    requester = decode(with_changes(EX4, change)).requester
    assert requester.role == pb.ROLE_UNLICENSED_DELEGATE
    assert requester.on_behalf_of.npi == "1665015602"


@pytest.mark.parametrize("stray", ["delegate-practitioner-role", "delegate-organization"])
def test_delegate_details_without_the_delegate_are_refused(stray: str) -> None:
    def change(data: dict[str, Any]) -> None:
        data["parameter"] = [p for p in data["parameter"] if p["name"] != "delegate-practitioner"]

    error = refused(with_changes(EX4, change))
    assert "delegate-practitioner" in error.detail


# --- practitioner identifiers --------------------------------------------------------------------------------------


def test_practitioner_dea_and_state_licence() -> None:
    def change(data: dict[str, Any]) -> None:
        practitioner = parameter(data, "authorized-practitioner")["resource"]
        practitioner["identifier"] += [
            {"system": "urn:oid:2.16.840.1.113883.4.814", "value": "BA1234563"},
            {
                "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "SL"}]},
                "system": "http://example.org/ut-dopl",
                "value": "1234567-1205",
                "extension": [
                    {
                        "url": "http://hl7.org/fhir/us/core/StructureDefinition/us-core-jurisdiction",
                        "valueCodeableConcept": {"coding": [{"system": "https://www.usps.com/", "code": "UT"}]},
                    }
                ],
            },
        ]

    practitioner = decode(with_changes(EX1, change)).requester.practitioner
    assert (practitioner.npi, practitioner.dea) == ("1928340565", "BA1234563")
    assert (practitioner.state_license, practitioner.license_state) == ("1234567-1205", "UT")


def test_practitioner_dea_by_the_ig_naming_system_and_licence_in_a_qualification() -> None:
    def change(data: dict[str, Any]) -> None:
        practitioner = parameter(data, "authorized-practitioner")["resource"]
        practitioner["identifier"] = [{"system": "http://terminology.hl7.org/NamingSystem/usdeanumber", "value": "X9"}]
        practitioner["qualification"] = [
            {
                "code": {"text": "MD"},
                "issuer": {"display": "MA"},
                "identifier": [
                    {
                        "type": {"coding": [{"code": "MD"}]},
                        "value": "L-77",
                    }
                ],
            }
        ]

    practitioner = decode(with_changes(EX1, change)).requester.practitioner
    assert (practitioner.npi, practitioner.dea, practitioner.state_license, practitioner.license_state) == (
        "",
        "X9",
        "L-77",
        "MA",
    )


# --- patient -------------------------------------------------------------------------------------------------------


def test_patient_name_address_phone_and_identifiers_are_picked_sensibly() -> None:
    def change(data: dict[str, Any]) -> None:
        patient = patient_of(data)
        patient["name"] = [
            {"use": "maiden", "family": "Old", "given": ["Augusta"]},
            {"use": "official", "family": "Samuels", "given": ["August", "T", "J"], "prefix": ["Mr"], "suffix": ["Jr"]},
        ]
        patient["address"] = [
            {"use": "work", "line": ["1 Office Park"], "city": "Boston"},
            {"use": "home", "line": ["10 Main St", "Apt 4", "Rear"], "city": "Ogden", "state": "UT", "country": "US"},
        ]
        patient["telecom"] = [{"system": "email", "value": "a@example.org"}, {"system": "phone", "value": "801-555"}]
        patient["identifier"].append(
            {
                "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "DL"}]},
                "system": "urn:oid:2.16.840.1.113883.4.3.49",
                "value": "D1234",
                "assigner": {"display": "UT"},
            }
        )

    patient = decode(with_changes(EX1, change)).patient
    assert patient.name == pb.HumanName(family="Samuels", given="August", middle="T J", prefix="Mr", suffix="Jr")
    assert patient.address == pb.Address(line1="10 Main St", line2="Apt 4 Rear", city="Ogden", state="UT", country="US")
    assert patient.phone == "801-555"
    assert list(patient.identifiers)[1] == pb.Identifier(type="DL", value="D1234", issuer="UT")


def test_other_gender_is_unknown_to_the_store() -> None:
    body = with_changes(EX1, lambda d: patient_of(d).update(gender="other"))
    assert decode(body).patient.gender == pb.GENDER_UNKNOWN


def test_birth_date_may_be_absent_with_a_data_absent_reason() -> None:
    def change(data: dict[str, Any]) -> None:
        patient = patient_of(data)
        del patient["birthDate"]
        patient["_birthDate"] = {
            "extension": [{"url": "http://hl7.org/fhir/StructureDefinition/data-absent-reason", "valueCode": "unknown"}]
        }

    assert decode(with_changes(EX1, change)).patient.birth_date == ""


# --- references ----------------------------------------------------------------------------------------------------


def _as_reference(name: str, reference: str, *, carry_as: str = "carried") -> bytes:
    """Example 1 with ``name``'s resource moved to a parameter ``carry_as`` and referenced."""

    def change(data: dict[str, Any]) -> None:
        target = parameter(data, name)
        resource = target.pop("resource")
        target["valueReference"] = {"reference": reference}
        data["parameter"].append({"name": carry_as, "resource": resource})

    return with_changes(EX1, change)


@pytest.mark.parametrize(
    "reference", ["Patient/patient-req-1", "#patient-req-1", "urn:uuid:patient-req-1"], ids=["type-id", "hash", "urn"]
)
def test_patient_by_reference(reference: str) -> None:
    assert decode(_as_reference("patient", reference)) == decode(example_bytes(EX1))


def test_practitioner_by_reference_to_a_resource_in_an_unnamed_parameter() -> None:
    body = _as_reference("authorized-practitioner", "Practitioner/practitioner-req-1", carry_as="resources")
    assert decode(body).requester.practitioner.npi == "1928340565"


def test_patient_by_urn_uuid_matching_a_uuid_id() -> None:
    uid = "0b8f3c2e-9b1d-4c7a-8f00-1d2e3f4a5b6c"

    def move(data: dict[str, Any]) -> None:
        target = parameter(data, "patient")
        resource = target.pop("resource")
        resource["id"] = uid
        target["valueReference"] = {"reference": f"urn:uuid:{uid}"}
        data["parameter"].append({"name": "patient-data", "resource": resource})

    assert decode(with_changes(EX1, move)).patient == decode(example_bytes(EX1)).patient


@pytest.mark.parametrize(
    ("reference", "phrase"),
    [
        ("Patient/nobody", "references no resource"),
        ("Practitioner/patient-req-1", "references no resource"),
        ("#practitioner-req-1", "must reference a Patient"),
        ("http://ehr.example.org/fhir/Patient/patient-req-1", "must reference a resource carried"),
        ("", "has no reference"),
    ],
)
def test_unresolvable_references_are_refused(reference: str, phrase: str) -> None:
    error = refused(_as_reference("patient", reference))
    assert phrase in error.detail
    assert error.location[0].startswith("Parameters.parameter[0].valueReference")


def test_an_identifier_only_reference_is_refused() -> None:
    def change(data: dict[str, Any]) -> None:
        target = parameter(data, "patient")
        del target["resource"]
        target["valueReference"] = {"identifier": {"system": "http://hl7.org/fhir/sid/us-ssn", "value": "1"}}

    assert "has no reference" in refused(with_changes(EX1, change)).detail


def test_an_ambiguous_reference_is_refused() -> None:
    def change(data: dict[str, Any]) -> None:
        target = parameter(data, "patient")
        resource = target.pop("resource")
        target["valueReference"] = {"reference": "#patient-req-1"}
        data["parameter"] += [{"name": "a", "resource": resource}, {"name": "b", "resource": resource}]

    assert "more than one" in refused(with_changes(EX1, change)).detail


def test_resource_and_reference_together_are_refused() -> None:
    body = with_changes(EX1, lambda d: parameter(d, "patient").update(valueReference={"reference": "#x"}))
    assert "both" in refused(body).detail


# --- the report period -------------------------------------------------------------------------------------------


def _with_period(period: Any, name: str = "patient") -> bytes:
    def change(data: dict[str, Any]) -> None:
        parameter(data, name)["extension"] = [{"url": EXT_ACTIVITY_PERIOD, "valuePeriod": period}]

    return with_changes(EX1, change)


@pytest.mark.parametrize(
    ("period", "expected"),
    [
        ({"start": "2026-01-01", "end": "2026-06-30"}, ("2026-01-01", "2026-06-30")),
        ({"start": "2026-01", "end": "2026-02"}, ("2026-01-01", "2026-02-28")),
        ({"start": "2025", "end": "2025"}, ("2025-01-01", "2025-12-31")),
        ({"start": "2026-01-01T10:00:00-07:00"}, ("2026-01-01", "2026-11-23")),
        ({"end": "2026-06-30"}, ("2025-06-30", "2026-06-30")),
        ({}, ("2025-11-23", "2026-11-23")),
    ],
)
def test_activity_period_extension_on_the_patient_parameter(period: Any, expected: tuple[str, str]) -> None:
    assert decode(_with_period(period)).date_range == pb.DateRange(start=expected[0], end=expected[1])


def test_activity_period_extension_on_another_parameter() -> None:
    body = _with_period({"start": "2026-01-01", "end": "2026-02-01"}, name="pre-stage-only")
    assert decode(body).date_range == pb.DateRange(start="2026-01-01", end="2026-02-01")


def test_default_period_follows_the_settings() -> None:
    request = decode(example_bytes(EX1), default_lookback_days=30)
    assert request.date_range == pb.DateRange(start="2026-10-24", end="2026-11-23")


@pytest.mark.parametrize(
    ("period", "phrase"),
    [
        ({"start": "2026-06-01", "end": "2026-01-01"}, "starts after it ends"),
        ({"start": "2020-01-01", "end": "2026-01-01"}, "longer than the 1098 days"),
        ({"start": "2026-13"}, "not a valid calendar date"),
        ({"start": "01/02/2026"}, "not a FHIR date"),
        ({"start": 20260101}, "must be a string"),
        ("2026", "must be a JSON object"),
    ],
)
def test_bad_periods_are_refused(period: Any, phrase: str) -> None:
    error = refused(_with_period(period))
    assert phrase in error.detail
    assert error.location[0].startswith("Parameters.parameter[0].extension[0]")


def test_a_period_longer_than_max_lookback_is_refused() -> None:
    body = _with_period({"start": "2026-01-01", "end": "2026-03-01"})
    assert "longer than the 30 days" in refused(body, max_lookback_days=30).detail


def test_two_periods_are_refused() -> None:
    def change(data: dict[str, Any]) -> None:
        ext = {"url": EXT_ACTIVITY_PERIOD, "valuePeriod": {"start": "2026-01-01"}}
        parameter(data, "patient")["extension"] = [ext]
        parameter(data, "authorized-practitioner")["extension"] = [ext]

    assert "repeated" in refused(with_changes(EX1, change)).detail


# --- pre-stage -----------------------------------------------------------------------------------------------------


def test_pre_stage_only_true_is_unsupported() -> None:
    body = with_changes(EX1, lambda d: parameter(d, "pre-stage-only").update(valueBoolean=True))
    error = refused(body, code=pb.ERROR_CODE_UNSUPPORTED)
    assert error.location == ("Parameters.parameter[4]",)


def test_pre_stage_retrieval_key_is_unsupported() -> None:
    body = with_changes(
        EX1, lambda d: d["parameter"].append({"name": "pre-stage-retrieval-key", "valueString": "0938e860"})
    )
    refused(body, code=pb.ERROR_CODE_UNSUPPORTED)


def test_pre_stage_only_must_be_boolean() -> None:
    body = with_changes(EX1, lambda d: parameter(d, "pre-stage-only").update(valueBoolean="false"))
    assert "valueBoolean" in refused(body).detail


def test_unknown_parameters_are_ignored() -> None:
    body = with_changes(EX1, lambda d: d["parameter"].append({"name": "x-vendor-thing", "valueString": "anything"}))
    assert decode(body) == decode(example_bytes(EX1))
