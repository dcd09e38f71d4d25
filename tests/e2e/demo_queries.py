"""Queries for the demo data's ground truth (``<data_dir>/demo/ground-truth.json``), shared by the e2e tests."""

from __future__ import annotations

import uuid
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


def ncpdp_request(person: dict[str, Any], truth: dict[str, Any], npi: str) -> bytes:
    """A SCRIPT 2017071 RxHistoryRequest for a ground-truth person, from the prescriber with ``npi``."""
    q = person["query"]
    gender = q["gender"] if q["gender"] in ("F", "M") else "U"
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<Message xmlns="http://www.ncpdp.org/schema/SCRIPT" TransactionDomain="SCRIPT" TransactionVersion="20170715"
         StructuresVersion="20170715" DatatypesVersion="20170715" TransportVersion="20170715" ECLVersion="20170715">
  <Header><To Qualifier="ZZZ">UTPMP</To><From Qualifier="D">VALLEYEHR</From>
    <MessageID>e2e-{uuid.uuid4().hex[:20]}</MessageID><SentTime>2026-01-05T10:00:00Z</SentTime></Header>
  <Body><RxHistoryRequest>
    <Patient><HumanPatient><Name><LastName>{q["last_name"]}</LastName><FirstName>{q["first_name"]}</FirstName></Name>
      <Gender>{gender}</Gender><DateOfBirth><Date>{q["birth_date"]}</Date></DateOfBirth>
      <Address><PostalCode>{q["zip"]}</PostalCode></Address></HumanPatient></Patient>
    <Prescriber><NonVeterinarian><Identification><NPI>{npi}</NPI></Identification>
      <Name><LastName>AMSTER</LastName><FirstName>ADAM</FirstName></Name></NonVeterinarian></Prescriber>
    <RequestedDates><StartDate><Date>{truth["start"]}</Date></StartDate><EndDate><Date>{truth["end"]}</Date></EndDate>
    </RequestedDates>
  </RxHistoryRequest></Body>
</Message>""".encode()
