"""``decode_report``: a partner's ``pmix:PMPPrescriptionReport`` — each element back into the vocabulary, the source
state of each dispensation, and every malformed report refused as that partner failing."""

from __future__ import annotations

import pytest
from pmix_test_data import NOW, OTHER_NS, SAMPLES, dispensation, found, query

from adapters.pmix import INVALID_REPORT, decode_report, encode_refusal, encode_report, validate
from protos.errors import PmpError
from protos.pmp.v1 import pmp_pb2 as pb

SAMPLE_REPORT = SAMPLES / "report-partner.xml"


def sample_report() -> bytes:
    return SAMPLE_REPORT.read_bytes()


def test_the_sample_report_is_valid() -> None:
    assert validate(sample_report()) == []


def test_the_report_header() -> None:
    report = decode_report(sample_report(), disclosing_state="AZ")
    assert (report.request_id, report.status) == ("NV-REQ-7", "error")
    assert report.message == "Partial answer: UT (error) did not answer"
    assert report.retry_after == 30.0
    assert report.patient == pb.MatchedPatient(
        name=pb.HumanName(family="SAMUELS", given="AUGUST"), birth_date="1989-03-12", gender=pb.GENDER_MALE
    )
    assert report.alerts == [
        pb.Alert(
            code="03", text="Multiple provider episode", value=6, threshold=5, period=pb.DateRange(start="2024-01-01")
        )
    ]
    assert report.sources == [
        pb.SourceOutcome(state="AZ", status="complete", dispensations=1),
        pb.SourceOutcome(state="UT", status="error", detail="timed out"),
    ]


def test_each_prescription_element() -> None:
    first, second = decode_report(sample_report(), disclosing_state="az").dispensations
    assert first == pb.Dispensation(
        source_state="AZ",  # no pmix:PrescriptionSourceState: the state asked
        patient_name=pb.HumanName(family="SAMUELS", given="AUGUST"),
        patient_birth_date="1989-03-12",
        patient_address=pb.Address(line1="12 ELM ST", city="TUCSON", state="AZ", postal_code="85701"),
        pharmacy=pb.Pharmacy(npi="1003000126", ncpdp="0312345", name="DESERT PHARMACY", phone="5205550123"),
        prescriber=pb.Practitioner(dea="AB1234563", name=pb.HumanName(family="KIM")),
        date_filled="2024-03-05",
        date_written="2024-03-01",
        date_sold="2024-03-06",
        rx_number="7700123",
        product_id_qualifier="01",
        ndc="00093015001",
        drug=pb.Drug(ndc="00093015001", name="HYDROCODONE-ACETAMINOPHEN 5-325"),
        quantity=20.0,
        quantity_unit="01",
        days_supply=5,
        refill_number=1,
        refills_authorized=2,
        partial_fill="01",
        payment_type="04",
        transmission_form="05",
    )
    assert second == pb.Dispensation(
        source_state="NM", date_filled="2024-02-01", quantity_unit="tablet", partial_fill="00"
    )


def test_a_report_without_prescriptions() -> None:
    body = encode_refusal(
        PmpError(pb.ERROR_CODE_FORBIDDEN, "Role not allowed"), query=None, disclosing_state="AZ", now=NOW
    )
    report = decode_report(body, disclosing_state="AZ")
    assert (report.request_id, report.status, report.message) == ("", "disallowed", "Role not allowed")
    assert (report.dispensations, report.patient, report.alerts, report.sources) == ([], None, [], [])
    assert report.retry_after is None


def test_our_own_report_decodes_with_each_dispensations_source_state() -> None:
    answer = found(0)
    answer.dispensations.extend([dispensation(0, source_state="CA"), dispensation(1, source_state="")])
    answer.total_dispensations = 2
    body = encode_report(answer, query=query(), disclosing_state="AZ", now=NOW)
    report = decode_report(body, disclosing_state="AZ")
    assert [d.source_state for d in report.dispensations] == ["CA", "AZ"]
    assert report.status == "complete"


def test_another_exchange_namespace() -> None:
    body = sample_report().replace(b"urn:pmp-gateway:pmix:exchange:1", OTHER_NS.encode())
    assert decode_report(body, exchange_ns=OTHER_NS, disclosing_state="AZ").request_id == "NV-REQ-7"
    with pytest.raises(PmpError) as caught:
        decode_report(body, disclosing_state="AZ")
    assert (caught.value.code, caught.value.detail) == (pb.ERROR_CODE_BACKEND_UNAVAILABLE, INVALID_REPORT)


def _broken(old: bytes, new: bytes) -> bytes:
    body = sample_report()
    assert old in body
    return body.replace(old, new, 1)


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"<html><body>502 Bad Gateway</body></html>",
        b'{"status": "error"}',
        sample_report()[:-200],
        _broken(b"<ResponseStatusCode>error</ResponseStatusCode>", b"<ResponseStatusCode>fine</ResponseStatusCode>"),
        _broken(b"<n:Date>2024-03-05</n:Date>", b"<n:Date>2024-02-30</n:Date>"),
        _broken(b"<n:Date>2024-03-05</n:Date>", b"<n:Date>0000-01-01</n:Date>"),
        _broken(b"<p:DaysSupplyCount>5<", b"<p:DaysSupplyCount>-5<"),
        _broken(b"<PrescriptionCount>1<", b"<PrescriptionCount>99999999999<"),
        _broken(b"<p:RequestResponsePrescriptionReport>", b"<p:Other>").replace(
            b"</p:RequestResponsePrescriptionReport>", b"</p:Other>"
        ),
        _broken(b"<p:PrescriptionFilledDate><n:Date>2024-02-01</n:Date></p:PrescriptionFilledDate>", b""),
        _broken(b"<PMPPrescriptionReport ", b"<PMPRequest ").replace(b"</PMPPrescriptionReport>", b"</PMPRequest>"),
        b'<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>' + sample_report().split(b"?>", 1)[1],
    ],
)
def test_a_malformed_report_is_that_partner_failing(body: bytes) -> None:
    with pytest.raises(PmpError) as caught:
        decode_report(body, disclosing_state="AZ")
    error = caught.value
    assert (error.code, error.detail) == (pb.ERROR_CODE_BACKEND_UNAVAILABLE, INVALID_REPORT)
    assert error.location and all(where.startswith("/") for where in error.location)
    assert "SAMUELS" not in repr(error)


def test_an_oversized_report_is_refused() -> None:
    padding = b"<!--" + b" " * (17 << 20) + b"-->"
    with pytest.raises(PmpError) as caught:
        decode_report(sample_report() + padding, disclosing_state="AZ")
    assert caught.value.code == pb.ERROR_CODE_BACKEND_UNAVAILABLE
