"""``encode_report``: our answer as a ``pmix:PMPPrescriptionReport`` — each element path, the status of every kind of
answer, the source state of each prescription, alerts and per-state outcomes. Every report is schema-valid."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from lxml import etree
from pmix_test_data import NOW, OTHER_NS, count, dispensation, encoded, found, parse, query, read, text, texts

from adapters.pmix import AMBIGUOUS_TEXT, NO_DATA_TEXT, encode_report
from protos.pmp.v1 import pmp_pb2 as pb

REPORT = "pmp:RequestResponsePrescriptionReport"
RX = f"{REPORT}/pmp:Prescription"


def report(answer: pb.SearchHistoryResponse, *, disclosing_state: str = "AZ", now: datetime = NOW) -> bytes:
    return encode_report(answer, query=query(), disclosing_state=disclosing_state, now=now)


def test_the_report_header() -> None:
    root = read(report(found(2)))
    assert root.tag == "{urn:pmp-gateway:pmix:exchange:1}PMPPrescriptionReport"
    assert text(root, "pmix:RequestID") == "NV-REQ-1"
    assert text(root, "pmix:RequestingState/nc:LocationStateUSPostalServiceCode") == "NV"
    assert text(root, "pmix:DisclosingState/nc:LocationStateUSPostalServiceCode") == "AZ"
    assert text(root, "pmix:ResponseStatus/pmix:ResponseStatusCode") == "complete"
    assert text(root, "pmix:ResponseStatus/pmix:ResponseStatusText") == "2 dispensations are included"
    assert count(root, "pmix:ResponseStatus/pmix:RetryAfterSeconds") == 0
    assert text(root, f"{REPORT}/pmp:ReportExecutionDate/nc:Date") == "2024-05-01"
    assert text(root, f"{REPORT}/pmp:ReportExecutionTime") == "12:30:15Z"
    assert text(root, f"{REPORT}/pmp:ReportDateRange/pmp:ReportDateRangeBegin/nc:Date") == "2023-05-01"
    assert text(root, f"{REPORT}/pmp:ReportDateRange/pmp:ReportDateRangeEnd/nc:Date") == "2024-05-01"


def test_the_matched_patient() -> None:
    root = read(report(found(1)))
    patient = f"{REPORT}/pmp:Patient"
    assert text(root, f"{patient}/nc:PersonName/nc:PersonSurName") == "O'Brien-Müller"
    assert text(root, f"{patient}/nc:PersonName/nc:PersonGivenName") == "Zoë"
    assert text(root, f"{patient}/nc:PersonBirthDate/nc:Date") == "1980-02-29"
    assert text(root, f"{patient}/j:PersonSexCode") == "F"
    mailing = f"{patient}/pmp:PersonPrimaryContactInformation/nc:ContactMailingAddress"
    assert text(root, f"{mailing}/nc:LocationStreet/nc:StreetFullText") == "1 Main St"
    assert text(root, f"{mailing}/nc:LocationPostalCode") == "89501"
    assert b"42" not in root.findtext(".//{*}Patient", default="").encode()  # record ids are not sent


def test_each_prescription_element() -> None:
    root = read(report(found(1)))
    rx = f"{RX}[1]"
    assert text(root, f"{rx}/pmp:Patient/nc:PersonName/nc:PersonSurName") == "O'Brien-Müller"
    assert text(root, f"{rx}/pmp:Patient/nc:PersonBirthDate/nc:Date") == "1980-02-29"
    assert text(root, f"{rx}/pmp:Patient/j:PersonSexCode") == "F"
    assert text(root, f"{rx}/pmp:Dispenser/nc:OrganizationDoingBusinessAsName") == "MAIN STREET PHARMACY"
    contact = f"{rx}/pmp:Dispenser/nc:OrganizationPrimaryContactInformation"
    assert text(root, f"{contact}/nc:ContactMailingAddress/nc:LocationStreet/nc:StreetFullText") == "1 MAIN ST"
    assert text(root, f"{contact}/nc:ContactMailingAddress/nc:LocationCityName") == "PHOENIX"
    assert text(root, f"{contact}/nc:ContactMailingAddress/nc:LocationStateUSPostalServiceCode") == "AZ"
    assert text(root, f"{contact}/nc:ContactMailingAddress/nc:LocationPostalCode") == "85001-1234"
    number = f"{contact}/nc:ContactTelephoneNumber/nc:FullTelephoneNumber/nc:TelephoneNumberFullID"
    assert text(root, number) == "(602) 555-0199"
    assert text(root, f"{rx}/pmp:Dispenser/pmp:DEANumberIdentifier/nc:IdentificationID") == "BM1234563"
    assert text(root, f"{rx}/pmp:Dispenser/pmp:NCPDPIdentifier/nc:IdentificationID") == "1234567"
    assert text(root, f"{rx}/pmp:Dispenser/pmp:NPIIdentifier/nc:IdentificationID") == "1003000126"
    assert text(root, f"{rx}/pmp:Prescriber/nc:PersonName/nc:PersonSurName") == "AMSTER"
    assert text(root, f"{rx}/pmp:Prescriber/pmp:NPIIdentifier/nc:IdentificationID") == "1928340565"
    assert text(root, f"{rx}/pmp:Prescriber/pmp:DEANumberIdentifier/nc:IdentificationID") == "AA1234563"
    assert text(root, f"{rx}/pmp:Prescriber/pmp:StateLicenseIdentifier/nc:IdentificationID") == "MD-1"
    jurisdiction = f"{rx}/pmp:Prescriber/pmp:StateLicenseIdentifier/nc:IdentificationJurisdiction"
    assert text(root, f"{jurisdiction}/nc:LocationStateUSPostalServiceCode") == "AZ"
    assert text(root, f"{rx}/pmp:PrescriptionFilledDate/nc:Date") == "2024-01-03"
    assert text(root, f"{rx}/pmp:PrescriptionWrittenDate/nc:Date") == "2024-01-02"
    assert text(root, f"{rx}/pmp:PrescriptionNumberText") == "RX000000"
    assert text(root, f"{rx}/pmp:PrescriptionDrug/pmp:DrugProductNameText") == "OXYCODONE HCL 5 MG TABLET"
    assert text(root, f"{rx}/pmp:PrescriptionDrug/pmp:DrugNDCProductIdentifier/nc:IdentificationID") == "00406052301"
    assert text(root, f"{rx}/pmp:PrescriptionDrug/pmp:DrugStrengthText") == "5 MG"
    assert text(root, f"{rx}/pmp:PrescriptionDrug/pmp:DrugUnitOfMeasureText") == "each"
    assert text(root, f"{rx}/pmp:DispensedQuantity") == "30"
    assert text(root, f"{rx}/pmp:DaysSupplyCount") == "15"
    assert text(root, f"{rx}/pmp:DrugRefillNumberCount") == "0"
    assert text(root, f"{rx}/pmp:RefillsAuthorizedCount") == "5"
    assert text(root, f"{rx}/pmp:PartialFillIndicator") == "false"
    assert text(root, f"{rx}/pmp:MethodOfPaymentCode") == "01"
    assert text(root, f"{rx}/pmp:TransmissionFormOfRxOriginCode") == "05"
    assert count(root, f"{rx}/pmp:OpioidTreatmentCategoryCode") == 0  # the store does not keep it
    assert text(root, f"{rx}/pmix:PrescriptionSourceState/nc:LocationStateUSPostalServiceCode") == "AZ"
    assert text(root, f"{rx}/pmix:PrescriptionSoldDate/nc:Date") == "2024-01-04"


def test_prescriptions_keep_the_answers_order_and_repeated_parts_are_the_same() -> None:
    root = read(report(found(25)))
    assert texts(root, f"{RX}/pmp:PrescriptionNumberText") == [f"RX{i:06d}" for i in range(25)]
    assert texts(root, f"{RX}/pmp:DispensedQuantity")[:4] == ["30", "30.5", "31", "31.5"]
    assert len(set(texts(root, f"{RX}/pmp:Dispenser/pmp:NPIIdentifier/nc:IdentificationID"))) == 1


def test_the_source_state_of_each_prescription() -> None:
    answer = found(0)
    answer.dispensations.extend([dispensation(0, source_state="CA"), dispensation(1, source_state="")])
    answer.total_dispensations = 2
    root = read(report(answer, disclosing_state="AZ"))
    assert texts(root, f"{RX}/pmix:PrescriptionSourceState/nc:LocationStateUSPostalServiceCode") == ["CA", "AZ"]


@pytest.mark.parametrize(
    ("changes", "path", "expected"),
    [
        ({"partial_fill": "01"}, "pmp:PartialFillIndicator", ["true"]),
        ({"partial_fill": "02"}, "pmp:PartialFillIndicator", ["true"]),
        ({"partial_fill": ""}, "pmp:PartialFillIndicator", []),
        ({"payment_type": "08"}, "pmp:MethodOfPaymentCode", []),
        ({"transmission_form": "X"}, "pmp:TransmissionFormOfRxOriginCode", []),
        ({"quantity": 0.0}, "pmp:DispensedQuantity", []),
        ({"quantity": 2.125}, "pmp:DispensedQuantity", ["2.125"]),
        ({"quantity": 1e-7}, "pmp:DispensedQuantity", []),
        ({"quantity": float("nan")}, "pmp:DispensedQuantity", []),
        ({"quantity": 1e12}, "pmp:DispensedQuantity", []),
        ({"days_supply": 0}, "pmp:DaysSupplyCount", []),
        ({"refill_number": -1}, "pmp:DrugRefillNumberCount", []),
        ({"product_id_qualifier": "06"}, "pmp:PrescriptionDrug/pmp:DrugNDCProductIdentifier", []),
        ({"quantity_unit": "02"}, "pmp:PrescriptionDrug/pmp:DrugUnitOfMeasureText", ["mL"]),
        ({"quantity_unit": "03"}, "pmp:PrescriptionDrug/pmp:DrugUnitOfMeasureText", ["g"]),
        ({"quantity_unit": "ZZ"}, "pmp:PrescriptionDrug/pmp:DrugUnitOfMeasureText", ["ZZ"]),
        ({"date_written": "2024-02-30"}, "pmp:PrescriptionWrittenDate", []),
        ({"date_sold": ""}, "pmix:PrescriptionSoldDate", []),
        ({"rx_number": "R" * 60}, "pmp:PrescriptionNumberText", ["R" * 50]),
        ({"source_state": "Arizona"}, "pmix:PrescriptionSourceState/nc:LocationStateUSPostalServiceCode", ["AZ"]),
    ],
)
def test_values_are_fitted_or_left_out(changes: dict[str, object], path: str, expected: list[str]) -> None:
    answer = found(0)
    answer.dispensations.append(dispensation(0, **changes))
    answer.total_dispensations = 1
    assert texts(read(report(answer)), f"{RX}/{path}") == expected


def test_a_dispensation_without_a_fill_date_cannot_be_sent_and_is_counted() -> None:
    answer = found(2)
    answer.dispensations[1].date_filled = ""
    root = read(report(answer))
    assert count(root, RX) == 1
    assert "1 of the 2 dispensations" in (text(root, "pmix:ResponseStatus/pmix:ResponseStatusText") or "")


def test_a_cut_answer_says_so() -> None:
    root = read(report(found(3, total=40)))
    assert text(root, "pmix:ResponseStatus/pmix:ResponseStatusCode") == "complete"
    assert text(root, "pmix:ResponseStatus/pmix:ResponseStatusText") == (
        "3 of the 40 dispensations in the requested period are included (the newest); narrow "
        "pmp:RequestPrescriptionDateRange to see the others"
    )


# --- statuses --------------------------------------------------------------------------------------------------


def _empty_parts(root: etree._Element) -> None:
    assert count(root, f"{REPORT}/pmp:Patient") == 0
    assert count(root, RX) == 0
    assert count(root, "pmix:PatientAlert") == 0


def test_no_match_and_no_fill_are_the_same_no_data_report() -> None:
    alert = pb.Alert(code="05", text="MME", value=100, threshold=90)
    not_found = report(pb.SearchHistoryResponse(match_status=pb.MATCH_STATUS_NOT_FOUND))
    nothing_in_period = report(found(0, alerts=[alert]))
    assert not_found == nothing_in_period  # the report does not reveal whether the PMP knows the person
    root = read(not_found)
    assert text(root, "pmix:ResponseStatus/pmix:ResponseStatusCode") == "no-data"
    assert text(root, "pmix:ResponseStatus/pmix:ResponseStatusText") == NO_DATA_TEXT
    _empty_parts(root)


def test_an_ambiguous_match_is_deferred_and_describes_no_candidate() -> None:
    answer = found(2)
    answer.match_status = pb.MATCH_STATUS_AMBIGUOUS
    answer.patients.add(name=pb.HumanName(family="OTHER"), birth_date="1980-02-29")
    body = report(answer)
    root = read(body)
    assert text(root, "pmix:ResponseStatus/pmix:ResponseStatusCode") == "deferred"
    assert text(root, "pmix:ResponseStatus/pmix:ResponseStatusText") == AMBIGUOUS_TEXT
    _empty_parts(root)
    assert b"OTHER" not in body


def _sources(*outcomes: tuple[str, str, str, int]) -> list[pb.SourceOutcome]:
    return [pb.SourceOutcome(state=s, status=st, detail=d, dispensations=n) for s, st, d, n in outcomes]


def test_a_state_that_did_not_answer_makes_a_partial_answer() -> None:
    sources = _sources(("AZ", "complete", "", 2), ("CA", "error", "timed out after 1.2 s", 0))
    root = read(report(found(2, sources=sources)))
    assert text(root, "pmix:ResponseStatus/pmix:ResponseStatusCode") == "error"
    assert text(root, "pmix:ResponseStatus/pmix:ResponseStatusText") == (
        "2 dispensations are included. Partial answer: CA (error) did not answer; see pmix:SourceOutcome"
    )
    assert count(root, RX) == 2 and count(root, f"{REPORT}/pmp:Patient") == 1
    assert texts(root, "pmix:SourceOutcome/nc:LocationStateUSPostalServiceCode") == ["AZ", "CA"]
    assert texts(root, "pmix:SourceOutcome/pmix:ResponseStatusCode") == ["complete", "error"]
    assert texts(root, "pmix:SourceOutcome/pmix:ResponseStatusText") == ["timed out after 1.2 s"]
    assert texts(root, "pmix:SourceOutcome/pmix:PrescriptionCount") == ["2", "0"]


GAPS = {"disallowed", "deferred", "error", "version-mismatch"}


@pytest.mark.parametrize("gap", ["disallowed", "deferred", "error", "version-mismatch", "", "unknown"])
def test_every_status_but_complete_and_no_data_is_a_gap(gap: str) -> None:
    sources = _sources(("AZ", "no-data", "", 0), ("UT", gap, "circuit open", 0))
    root = read(report(pb.SearchHistoryResponse(match_status=pb.MATCH_STATUS_NOT_FOUND, sources=sources)))
    assert text(root, "pmix:ResponseStatus/pmix:ResponseStatusCode") == "error"  # never no-data: UT may know them
    status_text = text(root, "pmix:ResponseStatus/pmix:ResponseStatusText") or ""
    assert status_text.startswith("No PMP history was found in the states that answered. Partial answer: UT (")
    assert texts(root, "pmix:SourceOutcome/pmix:ResponseStatusCode")[1] == (gap if gap in GAPS else "error")


def test_states_that_all_answered_leave_the_answer_complete() -> None:
    sources = _sources(("AZ", "complete", "", 1), ("CA", "no-data", "", 0))
    root = read(report(found(1, sources=sources)))
    assert text(root, "pmix:ResponseStatus/pmix:ResponseStatusCode") == "complete"
    assert count(root, "pmix:SourceOutcome") == 2


def test_a_source_that_is_not_a_state_is_left_out() -> None:
    root = read(report(found(1, sources=_sources(("", "error", "", 0), ("Nowhere", "error", "", 0)))))
    assert count(root, "pmix:SourceOutcome") == 0


# --- alerts ----------------------------------------------------------------------------------------------------


def test_alerts() -> None:
    alerts = [
        pb.Alert(
            code="05",
            text="Daily MME reached 120 (threshold 90)",
            period=pb.DateRange(start="2024-01-03", end="2024-01-20"),
            value=120.25,
            threshold=90,
        ),
        pb.Alert(code="03", text="6 prescribers, 5 pharmacies in 90 days", value=6, threshold=5),
        pb.Alert(code="04", text="Opioid and benzodiazepine overlap", value=12, threshold=1),
        pb.Alert(code="ZZ", text="not a PMIX alert code"),
    ]
    root = read(report(found(1, alerts=alerts)))
    assert texts(root, "pmix:PatientAlert/pmix:PatientAlertCategoryCode") == ["05", "03", "04"]
    assert texts(root, "pmix:PatientAlert/pmix:PatientAlertText")[0] == "Daily MME reached 120 (threshold 90)"
    assert texts(root, "pmix:PatientAlert/pmix:PatientAlertValue") == ["120.25", "6", "12"]
    assert texts(root, "pmix:PatientAlert/pmix:PatientAlertThresholdValue") == ["90", "5", "1"]
    assert text(root, "pmix:PatientAlert[1]/pmix:PatientAlertDateRange/nc:StartDate/nc:Date") == "2024-01-03"
    assert text(root, "pmix:PatientAlert[1]/pmix:PatientAlertDateRange/nc:EndDate/nc:Date") == "2024-01-20"
    assert count(root, "pmix:PatientAlert[2]/pmix:PatientAlertDateRange") == 0


# --- times and namespaces --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "day", "time"),
    [
        (datetime(2024, 5, 1, 23, 30, tzinfo=timezone(timedelta(hours=-7))), "2024-05-02", "06:30:00Z"),
        (datetime(2024, 5, 1, 8, 5, 9), "2024-05-01", "08:05:09Z"),  # naive: taken as UTC
        (datetime(2024, 5, 1, 0, 0, tzinfo=UTC), "2024-05-01", "00:00:00Z"),
    ],
)
def test_the_execution_time_is_utc(now: datetime, day: str, time: str) -> None:
    root = read(report(found(1), now=now))
    assert text(root, f"{REPORT}/pmp:ReportExecutionDate/nc:Date") == day
    assert text(root, f"{REPORT}/pmp:ReportExecutionTime") == time


def test_another_exchange_namespace() -> None:
    decoded = parse(encoded(exchange_ns=OTHER_NS), exchange_ns=OTHER_NS)
    body = encode_report(found(3), query=decoded, disclosing_state="AZ", now=NOW, exchange_ns=OTHER_NS)
    root = read(body, exchange_ns=OTHER_NS)
    assert root.tag == "{" + OTHER_NS + "}PMPPrescriptionReport"
    assert count(root, RX, exchange_ns=OTHER_NS) == 3


def test_a_large_answer_is_valid() -> None:
    root = read(report(found(300)))
    assert count(root, RX) == 300
