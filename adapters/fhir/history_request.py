"""``$pdmp-history`` from the asking side: a ``pb.SearchHistoryRequest`` as the IG's input Parameters.

Used when this PMP asks a partner state's FHIR hub (``gateway.interstate``). The Parameters are the ones
``decode_pdmp_history`` reads — a test decodes what this encodes and gets the same patient, requester and period:

* ``patient`` — a ``pdmp-patient``: name (given + middle), birth date, gender, address, phone, identifiers (SSN,
  driver's licence, medical record number as the IG's identifier slices), with the report period as the IG's
  ``pdmp-activity-period-extension`` on the parameter;
* ``authorized-practitioner`` — the end user, or for a delegate the supervising practitioner (NPI, DEA, state
  licence with its state as the US Core jurisdiction extension), and ``authorized-practitioner-role`` with the
  requester's NUCC taxonomy code in ``PractitionerRole.code`` (the partner's role rules are by taxonomy);
* ``delegate-practitioner`` and ``delegate-practitioner-role`` for a delegate;
* ``authorized-practitioner-organization`` — the requester's organization, when known;
* ``pdmp-states`` = ``NONE`` — this gateway's own extension (``adapters.fhir.sources``): answer from your state
  only. A partner hub that runs this gateway never fans a partner's query out again anyway; saying so in the
  request is defence in depth against a query bouncing between two hubs that list each other.

Resources are inline (``parameter.resource``), as every IG example carries them.
"""

from __future__ import annotations

from typing import Any, Final

import orjson

from adapters.fhir.codes import (
    EXT_ACTIVITY_PERIOD,
    EXT_US_CORE_JURISDICTION,
    PROFILE_PARAMETERS_REQUEST,
    PROFILE_PDMP_PATIENT,
    SYSTEM_DEA,
    SYSTEM_NPI,
    SYSTEM_NUCC,
    SYSTEM_SSN,
    SYSTEM_V2_0203,
)
from adapters.fhir.resources import GENDER_OUT, address, human_name
from adapters.fhir.sources import STATES_PARAMETER, THIS_STATE_ONLY
from protos.pmp.v1 import pmp_pb2 as pb

Json = dict[str, Any]

_IDENTIFIER_TYPES: Final = {  # pb.Identifier.type → v2-0203 code (the IG's Patient identifier slices)
    "SSN": "SS",
    "DL": "DL",
    "MR": "MR",
}
_DELEGATES: Final = frozenset({pb.ROLE_LICENSED_DELEGATE, pb.ROLE_UNLICENSED_DELEGATE})


def _v2_type(code: str) -> Json:
    return {"coding": [{"system": SYSTEM_V2_0203, "code": code}]}


def _patient(q: pb.PatientQuery) -> Json:
    resource: Json = {"resourceType": "Patient", "meta": {"profile": [PROFILE_PDMP_PATIENT]}}
    identifiers: list[Json] = []
    for ident in q.identifiers:
        if not ident.value:
            continue
        code = _IDENTIFIER_TYPES.get(ident.type)
        out: Json = {"type": _v2_type(code)} if code else {}
        if ident.type == "SSN":
            out["system"] = SYSTEM_SSN
        out["value"] = ident.value
        if ident.issuer and ident.type != "SSN":
            out["assigner"] = {"display": ident.issuer}
        if out.keys() - {"value", "assigner"}:
            identifiers.append(out)
    if identifiers:
        resource["identifier"] = identifiers
    name = human_name(q.name)
    if name:
        resource["name"] = [name]
    if q.phone:
        resource["telecom"] = [{"system": "phone", "value": q.phone}]
    if q.gender in GENDER_OUT:
        resource["gender"] = GENDER_OUT[q.gender]
    if q.birth_date:
        resource["birthDate"] = q.birth_date
    where = address(q.address)
    if where:
        resource["address"] = [where]
    return resource


def _practitioner(p: pb.Practitioner) -> Json:
    resource: Json = {"resourceType": "Practitioner"}
    identifiers: list[Json] = []
    if p.npi:
        identifiers.append({"system": SYSTEM_NPI, "value": p.npi})
    if p.dea:
        identifiers.append({"system": SYSTEM_DEA, "value": p.dea})
    if p.state_license:
        licence: Json = {"type": _v2_type("SL"), "value": p.state_license}
        if p.license_state:
            licence["extension"] = [
                {"url": EXT_US_CORE_JURISDICTION, "valueCodeableConcept": {"coding": [{"code": p.license_state}]}}
            ]
        identifiers.append(licence)
    if identifiers:
        resource["identifier"] = identifiers
    name = human_name(p.name)
    if name:
        resource["name"] = [name]
    return resource


def _role(taxonomy: str) -> Json:
    return {"resourceType": "PractitionerRole", "code": [{"coding": [{"system": SYSTEM_NUCC, "code": taxonomy}]}]}


def encode_history_request(request: pb.SearchHistoryRequest, *, taxonomy: str = "") -> bytes:
    """The ``$pdmp-history`` input Parameters asking for ``request``; ``taxonomy`` is the requester's NUCC code
    (the delegate's for a delegate), sent as the PractitionerRole code when given."""
    requester = request.requester
    period = request.date_range
    patient: Json = {"name": "patient"}
    if period.start or period.end:
        value = {k: v for k, v in (("start", period.start), ("end", period.end)) if v}
        patient["extension"] = [{"url": EXT_ACTIVITY_PERIOD, "valuePeriod": value}]
    patient["resource"] = _patient(request.patient)
    parameters: list[Json] = [patient]
    delegate = requester.role in _DELEGATES and requester.HasField("on_behalf_of")
    authorized = requester.on_behalf_of if delegate else requester.practitioner
    parameters.append({"name": "authorized-practitioner", "resource": _practitioner(authorized)})
    if taxonomy and not delegate:
        parameters.append({"name": "authorized-practitioner-role", "resource": _role(taxonomy)})
    if requester.organization:
        organization = {"resourceType": "Organization", "name": requester.organization}
        parameters.append({"name": "authorized-practitioner-organization", "resource": organization})
    if delegate:
        parameters.append({"name": "delegate-practitioner", "resource": _practitioner(requester.practitioner)})
        if taxonomy:
            parameters.append({"name": "delegate-practitioner-role", "resource": _role(taxonomy)})
    parameters.append({"name": STATES_PARAMETER, "valueCode": THIS_STATE_ONLY})
    return orjson.dumps(
        {"resourceType": "Parameters", "meta": {"profile": [PROFILE_PARAMETERS_REQUEST]}, "parameter": parameters}
    )
