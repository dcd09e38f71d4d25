"""The FHIR codec's interstate parts: ``pdmp-states`` in, the asking side of ``$pdmp-history`` (the request we send
a partner hub, the answer we read back) and a merged answer with ``meta.source`` per state and the IG's example-6
warning for a missing state. Every output is validated with fhir.resources (R4B)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.fhir import decode_pdmp_history, encode_pdmp_history
from adapters.fhir.history_answer import UNREADABLE, outcome_status, read_history_answer
from adapters.fhir.history_request import encode_history_request
from adapters.fhir.outcome import encode_outcome
from adapters.fhir.sources import state_source
from protos.errors import PmpError
from protos.pmp.v1 import pmp_pb2 as pb
from tests.adapters.fhir.fhir_test_data import (
    EX1,
    MATCHED,
    NOW,
    SOURCE,
    TODAY,
    dispensation,
    example,
    found,
    history_bundle,
    history_request,
    outcome_of,
    resources_of,
    valid_parameters,
)

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def with_states(*values: Any) -> bytes:
    data = example(EX1)
    data["parameter"].extend({"name": "pdmp-states", "valueCode": v} for v in values)
    return orjson.dumps(data)


# --- pdmp-states in ------------------------------------------------------------------------------------------------


def test_pdmp_states_name_the_partner_states() -> None:
    params = decode_pdmp_history(with_states("CO", "nm"), today=TODAY)
    assert list(params.request.states) == ["CO", "NM"] and params.states == ("CO", "NM")
    assert list(decode_pdmp_history(with_states("NONE"), today=TODAY).request.states) == ["NONE"]
    assert not decode_pdmp_history(orjson.dumps(example(EX1)), today=TODAY).request.states


@pytest.mark.parametrize(("values", "problem"), [(("C0",), "two-letter"), (("NONE", "CO"), "NONE"), ((7,), "string")])
def test_bad_pdmp_states_are_invalid_requests(values: tuple[Any, ...], problem: str) -> None:
    with pytest.raises(PmpError, match=problem) as refused:
        decode_pdmp_history(with_states(*values), today=TODAY)
    assert refused.value.code == pb.ERROR_CODE_INVALID_REQUEST and refused.value.location


# --- the request we send -------------------------------------------------------------------------------------------

PRACTITIONER = pb.Practitioner(
    name=pb.HumanName(family="Amster", given="Adam"),
    npi="1928340565",
    dea="BA1234563",
    state_license="12345-MD",
    license_state="UT",
)


@pytest.mark.parametrize(
    "requester",
    [
        pb.Requester(role=pb.ROLE_PRESCRIBER, practitioner=PRACTITIONER, organization="Valley Clinic"),
        pb.Requester(role=pb.ROLE_PHARMACIST, practitioner=PRACTITIONER),
        pb.Requester(
            role=pb.ROLE_LICENSED_DELEGATE,
            practitioner=pb.Practitioner(name=pb.HumanName(family="Nurse", given="Nora")),
            on_behalf_of=PRACTITIONER,
        ),
    ],
)
def test_the_request_we_send_decodes_to_the_same_search(requester: pb.Requester) -> None:
    taxonomy = {pb.ROLE_PRESCRIBER: "208D00000X", pb.ROLE_PHARMACIST: "183500000X"}.get(requester.role, "163W00000X")
    asked = pb.SearchHistoryRequest(
        patient=pb.PatientQuery(
            name=pb.HumanName(family="Samuels", given="August", middle="Thomas", suffix="Jr"),
            birth_date="1989-03-12",
            gender=pb.GENDER_MALE,
            address=pb.Address(line1="10 Main St", city="Ogden", state="UT", postal_code="84401"),
            phone="8015550100",
            identifiers=[pb.Identifier(type="DL", value="D1234", issuer="UT"), pb.Identifier(type="SSN", value="1")],
        ),
        requester=requester,
        date_range=pb.DateRange(start="2025-01-01", end="2026-01-01"),
        states=["CO"],  # never forwarded: the partner must not fan out again
    )
    body = encode_history_request(asked, taxonomy=taxonomy)
    valid_parameters(body)
    decoded = decode_pdmp_history(body, today=TODAY).request
    assert decoded.patient == asked.patient
    assert decoded.date_range == asked.date_range
    assert decoded.requester == requester
    assert list(decoded.states) == ["NONE"]  # the partner is told to answer from its own state only


# --- the answer we read back ---------------------------------------------------------------------------------------


def comparable(d: pb.Dispensation) -> pb.Dispensation:
    """What the wire carries of a dispensation (the codec's own rendering rules)."""
    out = pb.Dispensation()
    out.CopyFrom(d)
    for name in ("patient_id", "source_state", "pharmacist_npi"):
        out.ClearField(name)  # type: ignore[arg-type]
    if out.HasField("drug"):
        out.drug.CopyFrom(pb.Drug(name=d.drug.name, ndc=d.ndc))
    out.partial_fill = "01" if d.partial_fill not in ("", "00") else ""
    return out


def test_an_answer_rendered_by_this_codec_reads_back_unchanged() -> None:
    response = found(25)
    body = encode_pdmp_history(response, request=history_request(), patient_id="p1", source=SOURCE, now=NOW)
    answer = read_history_answer(body)
    assert answer.status == "complete"
    assert [comparable(d) for d in response.dispensations] == list(answer.dispensations)
    assert answer.patient is not None and answer.patient.name == MATCHED.name


DISPENSATIONS = st.builds(
    pb.Dispensation,
    id=st.from_regex(r"[0-9]{1,12}", fullmatch=True),
    rx_number=st.text(st.characters(min_codepoint=48, max_codepoint=90), min_size=1, max_size=12),
    date_filled=st.dates().map(lambda d: d.isoformat()),
    date_sold=st.one_of(st.just(""), st.dates().map(lambda d: d.isoformat())),
    date_written=st.one_of(st.just(""), st.dates().map(lambda d: d.isoformat())),
    refill_number=st.integers(0, 99),
    refills_authorized=st.integers(0, 99),
    ndc=st.from_regex(r"[0-9]{11}", fullmatch=True),
    product_id_qualifier=st.just("01"),
    quantity=st.floats(0.5, 10_000, allow_nan=False).map(lambda q: round(q, 3)),
    quantity_unit=st.sampled_from(["01", "02", "03"]),
    days_supply=st.integers(1, 365),
    payment_type=st.sampled_from(["", "01", "02", "99"]),
    transmission_form=st.sampled_from(["", "01", "05"]),
    status=st.sampled_from(["reported", "revised"]),
    pharmacy=st.builds(pb.Pharmacy, ncpdp=st.from_regex(r"[0-9]{7}", fullmatch=True), name=st.just("DRUG CO")),
    prescriber=st.builds(pb.Practitioner, npi=st.from_regex(r"[0-9]{10}", fullmatch=True)),
)


@FUZZ
@given(st.lists(DISPENSATIONS, min_size=1, max_size=8, unique_by=lambda d: d.id))
def test_property_any_rendered_answer_reads_back(dispensations: list[pb.Dispensation]) -> None:
    for d in dispensations:  # the person's demographics on each record, as pmpdb sends them
        d.patient_name.CopyFrom(MATCHED.name)
        d.patient_birth_date, d.patient_gender = MATCHED.birth_date, MATCHED.gender
        d.patient_address.CopyFrom(MATCHED.address)
    response = pb.SearchHistoryResponse(
        match_status=pb.MATCH_STATUS_FOUND, patients=[MATCHED], dispensations=dispensations
    )
    body = encode_pdmp_history(response, request=history_request(), patient_id="p1", source=SOURCE, now=NOW)
    assert list(read_history_answer(body).dispensations) == [comparable(d) for d in dispensations]


@pytest.mark.parametrize(
    ("response", "status"),
    [
        (pb.SearchHistoryResponse(match_status=pb.MATCH_STATUS_NOT_FOUND), "no-data"),
        (pb.SearchHistoryResponse(match_status=pb.MATCH_STATUS_AMBIGUOUS), "deferred"),
    ],
)
def test_answers_without_data_read_as_their_status(response: pb.SearchHistoryResponse, status: str) -> None:
    body = encode_pdmp_history(response, request=history_request(), patient_id="", source=SOURCE, now=NOW)
    answer = read_history_answer(body)
    assert (answer.status, answer.dispensations) == (status, [])


def test_error_answers_give_their_pmix_status() -> None:
    assert outcome_status(encode_outcome(PmpError(pb.ERROR_CODE_FORBIDDEN, "no"))) == "disallowed"
    assert outcome_status(encode_outcome(PmpError(pb.ERROR_CODE_INTERNAL, "x"))) == "error"
    assert outcome_status(b"<html>") is None and outcome_status(b'{"resourceType": "Bundle"}') is None


def _answer_with(mutate: Any) -> bytes:
    body = encode_pdmp_history(found(3), request=history_request(), patient_id="p", source=SOURCE, now=NOW)
    data = orjson.loads(body)
    mutate(history_bundle(data))
    return orjson.dumps(data)


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"[]",
        b'{"resourceType": "OperationOutcome"}',
        _answer_with(lambda b: b["entry"][1]["resource"].update(whenPrepared="yesterday")),
        _answer_with(lambda b: b["entry"][1]["resource"].update(quantity={"value": "30"})),
        _answer_with(lambda b: b["entry"][1]["resource"].update(daysSupply={"value": 1.5})),
        _answer_with(lambda b: b.update(entry={"not": "a list"})),
        _answer_with(lambda b: b.update(entry=[{"resource": {"resourceType": "Patient"}}] * 10_001)),
    ],
)
def test_unreadable_answers_are_backend_unavailable(body: bytes) -> None:
    with pytest.raises(PmpError) as failed:
        read_history_answer(body)
    assert (failed.value.code, failed.value.detail) == (pb.ERROR_CODE_BACKEND_UNAVAILABLE, UNREADABLE)


