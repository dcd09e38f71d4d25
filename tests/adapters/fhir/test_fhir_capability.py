"""``capability_statement`` and ``operation_definition``: valid R4B resources that say what the codec does."""

from __future__ import annotations

from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.operationdefinition import OperationDefinition
from fhir_test_data import PRESTU1, example

import adapters.fhir as fhir
from adapters.fhir.capability import PROFILES_DIR
from adapters.fhir.codes import OPERATION_PDMP_HISTORY
from adapters.fhir.parameters import RESOURCE_PARAMETERS, VALUE_PARAMETERS
from adapters.fhir.search import CURSOR_PARAM, INCLUDES
from adapters.fhir.sources import STATES_PARAMETER

BASE = "https://pmp.example.gov/fhir"


def test_capability_statement() -> None:
    statement = fhir.capability_statement(BASE + "/")
    CapabilityStatement.model_validate(statement)
    assert statement["url"] == f"{BASE}/metadata"
    assert statement["implementation"]["url"] == BASE
    assert (statement["fhirVersion"], statement["kind"]) == ("4.0.1", "instance")
    assert "json" in statement["format"]
    (rest,) = statement["rest"]
    assert rest["mode"] == "server"
    (service,) = rest["security"]["service"]
    assert service["coding"][0] == {
        "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
        "code": "SMART-on-FHIR",
        "display": "SMART-on-FHIR",
    }
    definition = fhir.operation_definition()["url"]
    resources = {r["type"]: r for r in rest["resource"]}
    assert rest["operation"] == [{**rest["operation"][0], "name": "pdmp-history", "definition": definition}]
    assert resources["Patient"]["operation"][0]["definition"] == definition
    dispense = resources["MedicationDispense"]
    assert dispense["interaction"] == [{"code": "search-type"}]
    assert {p["name"] for p in dispense["searchParam"]} == {
        "subject",
        "patient",
        "whenhandedover",
        "status",
        CURSOR_PARAM,
    }
    assert set(dispense["searchInclude"]) == INCLUDES


def test_each_call_is_a_fresh_dict() -> None:
    first = fhir.capability_statement(BASE)
    first["rest"].clear()
    assert fhir.capability_statement(BASE)["rest"]
    second = fhir.operation_definition()
    second["parameter"].clear()
    assert fhir.operation_definition()["parameter"]


def test_operation_definition_is_the_igs_with_our_changes() -> None:
    ours = fhir.operation_definition()
    OperationDefinition.model_validate(ours)
    assert ours["base"] == OPERATION_PDMP_HISTORY
    assert (ours["code"], ours["system"], ours["type"], ours["instance"]) == ("pdmp-history", True, True, False)
    assert ours["resource"] == ["Patient"]
    inputs = {p["name"]: p for p in ours["parameter"] if p["use"] == "in"}
    outputs = {p["name"] for p in ours["parameter"] if p["use"] == "out"}
    assert set(inputs) == set(RESOURCE_PARAMETERS) | set(VALUE_PARAMETERS) | {STATES_PARAMETER}
    assert (inputs[STATES_PARAMETER]["type"], inputs[STATES_PARAMETER]["max"]) == ("code", "*")  # our addition
    assert outputs == {"pdmp-history-data", "pdmp-history-link", "pre-stage-retrieval-key", "outcome"}
    for name, kind in RESOURCE_PARAMETERS.items():
        assert inputs[name]["type"] == kind
    # the IG sample's inputs, same names and types (the outputs were renamed in STU1)
    ig = example("OperationDefinition-pdmp-history", PRESTU1)
    ig_inputs = {p["name"]: p["type"] for p in ig["parameter"] if p["use"] == "in"}
    assert ig_inputs == {name: p["type"] for name, p in inputs.items() if name != STATES_PARAMETER}


def test_profiles_live_in_the_repository_root() -> None:
    assert PROFILES_DIR.name == "fhir_profiles"
    assert (PROFILES_DIR.parent / "pyproject.toml").exists()
