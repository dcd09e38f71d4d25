"""Shared data for the FHIR codec tests: the IG examples, a realistic answer, and output validation with
``fhir.resources`` (R4B models; structure and types, not the IG's profiles)."""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import orjson
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir.resources.R4B.parameters import Parameters

from protos.pmp.v1 import pmp_pb2 as pb

EXAMPLES = Path(__file__).parent / "ig_examples"
STU1 = EXAMPLES / "stu1"
PRESTU1 = EXAMPLES / "prestu1"
INPUT_EXAMPLES = sorted(EXAMPLES.glob("*/Parameters-pdmp-history-input-*.json"))
TODAY = date(2026, 11, 23)
NOW = datetime(2026, 11, 23, 15, 4, 5, tzinfo=UTC)
SOURCE = "https://pmp.example.gov/fhir"


def example(name: str, folder: Path = STU1) -> dict[str, Any]:
    data: dict[str, Any] = orjson.loads((folder / f"{name}.json").read_bytes())
    return data


def example_bytes(name: str, folder: Path = STU1) -> bytes:
    return (folder / f"{name}.json").read_bytes()


def dumps(value: Any) -> bytes:
    return orjson.dumps(value)


def with_changes(name: str, change: Any) -> bytes:
    """An IG example, changed by ``change(data)`` (which edits in place), as bytes."""
    data = copy.deepcopy(example(name))
    change(data)
    return orjson.dumps(data)


EX1 = "Parameters-pdmp-history-input-parameters-1"
EX2 = "Parameters-pdmp-history-input-parameters-2-minimum"
EX4 = "Parameters-pdmp-history-input-parameters-4-delegate"


def patient_of(data: dict[str, Any]) -> dict[str, Any]:
    """The Patient resource inside an input Parameters."""
    resource: dict[str, Any] = next(p for p in data["parameter"] if p["name"] == "patient")["resource"]
    return resource


def parameter(data: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(p for p in data["parameter"] if p["name"] == name)
    return found


# --- validation of outputs ---------------------------------------------------------------------------------------


def valid_parameters(body: bytes) -> dict[str, Any]:
    data: dict[str, Any] = orjson.loads(body)
    Parameters.model_validate(data)
    return data


def valid_bundle(body: bytes) -> dict[str, Any]:
    data: dict[str, Any] = orjson.loads(body)
    Bundle.model_validate(data)
    return data


def valid_outcome(body: bytes) -> dict[str, Any]:
    data: dict[str, Any] = orjson.loads(body)
    OperationOutcome.model_validate(data)
    return data


def resources_of(bundle: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle.get("entry", []) if e["resource"]["resourceType"] == kind]


def history_bundle(parameters: dict[str, Any]) -> dict[str, Any]:
    return parameter(parameters, "pdmp-history-data")["resource"]


def outcome_of(parameters: dict[str, Any]) -> dict[str, Any]:
    return parameter(parameters, "outcome")["resource"]


# --- a realistic answer -------------------------------------------------------------------------------------------

PHARMACIES = (
    pb.Pharmacy(
        npi="1669512349",
        ncpdp="4512345",
        dea="BO1234563",
        name="Oak Street Pharmacy",
        address=pb.Address(line1="220 Oak St", city="Salt Lake City", state="UT", postal_code="84101"),
        phone="801-555-0100",
    ),
    pb.Pharmacy(ncpdp="4598765", name="Canyon Drug", address=pb.Address(city="Provo", state="UT")),
    pb.Pharmacy(npi="1234567893", dea="FC7654321", name="Valley Care Pharmacy"),
)
PRESCRIBERS = (
    pb.Practitioner(
        name=pb.HumanName(family="Fiorella", given="Marie", suffix="MD"),
        npi="9941339100",
        dea="CF1234563",
        state_license="12345-MD",
        license_state="UT",
    ),
    pb.Practitioner(name=pb.HumanName(family="Okafor", given="Chidi"), dea="BO7654321"),
)
DRUGS = (
    pb.Drug(ndc="00406055201", name="Oxycodone HCl 5 mg tablet", strength="5 mg", dosage_form="tablet"),
    pb.Drug(ndc="00093015001", name="Acetaminophen 300 mg / Codeine 30 mg tablet"),
    None,  # an NDC the drug reference does not know
)
MATCHED = pb.MatchedPatient(
    id="1042",
    record_ids=["1042", "2077"],
    name=pb.HumanName(family="Samuels", given="August", middle="Thomas"),
    birth_date="1989-03-12",
    gender=pb.GENDER_MALE,
    address=pb.Address(line1="10 Main St", city="Ogden", state="UT", postal_code="84401", country="US"),
    score=0.97,
)


def dispensation(i: int) -> pb.Dispensation:
    """The i-th dispensation: two fills per prescription (original, refill), prescriptions rotating over the
    pharmacies and prescribers; every 5th has no drug reference, every 7th is revised, every 4th is a partial fill,
    every 6th was not (yet) reported sold."""
    pharmacy = PHARMACIES[(i // 2) % 3]
    drug = DRUGS[i % 3] if i % 5 else None
    rx = f"RX{1000 + i // 2}"  # two fills per prescription
    d = pb.Dispensation(
        id=str(50000 + i),
        patient_id="1042" if i % 2 else "2077",
        source_state="UT",
        pharmacy=pharmacy,
        patient_name=MATCHED.name,
        patient_birth_date=MATCHED.birth_date,
        patient_gender=MATCHED.gender,
        patient_address=MATCHED.address,
        prescriber=PRESCRIBERS[(i // 2) % 2],
        rx_number=rx,
        date_written=f"2026-{1 + (i // 2) % 10:02d}-01",
        date_filled=f"2026-{1 + i % 10:02d}-{1 + i % 27:02d}",
        date_sold="" if i % 6 == 0 else f"2026-{1 + i % 10:02d}-{2 + i % 27:02d}",
        refill_number=i % 2,
        refills_authorized=2,
        product_id_qualifier="01",
        ndc=drug.ndc if drug else "00591038501",
        quantity=30.0 if i % 3 else 12.5,
        quantity_unit=("01", "02", "03")[i % 3],
        days_supply=30 if i % 3 else 5,
        payment_type=("01", "02", "04", "99")[i % 4],
        partial_fill="01" if i % 4 == 0 else "00",
        transmission_form=("05", "01")[i % 2],
        status="revised" if i % 7 == 0 else "reported",
        pharmacist_npi="1112223334",
        rxnorm_code="1049621" if i % 3 == 0 else "",
    )
    if drug is not None:
        d.drug.CopyFrom(drug)
    return d


def found(count: int = 25, total: int | None = None) -> pb.SearchHistoryResponse:
    return pb.SearchHistoryResponse(
        match_status=pb.MATCH_STATUS_FOUND,
        patients=[MATCHED],
        dispensations=[dispensation(i) for i in range(count)],
        total_dispensations=count if total is None else total,
    )


def history_request() -> pb.SearchHistoryRequest:
    return pb.SearchHistoryRequest(
        patient=pb.PatientQuery(name=pb.HumanName(family="Samuels", given="August"), birth_date="1989-03-12"),
        date_range=pb.DateRange(start="2025-11-23", end="2026-11-23"),
    )
