"""Hostile ``$pdmp-history`` bodies: each is a ``PmpError(INVALID_REQUEST)`` with a location and no PHI; fuzzing
finds no other exception."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from fhir_test_data import EX1, EX4, TODAY, example, parameter, patient_of, with_changes
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.fhir import decode_pdmp_history
from adapters.fhir.parameters import RESOURCE_PARAMETERS
from protos.errors import PmpError
from protos.pmp.v1 import pmp_pb2 as pb

FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def refused(body: bytes) -> PmpError:
    with pytest.raises(PmpError) as caught:
        decode_pdmp_history(body, today=TODAY)
    error = caught.value
    assert error.code == pb.ERROR_CODE_INVALID_REQUEST, error
    assert error.location and all(isinstance(where, str) and where for where in error.location)
    return error


def test_deeply_nested_json_is_refused() -> None:
    body = b'{"resourceType":"Parameters","parameter":' + b"[" * 5000 + b"]" * 5000 + b"}"
    assert refused(body).location == ("Parameters",)


def test_deep_nesting_inside_a_resource_is_refused() -> None:
    body = (
        b'{"resourceType":"Parameters","parameter":[{"name":"patient","resource":{"resourceType":"Patient","x":'
        + b'{"a":' * 3000
        + b"1"
        + b"}" * 3000
        + b"}}]}"
    )
    assert "not valid JSON" in refused(body).detail


@pytest.mark.parametrize(
    "body",
    [
        b"\xff\xfe{}",
        b'{"resourceType":"Parameters","parameter":[{"name":"patient\xc3\x28"}]}',
        b'{"resourceType":"Parameters","x":"\xed\xa0\x80"}',  # an encoded surrogate
        b"",
        b"   ",
        b"{",
        b'{"resourceType":"Parameters"} trailing',
        b'{"resourceType":"Parameters","n":NaN}',
    ],
)
def test_invalid_json_or_utf8_is_refused(body: bytes) -> None:
    error = refused(body)
    assert error.location == ("Parameters",)
    assert "not valid JSON" in error.detail


@pytest.mark.parametrize("body", [b"[]", b'[{"resourceType":"Parameters"}]', b'"Parameters"', b"42", b"null"])
def test_a_body_that_is_not_an_object_is_refused(body: bytes) -> None:
    assert "must be a JSON object" in refused(body).detail


@pytest.mark.parametrize("kind", ["Bundle", "Patient", "parameters", None, 7])
def test_wrong_resource_type_is_refused(kind: Any) -> None:
    data = example(EX1)
    data["resourceType"] = kind
    assert "must be a Parameters resource" in refused(orjson.dumps(data)).detail


def test_missing_patient_is_refused() -> None:
    body = with_changes(EX1, lambda d: d.update(parameter=[p for p in d["parameter"] if p["name"] != "patient"]))
    error = refused(body)
    assert error.detail == "The patient parameter is required"
    assert error.location == ("Parameters.parameter",)


def test_no_parameters_at_all_is_refused() -> None:
    assert "patient parameter is required" in refused(b'{"resourceType":"Parameters"}').detail


def test_missing_authorized_practitioner_is_refused() -> None:
    body = with_changes(
        EX1, lambda d: d.update(parameter=[p for p in d["parameter"] if p["name"] != "authorized-practitioner"])
    )
    assert "authorized-practitioner parameter is required" in refused(body).detail


@pytest.mark.parametrize(
    ("change", "location", "detail"),
    [
        (lambda p: p.update(birthDate="1980-05"), ".birthDate", "Patient.birthDate is not a full date (YYYY-MM-DD)"),
        (lambda p: p.update(birthDate="1980"), ".birthDate", "Patient.birthDate is not a full date (YYYY-MM-DD)"),
        (lambda p: p.update(birthDate="1980-02-30"), ".birthDate", "Patient.birthDate is not a valid calendar date"),
        (lambda p: p.update(birthDate="19800520"), ".birthDate", "Patient.birthDate is not a full date (YYYY-MM-DD)"),
        (
            lambda p: p.update(birthDate="１９８０-05-20"),
            ".birthDate",
            "Patient.birthDate is not a full date (YYYY-MM-DD)",
        ),
        (lambda p: p.update(birthDate="2099-01-01"), ".birthDate", "Patient.birthDate is in the future"),
        (lambda p: p.update(birthDate=19800520), ".birthDate", "Patient.birthDate must be a string"),
        (lambda p: p.pop("birthDate"), ".birthDate", "Patient.birthDate is required"),
        (lambda p: p.update(name=[{"given": ["August"]}]), ".name[0].family", "Patient.name.family is required"),
        (lambda p: p.update(name=[{"family": "  "}]), ".name[0].family", "Patient.name.family is required"),
        (lambda p: p.pop("name"), ".name.family", "Patient.name.family is required"),
        (lambda p: p.update(name={"family": "X"}), ".name", "Patient.name must be an array"),
        (lambda p: p.update(name=["Samuels"]), ".name[0]", "Patient.name must be a JSON object"),
        (lambda p: p.update(name=[{"family": 42}]), ".name[0].family", "Patient.name.family must be a string"),
        (lambda p: p.update(name=[{"family": "X", "given": [1]}]), ".name[0].given[0]", "must be a string"),
        (lambda p: p.update(gender="M"), ".gender", "Patient.gender is not an administrative-gender code"),
        (lambda p: p.update(gender=True), ".gender", "Patient.gender must be a string"),
        (lambda p: p.update(address=[{"postalCode": 1059}]), ".address[0].postalCode", "must be a string"),
        (lambda p: p.update(identifier=[{"value": "x"}] * 21), ".identifier", "has more than 20 entries"),
        (lambda p: p.update(identifier=[{"value": ["x"]}]), ".identifier[0].value", "must be a string"),
        (lambda p: p.update(telecom=[{"system": "phone", "value": None}, 5]), ".telecom[1]", "must be a JSON object"),
    ],
)
def test_bad_patient_fields_are_refused_with_their_location(change: Any, location: str, detail: str) -> None:
    error = refused(with_changes(EX1, lambda d: change(patient_of(d))))
    assert error.location == (f"Parameters.parameter[0].resource{location}",)
    assert detail in error.detail


def test_huge_strings_are_refused_without_echoing_them() -> None:
    huge = "Z" * 1_000_000
    error = refused(with_changes(EX1, lambda d: patient_of(d)["name"][0].update(family=huge)))
    assert error.location == ("Parameters.parameter[0].resource.name[0].family",)
    assert "longer than" in error.detail
    assert "ZZZ" not in error.detail


def test_huge_strings_where_the_codec_does_not_look_are_harmless() -> None:
    body = with_changes(EX1, lambda d: patient_of(d)["text"].update(div="<div>" + "x" * 1_000_000 + "</div>"))
    assert decode_pdmp_history(body, today=TODAY).request.patient.name.family == "Samuels"


@pytest.mark.parametrize(
    ("change", "detail"),
    [
        (lambda d: d.update(parameter={"name": "patient"}), "Parameters.parameter must be an array"),
        (lambda d: d.update(parameter=[None]), "Parameters.parameter must be a JSON object"),
        (lambda d: d["parameter"].append({"valueString": "x"}), "Parameters.parameter.name is required"),
        (lambda d: d["parameter"].append({"name": 7}), "Parameters.parameter.name must be a string"),
        (lambda d: d["parameter"].append(parameter(d, "patient")), "The patient parameter is repeated"),
        (lambda d: parameter(d, "patient").update(resource=[]), "must be a JSON object"),
        (lambda d: parameter(d, "patient")["resource"].update(resourceType="Person"), "must be a Patient resource"),
        (lambda d: parameter(d, "patient").pop("resource"), "must carry a Patient resource"),
        (lambda d: parameter(d, "patient")["resource"].update(id=5), "Patient.id must be a string"),
        (lambda d: d["parameter"].append({"name": "x", "resource": {"id": "a"}}), "resourceType is required"),
        (lambda d: d.update(parameter=[{"name": "p"}] * 101), "has more than 100 entries"),
        (lambda d: parameter(d, "patient").update(extension={}), "extension must be an array"),
        (
            lambda d: parameter(d, "authorized-practitioner")["resource"].update(identifier=[{"system": 1}]),
            "Practitioner.identifier.system must be a string",
        ),
        (
            lambda d: parameter(d, "authorized-practitioner-role")["resource"].update(specialty=[{"coding": 1}]),
            "PractitionerRole.specialty.coding must be an array",
        ),
        (
            lambda d: parameter(d, "authorized-practitioner-organization")["resource"].update(name=["x"]),
            "Organization.name must be a string",
        ),
    ],
)
def test_bad_structure_is_refused(change: Any, detail: str) -> None:
    assert detail in refused(with_changes(EX1, change)).detail


def _raised(body: bytes) -> PmpError | None:
    """The PmpError decoding raises, or None; any other exception fails the test."""
    try:
        decode_pdmp_history(body, today=TODAY)
    except PmpError as error:
        return error
    return None


def test_numbers_where_strings_belong_everywhere() -> None:
    """Replace each string leaf of example 4 by a number, one at a time: a refusal or an ignored field, no crash."""
    data = example(EX4)
    paths: list[tuple[Any, ...]] = []

    def walk(value: Any, path: tuple[Any, ...]) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(v, (*path, k))
        elif isinstance(value, list):
            for i, v in enumerate(value):
                walk(v, (*path, i))
        elif isinstance(value, str):
            paths.append(path)

    walk(data, ())
    assert len(paths) > 90
    refusals = set()
    for path in paths:
        changed = example(EX4)
        node = changed
        for step in path[:-1]:
            node = node[step]
        node[path[-1]] = 12345
        error = _raised(orjson.dumps(changed))
        if error is not None:
            assert error.code == pb.ERROR_CODE_INVALID_REQUEST
            assert error.location
            refusals.add(path)
    mapped = [
        ("parameter", 0, "resource", "name", 0, "family"),
        ("parameter", 0, "resource", "birthDate"),
        ("parameter", 0, "resource", "identifier", 0, "value"),
        ("parameter", 1, "resource", "identifier", 0, "system"),
        ("parameter", 6, "resource", "name"),  # the delegate's organization names the requester's
        ("parameter", 5, "resource", "specialty", 0, "coding", 0, "code"),
    ]
    assert set(mapped) <= refusals


# --- fuzzing -------------------------------------------------------------------------------------------------------

JSON_LEAVES = st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats(allow_nan=False) | st.text()
JSON_VALUES = st.recursive(
    JSON_LEAVES,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)
PATIENT_KEYS = st.sampled_from(
    [
        "resourceType",
        "id",
        "name",
        "birthDate",
        "_birthDate",
        "gender",
        "address",
        "telecom",
        "identifier",
        "extension",
    ]
)
NAME_LIKE = st.dictionaries(
    st.sampled_from(["family", "given", "use", "prefix", "suffix", "line", "system", "value", "type", "coding"]),
    JSON_VALUES,
    max_size=5,
)
RESOURCE_LIKE = st.dictionaries(
    PATIENT_KEYS,
    JSON_VALUES | st.lists(NAME_LIKE, max_size=3) | st.sampled_from(["1980-05-20", "1980-05", "Patient"]),
    max_size=8,
)
PARAMETER = st.fixed_dictionaries(
    {"name": st.sampled_from([*RESOURCE_PARAMETERS, "pre-stage-only", "other"]) | st.text(max_size=5)},
    optional={
        "resource": RESOURCE_LIKE | JSON_VALUES,
        "valueReference": st.fixed_dictionaries({"reference": st.text(max_size=20) | JSON_LEAVES}) | JSON_VALUES,
        "valueBoolean": JSON_LEAVES,
        "extension": st.lists(
            st.fixed_dictionaries(
                {
                    "url": st.just("http://hl7.org/fhir/us/pdmp/StructureDefinition/pdmp-activity-period-extension"),
                    "valuePeriod": st.dictionaries(st.sampled_from(["start", "end"]), JSON_LEAVES) | JSON_VALUES,
                }
            ),
            max_size=2,
        )
        | JSON_VALUES,
    },
)


def _decodes_or_refuses(body: bytes) -> None:
    error = _raised(body)
    if error is not None:
        assert error.code in (pb.ERROR_CODE_INVALID_REQUEST, pb.ERROR_CODE_UNSUPPORTED)
        assert error.location


@FUZZ
@given(st.binary(max_size=2000))
def test_fuzz_bytes(body: bytes) -> None:
    _decodes_or_refuses(body)


@FUZZ
@given(JSON_VALUES)
def test_fuzz_json_values(value: Any) -> None:
    _decodes_or_refuses(orjson.dumps(value))


@FUZZ
@given(st.lists(PARAMETER, max_size=6))
def test_fuzz_parameters(parameters: list[Any]) -> None:
    _decodes_or_refuses(orjson.dumps({"resourceType": "Parameters", "parameter": parameters}))


@FUZZ
@given(st.sampled_from(list(RESOURCE_PARAMETERS)), RESOURCE_LIKE, st.booleans())
def test_fuzz_one_resource_of_a_valid_request(name: str, resource: dict[str, Any], keep_type: bool) -> None:
    """Example 4 with one of its resources replaced by noise (keeping its resourceType, or not)."""
    data = example(EX4)
    target = next((p for p in data["parameter"] if p["name"] == name), None)
    if target is None:
        target = {"name": name}
        data["parameter"].append(target)
    if keep_type:
        resource["resourceType"] = RESOURCE_PARAMETERS[name]
    target["resource"] = resource
    _decodes_or_refuses(orjson.dumps(data))


@FUZZ
@given(st.data())
def test_fuzz_truncated_and_mutated_example(data: st.DataObject) -> None:
    body = orjson.dumps(example(EX4))
    cut = data.draw(st.integers(0, len(body)))
    flip = data.draw(st.integers(0, max(0, cut - 1)))
    mutated = bytearray(body[:cut])
    if mutated:
        mutated[flip] = data.draw(st.integers(0, 255))
    _decodes_or_refuses(bytes(mutated))