@FUZZ
@given(st.data())
def test_fuzz_mutated_answers_read_or_fail_cleanly(data: st.DataObject) -> None:
    body = encode_pdmp_history(found(4), request=history_request(), patient_id="p", source=SOURCE, now=NOW)
    cut = data.draw(st.integers(0, len(body)))
    mutated = bytearray(body[:cut])
    if mutated:
        mutated[data.draw(st.integers(0, len(mutated) - 1))] = data.draw(st.integers(0, 255))
    error: PmpError | None = None
    try:
        read_history_answer(bytes(mutated))
    except PmpError as exc:
        error = exc
    assert error is None or (error.code, error.detail) == (pb.ERROR_CODE_BACKEND_UNAVAILABLE, UNREADABLE)


# --- a merged answer -----------------------------------------------------------------------------------------------


def merged(*partners: tuple[str, str, str, list[pb.Dispensation]]) -> pb.SearchHistoryResponse:
    """Ours (UT, three fills) and each partner's (state, status, detail, fills), as the gateway merges them."""
    response = found(3)
    for d in response.dispensations:
        d.source_state = "UT"
    response.sources.add(state="UT", status="complete", dispensations=3)
    for state, status, detail, fills in partners:
        response.sources.add(state=state, status=status, detail=detail, dispensations=len(fills))
        for d in fills:
            d.source_state = state
            response.dispensations.append(d)
    response.total_dispensations = len(response.dispensations)
    return response


