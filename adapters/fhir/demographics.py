"""FHIR Patient and Practitioner (as the requester sends them) → ``pb.PatientQuery`` and ``pb.Practitioner``.

Only the fields the search and the identify step use are read; everything else in the resources (narrative,
meta, contained, extensions we do not know) is ignored, as the IG's open slicing allows. Of repeated elements the
most relevant one is taken: the ``official`` (else the first current) name, the ``home`` (else the first) address,
the first phone.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Final

from adapters.fhir._json import (
    At,
    JsonObject,
    codings,
    get_list,
    get_object,
    get_text,
    has_extension,
    objects,
    texts,
)
from adapters.fhir.codes import (
    DEA_SYSTEMS,
    EXT_US_CORE_JURISDICTION,
    SYSTEM_NPI,
    SYSTEM_SSN,
    SYSTEM_V2_0203,
)
from adapters.fhir.dates import full_date
from protos.pmp.v1 import pmp_pb2 as pb

MAX_IDENTIFIERS: Final = 20
_GENDER: Final = {
    "male": pb.GENDER_MALE,
    "female": pb.GENDER_FEMALE,
    "unknown": pb.GENDER_UNKNOWN,
    "other": pb.GENDER_UNKNOWN,  # the store knows F, M and U only
}
_LICENCE_TYPES: Final = frozenset({"SL", "LN", "MD"})  # v2-0203 State license, License number, Medical license
_OLD_USES: Final = frozenset({"old", "maiden"})


def read_patient(resource: JsonObject, at: At, *, today: date) -> pb.PatientQuery:
    """The query's demographics. Family name and a full birth date are required (pdmp-patient, pdmp-full-birthdate);
    a birth date may only be missing with a data-absent-reason extension, as for an animal of unknown age."""
    query = pb.PatientQuery()
    _read_name(resource, at, query.name, required=True)
    query.birth_date = _birth_date(resource, at, today)
    gender = get_text(resource, "gender", at)
    if gender:
        if gender not in _GENDER:
            raise at.key("gender").error("is not an administrative-gender code")
        query.gender = gender_code(gender)
    address = _pick(objects(resource, "address", at), ("home",))
    if address is not None:
        _read_address(*address, query.address)
    query.phone = _phone(resource, at)
    identifiers = get_list(resource, "identifier", at)
    if len(identifiers) > MAX_IDENTIFIERS:
        raise at.key("identifier").error(f"has more than {MAX_IDENTIFIERS} entries")
    for ident, where in objects(resource, "identifier", at):
        kind, value, issuer = _identifier(ident, where)
        if value:
            query.identifiers.add(type=kind or "OTHER", value=value, issuer=issuer)
    return query


def gender_code(gender: str) -> pb.Gender.ValueType:
    """A FHIR administrative-gender code (already checked) as ``pb.Gender``."""
    return _GENDER[gender]


def read_practitioner(resource: JsonObject, at: At) -> pb.Practitioner:
    """Name, NPI, DEA and state licence (with its state) of a Practitioner; the first of each kind wins."""
    out = pb.Practitioner()
    _read_name(resource, at, out.name, required=False)
    found = list(_practitioner_identifiers(resource, at))
    for kind, value, issuer in found:
        if kind == "NPI" and not out.npi:
            out.npi = value
        elif kind == "DEA" and not out.dea:
            out.dea = value
        elif kind == "STATE_LICENSE" and not out.state_license:
            out.state_license = value
            out.license_state = issuer
    return out


def organization_name(resource: JsonObject, at: At) -> str:
    return get_text(resource, "name", at)


def _practitioner_identifiers(resource: JsonObject, at: At) -> Iterator[tuple[str, str, str]]:
    for ident, where in objects(resource, "identifier", at):
        yield _identifier(ident, where)
    for qualification, where in objects(resource, "qualification", at):
        issuer = get_object(qualification, "issuer", where)
        issuer_name = get_text(issuer, "display", where.key("issuer")) if issuer is not None else ""
        for ident, ident_at in objects(qualification, "identifier", where):
            kind, value, state = _identifier(ident, ident_at)
            yield kind, value, state or issuer_name


def _identifier(ident: JsonObject, at: At) -> tuple[str, str, str]:
    """``(kind, value, issuer)``: kind from the system or the v2-0203 type code; issuer from the US Core
    jurisdiction extension, else the assigner's name, else (for unknown kinds) the system."""
    system = get_text(ident, "system", at)
    value = get_text(ident, "value", at)
    type_codes = {
        code for sys, code in codings(get_object(ident, "type", at), at.key("type")) if sys in ("", SYSTEM_V2_0203)
    }
    if system == SYSTEM_NPI or "NPI" in type_codes:
        kind = "NPI"
    elif system in DEA_SYSTEMS or "DEA" in type_codes:
        kind = "DEA"
    elif system == SYSTEM_SSN or "SS" in type_codes:
        kind = "SSN"
    elif "DL" in type_codes:
        kind = "DL"
    elif "MR" in type_codes:
        kind = "MR"
    elif type_codes & _LICENCE_TYPES:
        kind = "STATE_LICENSE"
    else:
        kind = min(type_codes) if type_codes else ""
    issuer = _jurisdiction(ident, at)
    if not issuer:
        assigner = get_object(ident, "assigner", at)
        issuer = get_text(assigner, "display", at.key("assigner")) if assigner is not None else ""
    if not issuer and kind not in ("NPI", "DEA", "SSN"):
        issuer = system
    return kind, value, issuer


