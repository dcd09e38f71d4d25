"""The requester's role in a PMIX request (``pmix:RequesterRole`` and ``pmix:RequesterRoleTaxonomyCode``) as
``pb.Role``, and back.

A partner hub says who asks in two ways: the role as its state words it (RxCheck and the state PMPs use texts such
as "Prescriber" or "Pharmacist Delegate - Licensed") and the requester's NUCC provider taxonomy code (RxCheck's
role lists are standardized on it; our inbound policy allows roles by it). ``pmix:RequesterRole`` may itself hold
a taxonomy code. The text says in what capacity the person asks, the code what their profession is, so:

1. a role text the table below knows decides, when the code's profession may ask in that capacity
   (``adapters.fhir.roles.CAPACITIES``: its own role or a delegate role — a physician asking as a delegate is a
   delegate); when it may not (a pharmacist's or technician's code with "Physician" or "Prescriber", a nurse's with
   "Pharmacist", any clinical code with "Police"), text and code contradict each other and the role is
   ROLE_UNSPECIFIED — neither claim is taken, the request is refused (the partner_policy stage), never narrowed to
   a guess;
2. "Delegate" alone does not say whether the delegate is licensed: licensed when the taxonomy code is a licensed
   profession, else unlicensed (the narrower role);
3. otherwise the taxonomy code decides, by the profession prefixes ``adapters.fhir.roles`` uses (one table for
   every codec): prescribers → ROLE_PRESCRIBER, 1835… pharmacists → ROLE_PHARMACIST, 163W/164W/164X… nurses →
   ROLE_LICENSED_DELEGATE, 1837… pharmacy technicians → ROLE_UNLICENSED_DELEGATE;
4. anything else is ROLE_UNSPECIFIED: the gateway's policy decides; a guess could widen access.

Role texts (compared case-insensitively, punctuation read as spaces):

* ROLE_PRESCRIBER — prescriber, physician, doctor, dentist, nurse practitioner, APRN, physician assistant,
  optometrist, podiatrist, certified nurse midwife, clinical nurse specialist, MD, DO, DDS, DMD, NP, PA;
* ROLE_PHARMACIST — pharmacist, RPh, pharmacist in charge;
* ROLE_LICENSED_DELEGATE — licensed delegate, prescriber / pharmacist delegate - licensed, registered nurse, RN,
  LPN, LVN, nurse;
* ROLE_UNLICENSED_DELEGATE — unlicensed delegate, prescriber / pharmacist delegate - unlicensed, pharmacy
  technician, medical assistant;
* rule 2 — delegate, prescriber delegate, pharmacist delegate;
* ROLE_LAW_ENFORCEMENT — law enforcement, law enforcement officer, police, police officer, peace officer;
* ROLE_REGULATOR — regulator, regulatory agency, regulatory board, licensing board, board investigator.

Roles the gateway gives only its own users (administrator, partner state) are never read from a request. Out, a
role is written as the first text of its row (``ROLE_TEXTS``), ROLE_UNSPECIFIED and the others as "Unspecified".
"""

from __future__ import annotations

import re
from typing import Final, TypeAlias

from adapters.fhir.roles import NUCC_PREFIXES, Profession, may_act_as
from adapters.pmix.codes import TAXONOMY
from protos.pmp.v1 import pmp_pb2 as pb

Role: TypeAlias = pb.Role.ValueType