def co_fill(i: int) -> pb.Dispensation:
    d = dispensation(100 + i)
    d.patient_name.CopyFrom(pb.HumanName(family="Samuels", given="August", middle="T"))
    d.pharmacy.CopyFrom(pb.Pharmacy(ncpdp="0800001", name="Denver Drug", address=pb.Address(state="CO")))
    return d


def encode(response: pb.SearchHistoryResponse) -> dict[str, Any]:
    body = encode_pdmp_history(response, request=history_request(), patient_id="p1", source=SOURCE, now=NOW)
    parameters = valid_parameters(body)
    for parameter in parameters["parameter"]:
        if parameter.get("resource", {}).get("resourceType") == "Bundle":
            urls = [e["fullUrl"] for e in parameter["resource"]["entry"]]
            assert len(urls) == len(set(urls)), "every entry of a merged Bundle has its own fullUrl"
    return parameters


def test_a_merged_bundle_labels_every_states_records_as_example_2_does() -> None:
    parameters = encode(merged(("CO", "complete", "", [co_fill(0), co_fill(1)])))
    bundle = history_bundle(parameters)
    patients = resources_of(bundle, "Patient")
    assert [p["meta"]["source"] for p in patients] == [SOURCE, state_source("CO")]
    assert patients[1]["name"] == [{"family": "Samuels", "given": ["August", "T"]}]
    by_url = {e["fullUrl"]: e["resource"] for e in bundle["entry"]}
    dispenses = resources_of(bundle, "MedicationDispense")
    assert len(dispenses) == 5
    for d in dispenses:
        subject = by_url[d["subject"]["reference"]]
        assert subject["meta"]["source"] == d["meta"]["source"]  # each state's fills name that state's Patient
        pharmacy = by_url[d["performer"][0]["actor"]["reference"]]
        assert pharmacy["meta"]["source"] == d["meta"]["source"]
    assert {d["meta"]["source"] for d in dispenses} == {SOURCE, state_source("CO")}
    (complete,) = outcome_of(parameters)["issue"]
    assert complete["diagnostics"] == "5 dispensations are included (UT 3, CO 2)"


