"""``$pdmp-history``: the input Parameters → ``pb.SearchHistoryRequest``; the answer → output Parameters.

Decoding accepts every IG example unchanged and refuses, as INVALID_REQUEST with a FHIRPath location, anything the
search cannot be asked from: no JSON object, no Parameters, no ``patient``, no family name, a partial or impossible
birth date, an unresolvable reference, a bad period. Nothing else is ever raised. ``pre-stage-only=true`` and
``pre-stage-retrieval-key`` are UNSUPPORTED: this responder answers at once and stages nothing.

The IG has no request date range (standards.md §1.10); the period comes from the IG's
``pdmp-activity-period-extension`` on any input parameter (its context is ``Parameters.parameter``; the patient
parameter is the natural place), else the last ``default_lookback_days`` days. The answer echoes the period it
searched, and the time it answered, as that extension and ``pdmp-header-timestamp-extension`` on its first
parameter.

The result Bundle carries a DetectedIssue per clinical alert pmpdb computed (``resources``), right after the Patient,
and each MedicationDispense its ``pdmp-extension-mme`` when pmpdb knows it.

Encoding follows the IG's response examples: 1 (data), 3 (no data), 6 (a warning with data), 7 (errors, via
``encode_outcome``). A FOUND answer with dispensations gives ``pdmp-history-data`` + ``outcome`` (complete, and a
warning when more dispensations exist than were returned); no data gives ``outcome`` no-data only — the IG says
no Bundle then; an ambiguous match gives ``outcome`` deferred, without describing the candidates.

Interstate (``sources``): the ``pdmp-states`` input names the partner states to ask; an answer merged from several
PMPs gives each state's records their own ``meta.source`` and Patient, and a warning per state that is missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import orjson

from adapters.fhir._json import At, get_object, get_text, load_object, objects
from adapters.fhir.codes import (
    EXT_ACTIVITY_PERIOD,
    EXT_HEADER_TIMESTAMP,
    PROFILE_BUNDLE_RESULT,
    PROFILE_PARAMETERS_RESPONSE,
)
from adapters.fhir.dates import PERIOD_TOO_LONG, date_bounds
from adapters.fhir.demographics import organization_name, read_patient, read_practitioner
from adapters.fhir.outcome import (
    ambiguous_issue,
    complete_issue,
    no_data_issue,
    operation_outcome,
    truncated_issue,
)
from adapters.fhir.parameters import ROOT, InputParameters, unsupported
from adapters.fhir.resources import ResourceBuilder, instant, matched_patient
from adapters.fhir.roles import authorized_role, delegate_role, profession, taxonomy
from adapters.fhir.sources import counts_text, merged_entries, partial_issues, read_states
from adapters.period import report_period
from protos.pmp.v1 import pmp_pb2 as pb

Json = dict[str, Any]


@dataclass(frozen=True, slots=True)
class HistoryParams:
    """A decoded ``$pdmp-history`` request."""

    request: pb.SearchHistoryRequest
    states: tuple[str, ...] = ()  # interstate: the pdmp-states parameter (``sources``), also in ``request.states``
    taxonomy: str = ""  # the requester's NUCC code from its PractitionerRole (the delegate's for a delegate); a claim


def decode_pdmp_history(
    body: bytes,
    *,
    today: date,
    default_lookback_days: int = 365,
    max_lookback_days: int = 3 * 366,
) -> HistoryParams:
    """The search a ``$pdmp-history`` Parameters body asks for. Raises only ``PmpError``."""
    inputs = InputParameters(load_object(body, "Parameters"))
    _refuse_pre_stage(inputs)
    patient = inputs.require("patient", "Patient")
    request = pb.SearchHistoryRequest(
        patient=read_patient(*patient, today=today),
        requester=_requester(inputs),
        date_range=_period(
            inputs, today=today, default_lookback_days=default_lookback_days, max_lookback_days=max_lookback_days
        ),
        states=read_states(inputs),
    )
    return HistoryParams(request, tuple(request.states), _requester_taxonomy(inputs))


def _refuse_pre_stage(inputs: InputParameters) -> None:
    pre_stage = inputs.value("pre-stage-only")
    if pre_stage is not None and pre_stage[0] is True:
        raise unsupported(pre_stage[1], "pre-stage-only is not supported: this PMP answers at once")
    key = inputs.value("pre-stage-retrieval-key")
    if key is not None:
        raise unsupported(key[1], "pre-stage-retrieval-key is not supported: this PMP stages no answers")


def _requester(inputs: InputParameters) -> pb.Requester:
    """The end user: the authorized practitioner, or the delegate acting on their behalf."""
    authorized = inputs.require("authorized-practitioner", "Practitioner")
    authorized_role_res = inputs.resource("authorized-practitioner-role", "PractitionerRole")
    authorized_org = inputs.resource("authorized-practitioner-organization", "Organization")
    delegate = inputs.resource("delegate-practitioner", "Practitioner")
    delegate_role_res = inputs.resource("delegate-practitioner-role", "PractitionerRole")
    delegate_org = inputs.resource("delegate-organization", "Organization")
    inputs.resource("animal-owner", "RelatedPerson")  # checked, not searched on
    supervisor = read_practitioner(*authorized)
    if delegate is None:
        for name in ("delegate-practitioner-role", "delegate-organization"):
            stray = inputs.at(name)
            if stray is not None:
                raise stray.error("is given without a delegate-practitioner")
        organization = organization_name(*authorized_org) if authorized_org else ""
        found = profession(*authorized_role_res) if authorized_role_res else None
        return pb.Requester(role=authorized_role(found), practitioner=supervisor, organization=organization)
    org = delegate_org or authorized_org
    found = profession(*delegate_role_res) if delegate_role_res else None
    return pb.Requester(
        role=delegate_role(found),
        practitioner=read_practitioner(*delegate),
        on_behalf_of=supervisor,
        organization=organization_name(*org) if org else "",
    )


def _requester_taxonomy(inputs: InputParameters) -> str:
    """The NUCC code of the requester's PractitionerRole: the delegate's when there is a delegate."""
    delegate = inputs.resource("delegate-practitioner", "Practitioner") is not None
    name = "delegate-practitioner-role" if delegate else "authorized-practitioner-role"
    role = inputs.resource(name, "PractitionerRole")
    return taxonomy(*role) if role else ""


def _period(
    inputs: InputParameters, *, today: date, default_lookback_days: int, max_lookback_days: int
) -> pb.DateRange:
    found: tuple[Json, At] | None = None
    for parameter, at in inputs.all:
        for extension, where in objects(parameter, "extension", at):
            if get_text(extension, "url", where) == EXT_ACTIVITY_PERIOD:
                if found is not None:
                    raise where.relabel("The pdmp-activity-period-extension").error("is repeated")
                found = (extension, where)
    start = end = None
    at = ROOT.relabel("The report period")
    if found is not None:
        extension, where = found
        at = where.child("valuePeriod", "The pdmp-activity-period-extension valuePeriod")
        period = get_object(extension, "valuePeriod", where)
        if period is None:
            raise at.error("is required")
        start_text = get_text(period, "start", at)
        end_text = get_text(period, "end", at)
        if start_text:
            start = date_bounds(start_text, at.key("start"))[0]
        if end_text:
            end = date_bounds(end_text, at.key("end"))[1]
    return report_period(
        start,
        end,
        today=today,
        default_lookback_days=default_lookback_days,
        max_lookback_days=max_lookback_days,
        at=at,
        too_long=PERIOD_TOO_LONG,
    )


def period_extensions(request: pb.SearchHistoryRequest, stamp: str) -> list[Json]:
    """The searched period and the answer's time, for the answer's first parameter."""
    out: list[Json] = []
    period = request.date_range
    if period.start or period.end:
        value = {k: v for k, v in (("start", period.start), ("end", period.end)) if v}
        out.append({"url": EXT_ACTIVITY_PERIOD, "valuePeriod": value})
    out.append({"url": EXT_HEADER_TIMESTAMP, "valueDateTime": stamp})
    return out


def encode_pdmp_history(
    response: pb.SearchHistoryResponse,
    *,
    request: pb.SearchHistoryRequest,
    patient_id: str,
    source: str,
    now: datetime,
) -> bytes:
    """The ``$pdmp-history`` output Parameters (pdmp-parameters-response) for one answer."""
    stamp = instant(now)
    parameters: list[Json] = []
    extensions: list[Json] | None = period_extensions(request, stamp)  # on the first parameter
    returned = len(response.dispensations)
    if response.match_status == pb.MATCH_STATUS_FOUND and returned:
        if response.sources:  # interstate: several PMPs' records, each with its own meta.source
            entries = merged_entries(response, source=source, patient_id=patient_id)
        else:
            builder = ResourceBuilder(source, patient_id, matched_patient(response))
            builder.add_alerts(response.alerts)
            for dispensation in response.dispensations:
                builder.add(dispensation)
            entries = list(builder.entries())
        bundle = {
            "resourceType": "Bundle",
            "meta": {"profile": [PROFILE_BUNDLE_RESULT]},
            "type": "collection",
            "timestamp": stamp,
            "entry": [{"fullUrl": url, "resource": resource} for url, resource in entries],
        }
        parameters.append({"name": "pdmp-history-data", "extension": extensions, "resource": bundle})
        extensions = None
        issues = [complete_issue(returned, counts_text(response))]
        if response.total_dispensations > returned:
            issues.append(truncated_issue(returned, response.total_dispensations))
    elif response.match_status == pb.MATCH_STATUS_AMBIGUOUS:
        issues = [ambiguous_issue()]
    else:
        issues = [no_data_issue()]
    issues.extend(partial_issues(response, skip_own_deferred=response.match_status == pb.MATCH_STATUS_AMBIGUOUS))
    outcome: Json = {"name": "outcome"}
    if extensions is not None:
        outcome["extension"] = extensions
    outcome["resource"] = operation_outcome(issues)
    parameters.append(outcome)
    return orjson.dumps(
        {"resourceType": "Parameters", "meta": {"profile": [PROFILE_PARAMETERS_RESPONSE]}, "parameter": parameters}
    )