def _jurisdiction(element: JsonObject, at: At) -> str:
    for ext, where in objects(element, "extension", at):
        if get_text(ext, "url", where) == EXT_US_CORE_JURISDICTION:
            for _system, code in codings(get_object(ext, "valueCodeableConcept", where), where):
                if code:
                    return code
    return ""


def _pick(items: Iterator[tuple[JsonObject, At]], preferred: tuple[str, ...]) -> tuple[JsonObject, At] | None:
    """The first item whose ``use`` is preferred, else the first that is not old, else the first."""
    first = current = None
    for item, where in items:
        use = get_text(item, "use", where)
        if use in preferred:
            return item, where
        if first is None:
            first = (item, where)
        if current is None and use not in _OLD_USES:
            current = (item, where)
    return current or first


def _read_name(resource: JsonObject, at: At, out: pb.HumanName, *, required: bool) -> None:
    picked = _pick(objects(resource, "name", at), ("official", "usual"))
    if picked is None:
        if required:
            raise at.key("name").key("family").error("is required")
        return
    name, where = picked
    out.family = get_text(name, "family", where)
    if required and not out.family:
        raise where.key("family").error("is required")
    given = texts(name, "given", where)
    if given:
        out.given = given[0]
        out.middle = " ".join(given[1:])
    prefix = texts(name, "prefix", where)
    suffix = texts(name, "suffix", where)
    out.prefix = prefix[0] if prefix else ""
    out.suffix = suffix[0] if suffix else ""


def _birth_date(resource: JsonObject, at: At, today: date) -> str:
    where = at.key("birthDate")
    if resource.get("birthDate") is None:
        if has_extension(resource.get("_birthDate")):
            return ""
        raise where.error("is required")
    born = full_date(get_text(resource, "birthDate", at), where)
    if born > today:
        raise where.error("is in the future")
    return born.isoformat()


def _read_address(address: JsonObject, at: At, out: pb.Address) -> None:
    lines = texts(address, "line", at)
    if lines:
        out.line1 = lines[0]
        out.line2 = " ".join(lines[1:])
    out.city = get_text(address, "city", at)
    out.state = get_text(address, "state", at)
    out.postal_code = get_text(address, "postalCode", at)
    out.country = get_text(address, "country", at)


def _phone(resource: JsonObject, at: At) -> str:
    for telecom, where in objects(resource, "telecom", at):
        if get_text(telecom, "system", where) == "phone":
            value = get_text(telecom, "value", where)
            if value:
                return value
    return ""
