"""The state's disclosure rules, as data: which roles may ask for which purposes, and which fields leave.

Rule sources (see docs/architecture.md): only registered users with a bona fide treatment relationship query for
treatment; delegates act for a supervising prescriber; law enforcement needs a case number or warrant, regulators an
investigation reference; only a listed set of fields may be disclosed — pharmacy, patient name / DOB / address, dates,
Rx number, quantity, days supply, NDC / drug, prescriber (plus the refill and status fields clinical review needs).
"""

from __future__ import annotations

from typing import TypeAlias

from protos.pmp.v1 import pmp_pb2 as pb

Role: TypeAlias = pb.Role.ValueType
Purpose: TypeAlias = pb.Purpose.ValueType

TREATMENT_PURPOSES = frozenset({pb.PURPOSE_TREATMENT, pb.PURPOSE_DISPENSING})

# Role → purposes it may state. A role absent here may not query dispensation history at all.
ALLOWED_PURPOSES: dict[Role, frozenset[Purpose]] = {
    pb.ROLE_PRESCRIBER: frozenset({pb.PURPOSE_TREATMENT}),
    pb.ROLE_PHARMACIST: TREATMENT_PURPOSES,
    pb.ROLE_LICENSED_DELEGATE: TREATMENT_PURPOSES,
    pb.ROLE_UNLICENSED_DELEGATE: TREATMENT_PURPOSES,
    pb.ROLE_LAW_ENFORCEMENT: frozenset({pb.PURPOSE_INVESTIGATION}),
    pb.ROLE_REGULATOR: frozenset({pb.PURPOSE_REGULATORY}),
}

# The purpose assumed when a request states none (every IG example states none).
DEFAULT_PURPOSE: dict[Role, Purpose] = {
    pb.ROLE_PRESCRIBER: pb.PURPOSE_TREATMENT,
    pb.ROLE_PHARMACIST: pb.PURPOSE_DISPENSING,
    pb.ROLE_LICENSED_DELEGATE: pb.PURPOSE_TREATMENT,
    pb.ROLE_UNLICENSED_DELEGATE: pb.PURPOSE_TREATMENT,
    pb.ROLE_LAW_ENFORCEMENT: pb.PURPOSE_INVESTIGATION,
    pb.ROLE_REGULATOR: pb.PURPOSE_REGULATORY,
}

# Purposes that must name the matter they serve, and the refusal when the request does not. The reference travels
# in ``Requester.case_number``: law enforcement's case number or warrant, a regulator's investigation reference.
REFERENCE_REQUIRED: dict[Purpose, str] = {
    pb.PURPOSE_INVESTIGATION: "law enforcement requests need a case number or warrant",
    pb.PURPOSE_REGULATORY: "regulator requests need an investigation reference",
}

# The IG's `authorized-practitioner` is the practitioner entitled to request; every IG example leaves the
# PractitionerRole without a code. Such a requester is taken as a prescriber. Once the identify stage (issue 5)
# runs, the registry's role for the registered user replaces whatever the message says.
UNSTATED_ROLE: Role = pb.ROLE_PRESCRIBER

DELEGATE_ROLES = frozenset({pb.ROLE_LICENSED_DELEGATE, pb.ROLE_UNLICENSED_DELEGATE})

# Dispensation fields that may leave the gateway, by role. Everything else is cleared before encoding.
_LISTED = frozenset(
    {
        "id",
        "patient_id",
        "source_state",
        "pharmacy",
        "patient_name",
        "patient_birth_date",
        "patient_gender",
        "patient_address",
        "prescriber",
        "rx_number",
        "date_written",
        "date_filled",
        "date_sold",
        "refill_number",
        "refills_authorized",
        "product_id_qualifier",
        "ndc",
        "drug",
        "quantity",
        "quantity_unit",
        "days_supply",
        "partial_fill",
        "status",
        "rxnorm_code",
        "mme_per_day",  # clinical indicators: the alerts stage keeps them for clinical roles only
        "lme_per_day",
    }
)

DISCLOSED_FIELDS: dict[Role, frozenset[str]] = dict.fromkeys(ALLOWED_PURPOSES, _LISTED)

ALL_FIELDS = frozenset(f.name for f in pb.Dispensation.DESCRIPTOR.fields)
WITHHELD_FIELDS: dict[Role, tuple[str, ...]] = {
    role: tuple(sorted(ALL_FIELDS - fields)) for role, fields in DISCLOSED_FIELDS.items()
}
