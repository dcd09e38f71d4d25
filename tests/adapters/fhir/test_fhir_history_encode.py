"""``encode_pdmp_history``: every output validates as R4B; the shapes of IG examples 1, 3 and 6; the resources'
fields; references resolve inside the Bundle; equal answers are equal bytes."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import orjson
import pytest
from fhir_test_data import (
    MATCHED,
    NOW,
    PHARMACIES,
    SOURCE,
    dispensation,
    found,
    history_bundle,
    history_request,
    outcome_of,
    resources_of,
    valid_parameters,
)

from adapters.fhir import encode_pdmp_history
from adapters.fhir._ids import NAMESPACE, is_fhir_id, uuid5_urn
from adapters.fhir.codes import (
    EXT_ACTIVITY_PERIOD,
    EXT_FILL_NUMBER,
    EXT_HEADER_TIMESTAMP,
    EXT_METHOD_OF_PAYMENT,
    EXT_TRANSMISSION_METHOD,
    PROFILE_BUNDLE_RESULT,
    PROFILE_MEDICATION_DISPENSE,
    PROFILE_PARAMETERS_RESPONSE,
    PROFILE_PDMP_PATIENT,
    PROFILE_PHARMACY,
    SYSTEM_DEA,
    SYSTEM_NCPDP,
    SYSTEM_NDC,
    SYSTEM_NPI,
    SYSTEM_PMIX_STATUS,
)
from protos.pmp.v1 import pmp_pb2 as pb


def encode(response: pb.SearchHistoryResponse, now: datetime = NOW, patient_id: str = "1042") -> dict[str, Any]:
    body = encode_pdmp_history(response, request=history_request(), patient_id=patient_id, source=SOURCE, now=now)
    return valid_parameters(body)


def pmix(issue: dict[str, Any]) -> str:
    (coding,) = issue["details"]["coding"]
    assert coding["system"] == SYSTEM_PMIX_STATUS
    code: str = coding["code"]
    return code


def test_found_answer_has_data_and_a_complete_outcome_like_example_1() -> None:
    out = encode(found())
    assert out["meta"]["profile"] == [PROFILE_PARAMETERS_RESPONSE]
    assert [p["name"] for p in out["parameter"]] == ["pdmp-history-data", "outcome"]
    bundle = history_bundle(out)
    assert bundle["type"] == "collection"
    assert bundle["meta"]["profile"] == [PROFILE_BUNDLE_RESULT]
    assert bundle["timestamp"] == "2026-11-23T15:04:05Z"
    (issue,) = outcome_of(out)["issue"]
    assert (issue["severity"], issue["code"], pmix(issue)) == ("information", "informational", "complete")


def test_the_bundle_holds_one_of_each_thing() -> None:
    bundle = history_bundle(encode(found()))
    assert len(resources_of(bundle, "Patient")) == 1
    assert len(resources_of(bundle, "MedicationDispense")) == 25
    assert len(resources_of(bundle, "Organization")) == 3
    assert len(resources_of(bundle, "Practitioner")) == 2
    assert len(resources_of(bundle, "MedicationRequest")) == 13  # two fills per prescription number
    urls = [e["fullUrl"] for e in bundle["entry"]]
    assert len(urls) == len(set(urls))
    assert all(uuid.UUID(u.removeprefix("urn:uuid:")).version == 5 for u in urls)


def test_every_reference_resolves_inside_the_bundle() -> None:
    bundle = history_bundle(encode(found()))
    urls = {e["fullUrl"] for e in bundle["entry"]}
    references: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            if isinstance(value.get("reference"), str):
                references.append(value["reference"])
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)

    walk(bundle)
    assert len(references) > 100
    assert set(references) <= urls


def test_patient_is_the_match_with_its_id() -> None:
    (patient,) = resources_of(history_bundle(encode(found())), "Patient")
    assert patient["id"] == "1042"
    assert patient["meta"]["profile"][0] == PROFILE_PDMP_PATIENT
    assert patient["meta"]["source"] == SOURCE
    assert patient["name"] == [{"family": "Samuels", "given": ["August", "Thomas"]}]
    assert (patient["gender"], patient["birthDate"]) == ("male", "1989-03-12")
    assert patient["address"] == [
        {"line": ["10 Main St"], "city": "Ogden", "state": "UT", "postalCode": "84401", "country": "US"}
    ]


def test_medication_dispense_fields() -> None:
    bundle = history_bundle(encode(found()))
    by_id = {r["id"]: r for r in resources_of(bundle, "MedicationDispense")}
    md = by_id["50001"]  # i=1: refill 1, drug 1, Oak Street, Fiorella, sold, not partial, mL
    assert md["meta"] == {"profile": [PROFILE_MEDICATION_DISPENSE], "source": SOURCE}
    assert md["status"] == "completed"
    assert md["extension"] == [
        {"url": EXT_FILL_NUMBER, "valuePositiveInt": 1},
        {
            "url": EXT_TRANSMISSION_METHOD,
            "valueCoding": {
                "system": "http://terminology.hl7.org/CodeSystem/PMIXTransmissionFormRxOriginCodeType",
                "code": "01",
                "display": "Written Prescription",
            },
        },
        {
            "url": EXT_METHOD_OF_PAYMENT,
            "valueCoding": {
                "system": "http://terminology.hl7.org/CodeSystem/PMIXMethodofPayment",
                "code": "02",
                "display": "Medicaid",
            },
        },
    ]
    assert md["medicationCodeableConcept"] == {
        "coding": [
            {
                "system": SYSTEM_NDC,
                "code": "00093015001",
                "display": "Acetaminophen 300 mg / Codeine 30 mg tablet",
                "userSelected": True,
            }
        ],
        "text": "Acetaminophen 300 mg / Codeine 30 mg tablet",
    }
    assert md["quantity"] == {"value": 30, "unit": "mL", "system": "http://unitsofmeasure.org", "code": "mL"}
    assert md["daysSupply"] == {"value": 30, "unit": "days", "system": "http://unitsofmeasure.org", "code": "d"}
    assert (md["whenPrepared"], md["whenHandedOver"]) == ("2026-02-02", "2026-02-03")
    assert md["type"]["coding"][0]["code"] == "RF"
    assert md["identifier"][0]["value"] == "RX1000"
    assert md["identifier"][0]["type"]["coding"][0]["code"] == "FILL"
    assert md["subject"]["display"] == "August Thomas Samuels"
    (performer,) = md["performer"]
    assert performer["actor"]["identifier"] == {"system": SYSTEM_NCPDP, "value": "4512345"}
    assert performer["actor"]["display"] == "Oak Street Pharmacy"
    assert "note" not in md
    assert "pdmp-extension-mme" not in orjson.dumps(bundle).decode()


def test_original_partial_revised_unsold_and_unknown_drug() -> None:
    bundle = history_bundle(encode(found()))
    by_id = {r["id"]: r for r in resources_of(bundle, "MedicationDispense")}
    md = by_id["50000"]  # i=0: original fill, partial, revised, not sold, no drug reference, 12.5 each
    assert not any(e["url"] == EXT_FILL_NUMBER for e in md["extension"])  # positiveInt: no 0
    assert md["type"]["coding"][0]["code"] == "FFP"
    assert md["note"] == [{"text": "The pharmacy corrected this dispensation after first reporting it."}]
    assert "whenHandedOver" not in md
    assert md["_whenHandedOver"]["extension"][0]["valueCode"] == "unknown"
    assert md["medicationCodeableConcept"]["text"] == "NDC 00591038501"
    assert md["medicationCodeableConcept"]["coding"][0]["system"] == "http://www.nlm.nih.gov/research/umls/rxnorm"
    assert md["quantity"] == {"value": 12.5, "unit": "each"}
    assert md["daysSupply"]["value"] == 5


def test_pharmacies_and_prescribers() -> None:
    bundle = history_bundle(encode(found()))
    pharmacies = {r["name"]: r for r in resources_of(bundle, "Organization")}
    oak = pharmacies["Oak Street Pharmacy"]
    assert oak["meta"]["profile"] == [PROFILE_PHARMACY]
    assert oak["identifier"] == [
        {"system": SYSTEM_NPI, "value": "1669512349"},
        {"system": SYSTEM_NCPDP, "value": "4512345"},
        {"system": SYSTEM_DEA, "value": "BO1234563"},
    ]
    assert oak["telecom"] == [{"system": "phone", "value": "801-555-0100"}]
    assert oak["address"] == [{"line": ["220 Oak St"], "city": "Salt Lake City", "state": "UT", "postalCode": "84101"}]
    practitioners = resources_of(bundle, "Practitioner")
    fiorella = next(p for p in practitioners if p["name"][0]["family"] == "Fiorella")
    assert fiorella["identifier"][:2] == [
        {"system": SYSTEM_NPI, "value": "9941339100"},
        {"system": SYSTEM_DEA, "value": "CF1234563"},
    ]
    assert fiorella["identifier"][2]["value"] == "12345-MD"
    assert fiorella["identifier"][2]["assigner"] == {"display": "UT"}


def test_medication_request_is_the_authorizing_prescription() -> None:
    bundle = history_bundle(encode(found()))
    entries = {e["fullUrl"]: e["resource"] for e in bundle["entry"]}
    md = next(r for r in resources_of(bundle, "MedicationDispense") if r["id"] == "50003")
    (prescription,) = md["authorizingPrescription"]
    request = entries[prescription["reference"]]
    assert request["resourceType"] == "MedicationRequest"
    assert (request["status"], request["intent"]) == ("unknown", "order")
    assert request["authoredOn"] == "2026-02-01"
    assert request["identifier"][0]["value"] == "RX1001"
    assert request["dispenseRequest"] == {"numberOfRepeatsAllowed": 2}
    assert entries[request["requester"]["reference"]]["resourceType"] == "Practitioner"
    assert request["subject"] == md["subject"]
    original = next(r for r in resources_of(bundle, "MedicationDispense") if r["id"] == "50002")
    assert original["authorizingPrescription"] == md["authorizingPrescription"]  # RX1001 at Canyon Drug, twice
    assert original["type"]["coding"][0]["code"] == "FF"


def test_the_same_rx_number_at_another_pharmacy_is_another_prescription() -> None:
    first, second = dispensation(0), dispensation(1)
    second.pharmacy.CopyFrom(PHARMACIES[2])
    response = pb.SearchHistoryResponse(
        match_status=pb.MATCH_STATUS_FOUND, patients=[MATCHED], dispensations=[first, second]
    )
    bundle = history_bundle(encode(response))
    assert len(resources_of(bundle, "MedicationRequest")) == 2


def test_a_warning_says_how_many_were_left_out_like_example_6() -> None:
    out = encode(found(25, total=40))
    complete, warning = outcome_of(out)["issue"]
    assert pmix(complete) == "complete"
    assert (warning["severity"], warning["code"]) == ("warning", "incomplete")
    assert "15 were left out" in warning["diagnostics"]
    assert "Narrow the period" in warning["diagnostics"]
    assert len(resources_of(history_bundle(out), "MedicationDispense")) == 25


@pytest.mark.parametrize(
    "response",
    [
        pb.SearchHistoryResponse(match_status=pb.MATCH_STATUS_NOT_FOUND),
        pb.SearchHistoryResponse(match_status=pb.MATCH_STATUS_FOUND, patients=[MATCHED]),
        pb.SearchHistoryResponse(),
    ],
    ids=["not-found", "found-without-dispensations", "unspecified"],
)
def test_no_data_has_no_bundle_like_example_3(response: pb.SearchHistoryResponse) -> None:
    out = encode(response, patient_id="")
    assert [p["name"] for p in out["parameter"]] == ["outcome"]
    (issue,) = outcome_of(out)["issue"]
    assert (issue["severity"], issue["code"], pmix(issue)) == ("information", "informational", "no-data")


def test_not_found_and_found_without_data_look_the_same() -> None:
    body = {
        encode_pdmp_history(r, request=history_request(), patient_id="", source=SOURCE, now=NOW)
        for r in (
            pb.SearchHistoryResponse(match_status=pb.MATCH_STATUS_NOT_FOUND),
            pb.SearchHistoryResponse(match_status=pb.MATCH_STATUS_FOUND, patients=[MATCHED], total_dispensations=0),
        )
    }
    assert len(body) == 1


def test_ambiguous_is_deferred_without_the_candidates() -> None:
    candidates = [
        pb.MatchedPatient(id="7", name=pb.HumanName(family="Samuels", given="Augusta"), birth_date="1989-03-12"),
        pb.MatchedPatient(id="8", name=pb.HumanName(family="Samuelson", given="August"), birth_date="1989-03-21"),
    ]
    response = pb.SearchHistoryResponse(match_status=pb.MATCH_STATUS_AMBIGUOUS, patients=candidates)
    body = encode_pdmp_history(response, request=history_request(), patient_id="", source=SOURCE, now=NOW)
    out = valid_parameters(body)
    (issue,) = outcome_of(out)["issue"]
    assert (issue["code"], pmix(issue)) == ("multiple-matches", "deferred")
    assert "manual review" in issue["diagnostics"]
    for secret in (b"Augusta", b"Samuelson", b"1989-03-21", b'"7"', b'"8"'):
        assert secret not in body


def test_the_period_and_the_time_are_on_the_first_parameter() -> None:
    for response in (found(), pb.SearchHistoryResponse(match_status=pb.MATCH_STATUS_NOT_FOUND)):
        first = encode(response)["parameter"][0]
        assert first["extension"] == [
            {"url": EXT_ACTIVITY_PERIOD, "valuePeriod": {"start": "2025-11-23", "end": "2026-11-23"}},
            {"url": EXT_HEADER_TIMESTAMP, "valueDateTime": "2026-11-23T15:04:05Z"},
        ]


def test_a_naive_now_is_utc() -> None:
    out = encode(found(1), now=datetime(2026, 1, 2, 3, 4, 5))
    assert history_bundle(out)["timestamp"] == "2026-01-02T03:04:05Z"


def test_determinism_same_answer_same_bytes() -> None:
    def render() -> bytes:
        return encode_pdmp_history(found(), request=history_request(), patient_id="1042", source=SOURCE, now=NOW)

    assert render() == render()


def test_full_urls_depend_on_the_source() -> None:
    one = encode_pdmp_history(found(1), request=history_request(), patient_id="1042", source="a", now=NOW)
    two = encode_pdmp_history(found(1), request=history_request(), patient_id="1042", source="b", now=NOW)
    urls = [{e["fullUrl"] for e in history_bundle(orjson.loads(body))["entry"]} for body in (one, two)]
    assert not urls[0] & urls[1]


def test_minimal_dispensation_still_validates() -> None:
    """What minimum-necessary may leave: only what the state rule discloses, many fields cleared."""
    d = pb.Dispensation(id="x y", ndc="", quantity=1.0, date_filled="2026-01-01")
    response = pb.SearchHistoryResponse(match_status=pb.MATCH_STATUS_FOUND, dispensations=[d], total_dispensations=1)
    out = encode(response, patient_id="not an id!")
    bundle = history_bundle(out)
    (md,) = resources_of(bundle, "MedicationDispense")
    assert "id" not in md  # not a FHIR id
    assert md["medicationCodeableConcept"] == {"text": "Medication not identified"}
    assert "performer" not in md
    assert "authorizingPrescription" not in md
    (patient,) = resources_of(bundle, "Patient")
    assert "id" not in patient
    assert patient["_birthDate"]["extension"][0]["valueCode"] == "unknown"


def test_a_pharmacy_known_only_by_name() -> None:
    d = dispensation(3)
    d.pharmacy.CopyFrom(pb.Pharmacy(name="Corner Drug"))
    response = pb.SearchHistoryResponse(match_status=pb.MATCH_STATUS_FOUND, patients=[MATCHED], dispensations=[d])
    bundle = history_bundle(encode(response))
    (org,) = resources_of(bundle, "Organization")
    assert "identifier" not in org
    (md,) = resources_of(bundle, "MedicationDispense")
    assert md["performer"][0]["actor"]["display"] == "Corner Drug"


def test_a_prescriber_known_only_by_name_is_a_display() -> None:
    d = dispensation(1)
    d.prescriber.CopyFrom(pb.Practitioner(name=pb.HumanName(family="Nguyen", given="An")))
    d.quantity = float("nan")
    response = pb.SearchHistoryResponse(match_status=pb.MATCH_STATUS_FOUND, patients=[MATCHED], dispensations=[d])
    bundle = history_bundle(encode(response))
    assert resources_of(bundle, "Practitioner") == []
    (request,) = resources_of(bundle, "MedicationRequest")
    assert request["requester"] == {"display": "An Nguyen"}
    (md,) = resources_of(bundle, "MedicationDispense")
    assert md["quantity"] == {"unit": "mL", "system": "http://unitsofmeasure.org", "code": "mL"}


def test_uuid5_urn_equals_the_standard_library() -> None:
    for name in ("", "a", "https://pmp.example.gov/fhir|Patient|1042", "é" * 100):
        assert uuid5_urn(name) == f"urn:uuid:{uuid.uuid5(NAMESPACE, name)}"


@pytest.mark.parametrize(
    ("value", "ok"),
    [("1042", True), ("a-b.C", True), ("x" * 64, True), ("x" * 65, False), ("", False), ("a b", False), ("ä", False)],
)
def test_fhir_ids(value: str, ok: bool) -> None:
    assert is_fhir_id(value) is ok