_PROFESSION_ROLES: Final[dict[Profession, Role]] = {
    Profession.PRESCRIBER: pb.ROLE_PRESCRIBER,
    Profession.PHARMACIST: pb.ROLE_PHARMACIST,
    Profession.LICENSED: pb.ROLE_LICENSED_DELEGATE,
    Profession.UNLICENSED: pb.ROLE_UNLICENSED_DELEGATE,
}
_LICENSED: Final = frozenset({pb.ROLE_PRESCRIBER, pb.ROLE_PHARMACIST, pb.ROLE_LICENSED_DELEGATE})
_DELEGATE_TEXTS: Final = frozenset({"delegate", "prescriber delegate", "pharmacist delegate"})  # rule 2
_TEXTS: Final[dict[Role, tuple[str, ...]]] = {
    pb.ROLE_PRESCRIBER: (
        "prescriber", "physician", "doctor", "dentist", "nurse practitioner", "aprn",
        "advanced practice registered nurse", "physician assistant", "physician associate", "optometrist",
        "podiatrist", "certified nurse midwife", "clinical nurse specialist", "md", "do", "dds", "dmd", "np", "pa",
    ),
    pb.ROLE_PHARMACIST: ("pharmacist", "rph", "pharmacist in charge"),
    pb.ROLE_LICENSED_DELEGATE: (
        "licensed delegate", "delegate licensed", "prescriber delegate licensed", "pharmacist delegate licensed",
        "registered nurse", "rn", "licensed practical nurse", "lpn", "licensed vocational nurse", "lvn", "nurse",
    ),
    pb.ROLE_UNLICENSED_DELEGATE: (
        "unlicensed delegate", "delegate unlicensed", "prescriber delegate unlicensed",
        "pharmacist delegate unlicensed", "pharmacy technician", "medical assistant",
    ),
    pb.ROLE_LAW_ENFORCEMENT: (
        "law enforcement", "law enforcement officer", "police", "police officer", "peace officer",
    ),
    pb.ROLE_REGULATOR: (
        "regulator", "regulatory", "regulatory agency", "regulatory board", "licensing board", "board investigator",
    ),
}  # fmt: skip
_ROLE_OF_TEXT: Final[dict[str, Role]] = {text: role for role, texts in _TEXTS.items() for text in texts}
ROLE_TEXTS: Final[dict[Role, str]] = {
    pb.ROLE_PRESCRIBER: "Prescriber",
    pb.ROLE_PHARMACIST: "Pharmacist",
    pb.ROLE_LICENSED_DELEGATE: "Licensed Delegate",
    pb.ROLE_UNLICENSED_DELEGATE: "Unlicensed Delegate",
    pb.ROLE_LAW_ENFORCEMENT: "Law Enforcement",
    pb.ROLE_REGULATOR: "Regulator",
}
UNSPECIFIED_TEXT: Final = "Unspecified"
_NOT_WORD: Final = re.compile(r"[^a-z0-9]+")


def _normalized(text: str) -> str:
    return _NOT_WORD.sub(" ", text.lower()).strip()


def taxonomy_code(role_text: str, taxonomy: str) -> str:
    """The requester's taxonomy code: ``taxonomy`` when given, else the role text when it is one, else ""."""
    if taxonomy:
        return taxonomy.strip().upper()
    code = role_text.strip().upper()
    return code if TAXONOMY.fullmatch(code) else ""


def profession_of_taxonomy(code: str) -> Profession | None:
    """The profession of a NUCC code; None for a code the table does not know."""
    if TAXONOMY.fullmatch(code):
        for prefix, profession in NUCC_PREFIXES:
            if code.startswith(prefix):
                return profession
    return None


def role_of_taxonomy(code: str) -> Role:
    """The role a NUCC code's profession implies; ROLE_UNSPECIFIED for a code the table does not know."""
    profession = profession_of_taxonomy(code)
    return _PROFESSION_ROLES[profession] if profession is not None else pb.ROLE_UNSPECIFIED


def requester_role(role_text: str, taxonomy: str) -> Role:
    """``pb.Role`` from the role text and the taxonomy code (``taxonomy_code``'s), by the rules above."""
    profession = profession_of_taxonomy(taxonomy) if taxonomy else None
    by_code = _PROFESSION_ROLES[profession] if profession is not None else pb.ROLE_UNSPECIFIED
    text = _normalized(role_text)
    if text in _DELEGATE_TEXTS:
        return pb.ROLE_LICENSED_DELEGATE if by_code in _LICENSED else pb.ROLE_UNLICENSED_DELEGATE
    by_text = _ROLE_OF_TEXT.get(text)
    if by_text is None:
        return by_code
    if profession is not None and not may_act_as(profession, by_text):
        return pb.ROLE_UNSPECIFIED  # rule 1: text and code contradict each other
    return by_text


def role_text(role: Role) -> str:
    """The ``pmix:RequesterRole`` text for ``role``."""
    return ROLE_TEXTS.get(role, UNSPECIFIED_TEXT)
