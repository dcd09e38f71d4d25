"""The bridge between the three shapes a patient takes in pmpdb and the matcher's ``Demographics``:
an ASAP PAT segment (ingest), a stored ``patient`` row (candidates), a ``pmp.v1.PatientQuery`` (search).

Normalising is the matcher's job; this module only moves fields across and caches, because the same patient
arrives many times (one PAT per fill in many files; the same candidates for repeated queries).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from adapters.asap.checks import iso_date
from adapters.asap.model import Patient
from pmpdb.matching import Demographics, blocking_keys, normalize, patient_record_id
from pmpdb.store.base import PatientRecord
from protos.pmp.v1 import pmp_pb2 as pb

_GENDER_CODE = {pb.GENDER_FEMALE: "F", pb.GENDER_MALE: "M", pb.GENDER_UNKNOWN: "U"}


@dataclass(slots=True, frozen=True)
class PatientIdentity:
    """What ingest stores for a reported patient: its record id, ISO birth date and matching keys."""

    record_id: int
    birth_date: str
    keys: tuple[str, ...]


@lru_cache(maxsize=1 << 16)
def patient_identity(pat: Patient) -> PatientIdentity:
    d = normalize(
        last_name=pat.last_name,
        first_name=pat.first_name,
        middle_name=pat.middle_name,
        suffix=pat.name_suffix,
        birth_date=iso_date(pat.birth_date),
        gender=pat.gender,
        address=" ".join(filter(None, (pat.address1, pat.address2))),
        city=pat.city,
        state=pat.state,
        zip_code=pat.zip,
        phone=pat.phone,
    )
    return PatientIdentity(patient_record_id(d), d.birth_date, tuple(sorted(blocking_keys(d))))


@lru_cache(maxsize=1 << 16)
def demographics_of_record(r: PatientRecord) -> Demographics:
    return normalize(
        last_name=r.last_name,
        first_name=r.first_name,
        middle_name=r.middle_name,
        suffix=r.name_suffix,
        birth_date=r.birth_date,
        gender=r.gender,
        address=" ".join(filter(None, (r.address1, r.address2))),
        city=r.city,
        state=r.state,
        zip_code=r.zip,
        phone=r.phone,
    )


def demographics_of_query(q: pb.PatientQuery) -> Demographics:
    """Raises the matcher's ``InvalidDemographicsError`` for a field it cannot understand."""
    a = q.address
    return normalize(
        last_name=q.name.family,
        first_name=q.name.given,
        middle_name=q.name.middle,
        suffix=q.name.suffix,
        birth_date=q.birth_date,
        gender=_GENDER_CODE.get(q.gender, ""),
        address=" ".join(filter(None, (a.line1, a.line2))),
        city=a.city,
        state=a.state,
        zip_code=a.postal_code,
        phone=q.phone,
    )
