"""Queries for the demo data's ground truth (``<data_dir>/demo/ground-truth.json``), shared by the e2e tests."""

from __future__ import annotations

from typing import Any

from tests.adapters.fhir.fhir_test_data import EX1, example

ACTIVITY_PERIOD = "http://hl7.org/fhir/us/pdmp/StructureDefinition/pdmp-activity-period-extension"


def history_parameters(person: dict[str, Any], truth: dict[str, Any]) -> dict[str, Any]:
    q = person["query"]
    params = example(EX1)  # the IG's example 1, with our patient in it
    for p in params["parameter"]:
        if p["name"] == "patient":
            p["resource"] = {
                "resourceType": "Patient",
                "name": [{"family": q["last_name"], "given": [q["first_name"]]}],
                "birthDate": q["birth_date"],
                "gender": {"F": "female", "M": "male"}.get(q["gender"], "unknown"),
                "address": [{"postalCode": q["zip"]}],
            }
            p["extension"] = [{"url": ACTIVITY_PERIOD, "valuePeriod": {"start": truth["start"], "end": truth["end"]}}]
    return params
