"""What a PractitionerRole says about the end user's role, mapped to ``pb.Role``.

The IG carries no role code of its own: its examples put a NUCC taxonomy code in ``PractitionerRole.specialty``
(207R00000X Internal Medicine for the prescriber, 163W00000X Registered Nurse for the delegate), and US Core's
``PractitionerRole.code`` may carry a NUCC code or FHIR's practitioner-role code. Both are read, ``code`` first,
and the first coding recognised decides. This is only the sender's claim: the gateway's identify step checks the
role the registry holds, so an unrecognised code maps to ``ROLE_UNSPECIFIED`` (let the registry decide), never
to a guess that could widen access. A delegate whose profession is unknown is taken as unlicensed, the narrower
of the two delegate roles.

Professions recognised (NUCC codes by prefix, 10 characters):

* prescriber — NUCC 20… (allopathic and osteopathic physicians), 1223… dentist, 152W… optometrist,
  213E… podiatrist, 363L… nurse practitioner, 363A… physician assistant, 364S… clinical nurse specialist,
  367A… advanced practice midwife, 367500000X nurse anesthetist; practitioner-role ``doctor``
* pharmacist — NUCC 1835…; practitioner-role ``pharmacist``
* licensed, not prescribing — NUCC 163W… registered nurse, 164W… LPN, 164X… LVN; practitioner-role ``nurse``
* unlicensed — NUCC 1837… pharmacy technician

| profession | as authorized-practitioner | as delegate-practitioner |
| --- | --- | --- |
| prescriber | ROLE_PRESCRIBER | ROLE_LICENSED_DELEGATE |
| pharmacist | ROLE_PHARMACIST | ROLE_LICENSED_DELEGATE |
| licensed | ROLE_UNSPECIFIED | ROLE_LICENSED_DELEGATE |
| unlicensed / not recognised / no role | ROLE_UNSPECIFIED | ROLE_UNLICENSED_DELEGATE |

The requester's NUCC code itself (``taxonomy``: the first NUCC coding of ``code``, then of ``specialty``) is handed
on beside the role, because a partner state's inbound policy allows requesters by that code (the partner_policy
stage). ``CAPACITIES`` says in which roles each profession may ask — its own or a narrower delegate role, never
another profession's — so that a stated role can be checked against the code, for FHIR and PMIX alike.
"""

from __future__ import annotations

import enum
from typing import Final

from adapters.fhir._json import At, JsonObject, codings, objects
from adapters.fhir.codes import SYSTEM_NUCC, SYSTEM_PRACTITIONER_ROLE
from protos.pmp.v1 import pmp_pb2 as pb


class Profession(enum.Enum):
    PRESCRIBER = "prescriber"
    PHARMACIST = "pharmacist"
    LICENSED = "licensed"
    UNLICENSED = "unlicensed"


NUCC_PREFIXES: Final[tuple[tuple[str, Profession], ...]] = (
    ("20", Profession.PRESCRIBER),
    ("1223", Profession.PRESCRIBER),
    ("152W", Profession.PRESCRIBER),
    ("213E", Profession.PRESCRIBER),
    ("363L", Profession.PRESCRIBER),
    ("363A", Profession.PRESCRIBER),
    ("364S", Profession.PRESCRIBER),
    ("367A", Profession.PRESCRIBER),
    ("367500000X", Profession.PRESCRIBER),
    ("1835", Profession.PHARMACIST),
    ("163W", Profession.LICENSED),
    ("164W", Profession.LICENSED),
    ("164X", Profession.LICENSED),
    ("1837", Profession.UNLICENSED),
)
PRACTITIONER_ROLE_CODES: Final = {
    "doctor": Profession.PRESCRIBER,
    "pharmacist": Profession.PHARMACIST,
    "nurse": Profession.LICENSED,
}
AUTHORIZED_ROLE: Final = {Profession.PRESCRIBER: pb.ROLE_PRESCRIBER, Profession.PHARMACIST: pb.ROLE_PHARMACIST}
_LICENSED: Final = frozenset({Profession.PRESCRIBER, Profession.PHARMACIST, Profession.LICENSED})
_DELEGATES: Final = frozenset({pb.ROLE_LICENSED_DELEGATE, pb.ROLE_UNLICENSED_DELEGATE})
CAPACITIES: Final[dict[Profession, frozenset[pb.Role.ValueType]]] = {
    Profession.PRESCRIBER: frozenset({pb.ROLE_PRESCRIBER}) | _DELEGATES,
    Profession.PHARMACIST: frozenset({pb.ROLE_PHARMACIST}) | _DELEGATES,
    Profession.LICENSED: _DELEGATES,
    Profession.UNLICENSED: frozenset({pb.ROLE_UNLICENSED_DELEGATE}),
}


def profession_of_code(system: str, code: str) -> Profession | None:
    if system == SYSTEM_NUCC and len(code) == 10:
        for prefix, profession in NUCC_PREFIXES:
            if code.startswith(prefix):
                return profession
    elif system == SYSTEM_PRACTITIONER_ROLE:
        return PRACTITIONER_ROLE_CODES.get(code)
    return None


def profession(role: JsonObject, at: At) -> Profession | None:
    """The first recognised coding of ``PractitionerRole.code``, then of ``.specialty``."""
    for key in ("code", "specialty"):
        for concept, where in objects(role, key, at):
            for system, code in codings(concept, where):
                found = profession_of_code(system, code)
                if found is not None:
                    return found
    return None


def taxonomy(role: JsonObject, at: At) -> str:
    """The first NUCC code of ``PractitionerRole.code``, then of ``.specialty`` (upper case); "" when none."""
    for key in ("code", "specialty"):
        for concept, where in objects(role, key, at):
            for system, code in codings(concept, where):
                if system == SYSTEM_NUCC and code.strip():
                    return code.strip().upper()
    return ""


def may_act_as(found: Profession | None, role: pb.Role.ValueType) -> bool:
    """Whether someone of profession ``found`` may ask in ``role``: no known profession, no clinical role."""
    return found is not None and role in CAPACITIES[found]


def authorized_role(found: Profession | None) -> pb.Role.ValueType:
    return AUTHORIZED_ROLE.get(found, pb.ROLE_UNSPECIFIED) if found is not None else pb.ROLE_UNSPECIFIED


def delegate_role(found: Profession | None) -> pb.Role.ValueType:
    return pb.ROLE_LICENSED_DELEGATE if found in _LICENSED else pb.ROLE_UNLICENSED_DELEGATE
