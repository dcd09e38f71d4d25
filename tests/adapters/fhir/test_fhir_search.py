"""MedicationDispense search: ``parse_dispense_search`` (params, prefixes, strict vs lenient, _count, required
demographics) and ``encode_searchset`` (valid R4B searchset, modes, links, outcome entry)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from fhir_test_data import MATCHED, NOW, SOURCE, TODAY, found, history_bundle, history_request, valid_bundle
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.fhir import CURSOR_PARAM, DispenseSearch, encode_pdmp_history, encode_searchset, parse_dispense_search
from protos.errors import PmpError
from protos.pmp.v1 import pmp_pb2 as pb

DEMOGRAPHICS = [("subject:Patient.family", "Samuels"), ("subject:Patient.birthdate", "1989-03-12")]


def parse(params: list[tuple[str, str]], *, strict: bool = False, **kwargs: Any) -> DispenseSearch:
    return parse_dispense_search(params, strict=strict, today=TODAY, **kwargs)


def refused(params: list[tuple[str, str]], code: int = pb.ERROR_CODE_INVALID_REQUEST, **kwargs: Any) -> PmpError:
    with pytest.raises(PmpError) as caught:
        parse(params, **kwargs)
    assert caught.value.code == code, caught.value
    assert caught.value.location
    return caught.value


def test_demographics_by_chained_parameters() -> None:
    search = parse(
        [
            *DEMOGRAPHICS,
            ("subject:Patient.given", "August"),
            ("subject:Patient.gender", "male"),
            ("_count", "20"),
            ("status", "completed"),
        ]
    )
    assert search.request == pb.SearchHistoryRequest(
        patient=pb.PatientQuery(
            name=pb.HumanName(family="Samuels", given="August"), birth_date="1989-03-12", gender=pb.GENDER_MALE
        ),
        date_range=pb.DateRange(start="2025-11-23", end="2026-11-23"),
        page_size=20,
    )
    assert (search.patient_token, search.cursor, search.status, search.ignored) == ("", "", "completed", ())


def test_birthdate_with_eq_prefix() -> None:
    search = parse([("subject:Patient.family", "Samuels"), ("subject:Patient.birthdate", "eq1989-03-12")])
    assert search.request.patient.birth_date == "1989-03-12"


@pytest.mark.parametrize(
    "params",
    [
        [],
        [("subject:Patient.family", "Samuels")],
        [("subject:Patient.birthdate", "1989-03-12")],
        [("subject:Patient.given", "August"), ("subject:Patient.gender", "male")],
        [("subject:Patient.family", ""), ("subject:Patient.birthdate", "1989-03-12")],
    ],
)
def test_family_and_birthdate_or_patient_are_required(params: list[tuple[str, str]]) -> None:
    error = refused(params)
    assert error.location == ("subject:Patient.family", "subject:Patient.birthdate")


@pytest.mark.parametrize(
    ("params", "location"),
    [
        ([("subject:Patient.family", "S"), ("subject:Patient.birthdate", "1989-03")], "subject:Patient.birthdate"),
        ([("subject:Patient.family", "S"), ("subject:Patient.birthdate", "ge1989-03-12")], "subject:Patient.birthdate"),
        ([("subject:Patient.family", "S"), ("subject:Patient.birthdate", "1989-02-30")], "subject:Patient.birthdate"),
        ([("subject:Patient.family", "S"), ("subject:Patient.birthdate", "2999-01-01")], "subject:Patient.birthdate"),
        ([*DEMOGRAPHICS, ("subject:Patient.gender", "M")], "subject:Patient.gender"),
        ([*DEMOGRAPHICS, ("subject:Patient.family", "Again")], "subject:Patient.family"),
        (
            [("subject:Patient.family", "x" * 300), ("subject:Patient.birthdate", "1989-03-12")],
            "subject:Patient.family",
        ),
        ([("patient", "1042"), ("subject:Patient.family", "Samuels")], "patient"),
        ([("patient", "1042"), ("subject", "Patient/1042")], "subject"),
        ([("subject", "Group/1")], "subject"),
        ([("patient", "not an id")], "patient"),
        ([*DEMOGRAPHICS, ("status", "done")], "status"),
    ],
)
def test_bad_parameters_are_refused(params: list[tuple[str, str]], location: str) -> None:
    error = refused(params)
    assert error.location == (location,)
    assert "Samuels" not in error.detail and "1989" not in error.detail


@pytest.mark.parametrize(
    ("params", "token"),
    [
        ([("patient", "1042")], "1042"),
        ([("patient", "Patient/1042")], "1042"),
        ([("subject", "Patient/1042")], "1042"),
    ],
)
def test_patient_by_id(params: list[tuple[str, str]], token: str) -> None:
    search = parse(params)
    assert search.patient_token == token
    assert not search.request.patient.name.family


def test_cursor_needs_nothing_else() -> None:
    search = parse([(CURSOR_PARAM, "gAAAA-opaque"), ("_count", "5")])
    assert search.cursor == "gAAAA-opaque"
    assert CURSOR_PARAM == "_cursor"


# --- whenhandedover -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["ge2026-01-01"], ("2026-01-01", "2026-11-23")),
        (["gt2026-01-01"], ("2026-01-02", "2026-11-23")),
        (["le2026-06-30"], ("2025-06-30", "2026-06-30")),
        (["lt2026-06-30"], ("2025-06-29", "2026-06-29")),
        (["eq2026-03-05"], ("2026-03-05", "2026-03-05")),
        (["2026-03-05"], ("2026-03-05", "2026-03-05")),
        (["2026-03"], ("2026-03-01", "2026-03-31")),
        (["2024-02"], ("2024-02-01", "2024-02-29")),
        (["2025"], ("2025-01-01", "2025-12-31")),
        (["ge2026-01", "lt2026-03"], ("2026-01-01", "2026-02-28")),
        (["gt2026-01", "le2026-03"], ("2026-02-01", "2026-03-31")),
        (["ge2026-01-01", "ge2026-02-01"], ("2026-02-01", "2026-11-23")),
        (["ge2026-01-01T23:30:00-07:00"], ("2026-01-01", "2026-11-23")),
        ([], ("2025-11-23", "2026-11-23")),
    ],
)
def test_whenhandedover_prefixes(values: list[str], expected: tuple[str, str]) -> None:
    search = parse([*DEMOGRAPHICS, *(("whenhandedover", v) for v in values)])
    assert search.request.date_range == pb.DateRange(start=expected[0], end=expected[1])


@pytest.mark.parametrize(
    ("values", "code", "phrase"),
    [
        (["ne2026-01-01"], pb.ERROR_CODE_UNSUPPORTED, "ne prefix"),
        (["sa2026-01-01"], pb.ERROR_CODE_UNSUPPORTED, "sa prefix"),
        (["ap2026-01-01"], pb.ERROR_CODE_UNSUPPORTED, "ap prefix"),
        (["ge2026-01-01,le2026-02-01"], pb.ERROR_CODE_UNSUPPORTED, "list of values"),
        (["ge2026-06-01", "le2026-01-01"], pb.ERROR_CODE_INVALID_REQUEST, "starts after it ends"),
        (["ge2020-01-01"], pb.ERROR_CODE_INVALID_REQUEST, "longer than the 1098 days"),
        (["yesterday"], pb.ERROR_CODE_INVALID_REQUEST, "not a FHIR date"),
        (["2026-02-30"], pb.ERROR_CODE_INVALID_REQUEST, "not a valid calendar date"),
        (["gt9999-12-31"], pb.ERROR_CODE_INVALID_REQUEST, "out of range"),
        (["lt0001-01-01"], pb.ERROR_CODE_INVALID_REQUEST, "out of range"),
    ],
)
def test_whenhandedover_refusals(values: list[str], code: int, phrase: str) -> None:
    error = refused([*DEMOGRAPHICS, *(("whenhandedover", v) for v in values)], code=code)
    assert phrase in error.detail
    assert error.location == ("whenhandedover",)


def test_max_lookback_is_the_callers() -> None:
    refused([*DEMOGRAPHICS, ("whenhandedover", "ge2026-10-01")], max_lookback_days=30)
    assert parse([*DEMOGRAPHICS], default_lookback_days=7).request.date_range.start == "2026-11-16"


# --- _count, _format, status, unknown parameters --------------------------------------------------------------------


@pytest.mark.parametrize(("value", "size"), [("1", 1), ("100", 100), ("101", 100), ("999999999", 100)])
def test_count_is_capped_at_max_count(value: str, size: int) -> None:
    assert parse([*DEMOGRAPHICS, ("_count", value)]).request.page_size == size


def test_no_count_is_the_gateways_default() -> None:
    assert parse(DEMOGRAPHICS).request.page_size == 0


def test_count_cap_is_the_callers() -> None:
    assert parse([*DEMOGRAPHICS, ("_count", "600")], max_count=500).request.page_size == 500


@pytest.mark.parametrize("value", ["0", "-1", "ten", "1.5", "²", "1e3", "9" * 12])
def test_bad_counts_are_refused(value: str) -> None:
    assert refused([*DEMOGRAPHICS, ("_count", value)]).location == ("_count",)


@pytest.mark.parametrize(
    "value", ["json", "application/fhir+json", "application/json", "application/fhir+json; fhirVersion=4.0"]
)
def test_json_formats(value: str) -> None:
    parse([*DEMOGRAPHICS, ("_format", value)])


@pytest.mark.parametrize("value", ["xml", "application/fhir+xml", "text/html"])
def test_other_formats_are_not_acceptable(value: str) -> None:
    refused([*DEMOGRAPHICS, ("_format", value)], code=pb.ERROR_CODE_NOT_ACCEPTABLE)


@pytest.mark.parametrize(
    ("values", "status"),
    [
        ([], ""),
        (["completed"], "completed"),
        (["in-progress,completed"], "completed"),
        (["http://hl7.org/fhir/CodeSystem/medicationdispense-status|completed"], "completed"),
        (["cancelled"], "cancelled"),
        (["completed", "stopped,declined"], "stopped,declined"),
    ],
)
def test_status(values: list[str], status: str) -> None:
    assert parse([*DEMOGRAPHICS, *(("status", v) for v in values)]).status == status


UNKNOWN = [("patient.family", "Samuels"), ("_sort", "-whenhandedover"), ("_include", "MedicationDispense:receiver")]


def test_unknown_parameters_are_ignored_and_listed_when_lenient() -> None:
    search = parse([*DEMOGRAPHICS, *UNKNOWN, ("_sort", "again"), ("_include", "MedicationDispense:performer")])
    assert search.ignored == ("patient.family", "_sort", "_include=MedicationDispense:receiver")


@pytest.mark.parametrize("unknown", UNKNOWN)
def test_unknown_parameters_are_refused_when_strict(unknown: tuple[str, str]) -> None:
    error = refused([*DEMOGRAPHICS, unknown], strict=True)
    assert "not supported" in error.detail


def test_supported_includes_and_empty_values_are_fine_when_strict() -> None:
    search = parse(
        [*DEMOGRAPHICS, ("_include", "MedicationDispense:patient"), ("whenhandedover", ""), ("_sort", "")],
        strict=True,
    )
    assert search.ignored == ()


def test_a_long_unknown_name_is_shortened() -> None:
    (name,) = parse([*DEMOGRAPHICS, ("x" * 500, "1")]).ignored
    assert len(name) <= 65


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(
            st.sampled_from(
                [
                    "subject:Patient.family",
                    "subject:Patient.given",
                    "subject:Patient.birthdate",
                    "subject:Patient.gender",
                    "patient",
                    "subject",
                    "whenhandedover",
                    "status",
                    "_count",
                    "_format",
                    "_include",
                    "_cursor",
                ]
            )
            | st.text(max_size=8),
            st.text(max_size=30) | st.sampled_from(["1989-03-12", "ge2026-01", "completed", "Patient/1", "5"]),
        ),
        max_size=8,
    ),
    st.booleans(),
)
def test_fuzz_search_parameters(params: list[tuple[str, str]], strict: bool) -> None:
    error: PmpError | None = None
    try:
        parse(params, strict=strict)
    except PmpError as raised:
        error = raised
    assert error is None or error.location


# --- encode_searchset -----------------------------------------------------------------------------------------------


def encode(response: pb.SearchHistoryResponse, **kwargs: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "patient_id": "1042",
        "self_url": f"{SOURCE}/MedicationDispense?subject:Patient.family=Samuels",
        "next_url": None,
        "source": SOURCE,
        "now": NOW,
    }
    args.update(kwargs)
    return valid_bundle(encode_searchset(response, **args))


def test_searchset_of_a_page() -> None:
    next_url = f"{SOURCE}/MedicationDispense?_cursor=abc"
    bundle = encode(found(25, total=60), next_url=next_url)
    assert (bundle["type"], bundle["total"], bundle["timestamp"]) == ("searchset", 60, "2026-11-23T15:04:05Z")
    assert bundle["link"] == [
        {"relation": "self", "url": f"{SOURCE}/MedicationDispense?subject:Patient.family=Samuels"},
        {"relation": "next", "url": next_url},
    ]
    modes: dict[str, set[str]] = {}
    for entry in bundle["entry"]:
        modes.setdefault(entry["resource"]["resourceType"], set()).add(entry["search"]["mode"])
    assert modes == {
        "MedicationDispense": {"match"},
        "Patient": {"include"},
        "Organization": {"include"},
        "Practitioner": {"include"},
        "MedicationRequest": {"include"},
    }
    assert sum(1 for e in bundle["entry"] if e["search"]["mode"] == "match") == 25
    urls = {e["fullUrl"] for e in bundle["entry"]}
    for entry in bundle["entry"]:
        if entry["resource"]["resourceType"] == "MedicationDispense":
            assert entry["resource"]["subject"]["reference"] in urls


def test_last_page_has_no_next_link() -> None:
    assert [link["relation"] for link in encode(found(3))["link"]] == ["self"]


def test_searchset_shares_the_history_builders() -> None:
    history = orjson.loads(
        encode_pdmp_history(found(), request=history_request(), patient_id="1042", source=SOURCE, now=NOW)
    )
    collection = {e["fullUrl"]: e["resource"] for e in history_bundle(history)["entry"]}
    searchset = {e["fullUrl"]: e["resource"] for e in encode(found())["entry"] if "fullUrl" in e}
    assert collection == searchset


@pytest.mark.parametrize(
    ("response", "kind", "status"),
    [
        (pb.SearchHistoryResponse(match_status=pb.MATCH_STATUS_NOT_FOUND), "informational", "no-data"),
        (pb.SearchHistoryResponse(match_status=pb.MATCH_STATUS_FOUND, patients=[MATCHED]), "informational", "no-data"),
        (
            pb.SearchHistoryResponse(match_status=pb.MATCH_STATUS_AMBIGUOUS, patients=[MATCHED]),
            "multiple-matches",
            "deferred",
        ),
    ],
)
def test_no_matches_get_an_outcome_entry(response: pb.SearchHistoryResponse, kind: str, status: str) -> None:
    bundle = encode(response, patient_id="")
    assert bundle["total"] == 0
    (entry,) = bundle["entry"]
    assert entry["search"] == {"mode": "outcome"}
    (issue,) = entry["resource"]["issue"]
    assert (issue["code"], issue["details"]["coding"][0]["code"]) == (kind, status)
    assert b"Samuels" not in orjson.dumps(bundle["entry"])


def test_ignored_parameters_are_reported() -> None:
    bundle = encode(found(2), ignored=("_sort", "patient.family"))
    outcome = bundle["entry"][-1]
    assert outcome["search"] == {"mode": "outcome"}
    (issue,) = outcome["resource"]["issue"]
    assert (issue["severity"], issue["code"]) == ("warning", "not-supported")
    assert "_sort, patient.family" in issue["diagnostics"]
    assert issue["expression"] == ["_sort", "patient.family"]


def test_searchset_is_deterministic() -> None:
    args: dict[str, Any] = {"patient_id": "1042", "self_url": "s", "next_url": "n", "source": SOURCE, "now": NOW}
    assert encode_searchset(found(), **args) == encode_searchset(found(), **args)