def test_each_person_a_state_reported_gets_their_own_patient() -> None:
    """Records of two people (the gateway keeps only records with the asked family name and birth date, but given
    names may still differ) are never filed under the first record's person."""
    august, augusta = co_fill(0), co_fill(2)
    augusta.patient_name.CopyFrom(pb.HumanName(family="Samuels", given="Augusta"))
    third = co_fill(4)  # August again: his Patient is reused
    bundle = history_bundle(encode(merged(("CO", "complete", "", [august, augusta, third]))))
    patients = [p for p in resources_of(bundle, "Patient") if p["meta"]["source"] == state_source("CO")]
    assert sorted(p["name"][0]["given"][0] for p in patients) == ["August", "Augusta"]
    by_url = {e["fullUrl"]: e["resource"] for e in bundle["entry"]}
    dispenses = resources_of(bundle, "MedicationDispense")
    by_rx = {d["identifier"][0]["value"]: by_url[d["subject"]["reference"]] for d in dispenses}
    for record in (august, augusta, third):
        assert by_rx[record.rx_number]["name"][0]["given"][0] == record.patient_name.given


def test_a_missing_state_is_the_igs_example_6_warning() -> None:
    parameters = encode(
        merged(
            ("CO", "complete", "", [co_fill(0)]),
            ("NM", "error", "timed out after 2.0 s", []),
            ("AZ", "disallowed", "HTTP 403", []),
        )
    )
    issues = outcome_of(parameters)["issue"]
    assert [i["details"]["coding"][0]["code"] for i in issues] == ["complete", "error", "disallowed"]
    nm, az = issues[1], issues[2]
    assert (nm["severity"], nm["code"]) == (az["severity"], az["code"]) == ("warning", "incomplete")
    assert nm["diagnostics"].startswith("Incomplete results: the NM PMP did not answer (timed out after 2.0 s)")
    assert "the AZ PMP does not disclose" in az["diagnostics"]
    assert len(resources_of(history_bundle(parameters), "Patient")) == 2  # no Patient for a state without records


def test_no_data_anywhere_with_a_missing_state_says_both() -> None:
    response = pb.SearchHistoryResponse(match_status=pb.MATCH_STATUS_NOT_FOUND)
    response.sources.add(state="UT", status="no-data")
    response.sources.add(state="CO", status="error", detail="connection refused or unreachable")
    parameters = encode(response)
    assert [p["name"] for p in parameters["parameter"]] == ["outcome"]  # the IG: no Bundle without data
    codes = [i["details"]["coding"][0]["code"] for i in outcome_of(parameters)["issue"]]
    assert codes == ["no-data", "error"]
