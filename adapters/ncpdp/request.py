"""``RxHistoryRequest`` (SCRIPT 2017071 or 10.6) → ``pb.SearchHistoryRequest``.

The two versions carry the same facts in different places (standards.md §1.10, §2.2):

* patient — 2017071 ``Patient/HumanPatient/{Name, Gender, DateOfBirth, Address, Identification,
  CommunicationNumbers}``; 10.6 the same directly under ``Patient``;
* address — ``AddressLine1, AddressLine2, City`` and 2017071 ``StateProvince, PostalCode, CountryCode`` / 10.6
  ``State, ZipCode``;
* phone — 2017071 ``CommunicationNumbers/PrimaryTelephone/Number``; 10.6 the first
  ``CommunicationNumbers/Communication`` with ``Qualifier`` TE, HP, WP or CP;
* prescriber — 2017071 ``Prescriber/NonVeterinarian/{Identification/{NPI, DEANumber, StateLicenseNumber}, Name}``;
  10.6 ``Prescriber/{Identification/…, Name}``;
* pharmacist — 2017071 ``Pharmacy/Pharmacist/{Identification, Name}``; 10.6 ``Pharmacy/Pharmacist`` (a name only);
* period — 2017071 ``RequestedDates/{StartDate, EndDate}``; 10.6 has none: always the default period.

**The end user** (whom the identify step checks):

* a ``Prescriber`` → ``ROLE_PRESCRIBER`` with its NPI, DEA number, state licence and name; at least one of the
  three identifiers is required. Its ``PrescriberAgent`` (an agent acting for the prescriber) makes the agent the
  end user: ``ROLE_UNLICENSED_DELEGATE`` — the narrower delegate role, since SCRIPT does not say whether the agent
  is licensed — with the prescriber as ``on_behalf_of``. ``ClinicName`` (10.6), ``FacilityName`` or
  ``Facility/FacilityName`` (2017071) → ``organization``.
* a ``Pharmacy`` with its ``Pharmacist``, when there is no ``Prescriber`` or the header's ``From`` has Qualifier
  ``P`` (a pharmacy sent it) → ``ROLE_PHARMACIST``. The pharmacist's name (and, in 2017071, identifiers) →
  ``practitioner``; the pharmacy → ``organization`` as ``NCPDP:<id>`` (else ``NPI:<id>``, ``DEA:<id>``, else its
  name): an identifier is what the registry can check, and 10.6 gives a pharmacist no identifier of their own.
* neither → INVALID_REQUEST: the request names no end user.

``purpose`` is left unspecified: the pipeline gives each role its default. Veterinary requests (2017071
``Veterinarian`` / ``NonHumanPatient``) are UNSUPPORTED.

**The period**: ``RequestedDates`` → ``date_range``; a missing end is today, a missing start is
``default_lookback_days`` before the end. Refused: a start after the end, a span over ``max_lookback_days``, a date
in the future — with one day of grace (a sender's calendar may be a day ahead of the PMP's; such a date is read as
today).

Patient: ``LastName``, ``FirstName`` (both versions make it mandatory) and a full, past ``DateOfBirth`` are
required. Lengths are checked against the schemas' (names and identifiers an..35, suffix and prefix an..10).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Final

from adapters.ncpdp._lxml import Element
from adapters.ncpdp._read import Node, date_value, error_at, local_name, path_of, text_of
from adapters.ncpdp.codes import (
    GENDER_IN,
    MESSAGE,
    OTHER_TRANSACTIONS,
    PHARMACY_QUALIFIER,
    V10_6,
    V2017071,
    Q,
    Version,
)
from adapters.ncpdp.header import MessageHeader, decode_header, require_version
from adapters.ncpdp.interstate import read_states
from adapters.ncpdp.parser import refuse
from adapters.ncpdp.validation import schema_problem
from adapters.period import period_day, report_period
from protos.errors import PmpError
from protos.pmp.v1 import pmp_pb2 as pb

NAME_LENGTH: Final = 35
AFFIX_LENGTH: Final = 10
ID_LENGTH: Final = 35
_PHONE_QUALIFIERS_10_6: Final = ("TE", "HP", "WP", "CP")
_PATIENT_IDS: Final = (("SocialSecurity", "SSN"), ("MedicalRecordIdentificationNumberEHR", "MR"))
_PHARMACY_IDS: Final = (("NCPDPID", "NCPDP"), ("NPI", "NPI"), ("DEANumber", "DEA"))


@dataclass(frozen=True, slots=True)
class RxHistoryQuery:
    """A decoded RxHistoryRequest: the search, and what the reply needs (its header and version)."""

    header: MessageHeader
    version: Version
    request: pb.SearchHistoryRequest


@dataclass(frozen=True, slots=True)
class _Shape:
    version: Version
    state: str
    postal: str


_SHAPES: Final = {
    V10_6: _Shape(V10_6, "State", "ZipCode"),
    V2017071: _Shape(V2017071, "StateProvince", "PostalCode"),
}


def decode_rx_history_request(
    root: Element,
    *,
    today: date,
    default_lookback_days: int,
    max_lookback_days: int,
) -> RxHistoryQuery:
    """The search an RxHistoryRequest asks for (``root`` from ``parse_message``). Raises only ``PmpError``:
    INVALID_REQUEST for a malformed request, UNSUPPORTED for an unknown version or another transaction."""
    if root.tag != MESSAGE:
        raise refuse("/", "The root element must be Message in the NCPDP SCRIPT namespace")
    version = require_version(root)
    message = Node(root)
    header = decode_header(message, version)
    transaction = _transaction(message)
    shape = _SHAPES[version]
    request = pb.SearchHistoryRequest(
        patient=_patient(transaction, shape, today),
        requester=_requester(transaction, shape, header),
        date_range=_period(
            transaction,
            shape,
            today=today,
            default_lookback_days=default_lookback_days,
            max_lookback_days=max_lookback_days,
        ),
        states=read_states(message),  # interstate: Header/Mailbox/MailboxID "PMP:CO,NM" (adapters.ncpdp.interstate)
    )
    problem = schema_problem(root, version)
    if problem is not None:
        raise problem
    return RxHistoryQuery(header=header, version=version, request=request)


def _transaction(message: Node) -> Node:
    body = message.need("Body").element
    elements = [element for element in body if isinstance(element.tag, str)]
    if not elements:
        raise error_at(body, "is empty: it must hold an RxHistoryRequest")
    if len(elements) > 1:
        raise error_at(elements[1], "is a second transaction: a Body holds one")
    transaction = elements[0]
    if transaction.tag == Q + "RxHistoryRequest":
        return Node(transaction)
    name = local_name(transaction)
    if transaction.tag.startswith(Q) and name in OTHER_TRANSACTIONS:
        raise PmpError(
            pb.ERROR_CODE_UNSUPPORTED,
            f"{name} is not supported here; send RxHistoryRequest",
            location=(path_of(transaction),),
        )
    raise refuse(path_of(transaction), "Body holds no SCRIPT transaction this PMP knows: send RxHistoryRequest")


# --- patient ---------------------------------------------------------------------------------------------------


def _unsupported(node: Node, detail: str) -> PmpError:
    return PmpError(pb.ERROR_CODE_UNSUPPORTED, detail, location=(path_of(node.element),))


def _patient(transaction: Node, shape: _Shape, today: date) -> pb.PatientQuery:
    patient = transaction.need("Patient")
    if shape.version == V2017071:
        animal = patient.get("NonHumanPatient")
        if animal is not None:
            raise _unsupported(animal, "Patient/NonHumanPatient (veterinary) requests are not supported")
        person = patient.need("HumanPatient")
    else:
        person = patient
    query = pb.PatientQuery()
    read_name(person.need("Name"), query.name, first_required=True)
    born_at = person.need("DateOfBirth")
    born = date_value(born_at)
    if born > today:
        raise born_at.error("is in the future")
    query.birth_date = born.isoformat()
    gender_at = person.get("Gender")
    if gender_at is not None:
        gender = GENDER_IN.get(gender_at.text(10))
        if gender is None:
            raise gender_at.error("is not M, F or U")
        query.gender = gender
    address = person.get("Address")
    if address is not None:
        _read_address(address, shape, query.address)
    query.phone = _phone(person, shape)
    identification = person.get("Identification")
    if identification is not None:
        for element_name, kind in _PATIENT_IDS:
            value = identification.text_of(element_name, ID_LENGTH)
            if value:
                query.identifiers.add(type=kind, value=value)
    return query


def read_name(name: Node, out: pb.HumanName, *, first_required: bool) -> None:
    out.family = name.text_of("LastName", NAME_LENGTH, required=True)
    out.given = name.text_of("FirstName", NAME_LENGTH, required=first_required)
    out.middle = name.text_of("MiddleName", NAME_LENGTH)
    out.suffix = name.text_of("Suffix", AFFIX_LENGTH)
    out.prefix = name.text_of("Prefix", AFFIX_LENGTH)


def _read_address(address: Node, shape: _Shape, out: pb.Address) -> None:
    out.line1 = address.text_of("AddressLine1", 35)
    out.line2 = address.text_of("AddressLine2", 35)
    out.city = address.text_of("City", 35)
    out.state = address.text_of(shape.state, 2)
    out.postal_code = address.text_of(shape.postal, 9)
    if shape.version == V2017071:
        out.country = address.text_of("CountryCode", 2)


def _phone(person: Node, shape: _Shape) -> str:
    numbers = person.get("CommunicationNumbers")
    if numbers is None:
        return ""
    if shape.version == V2017071:
        for kind in ("PrimaryTelephone", "HomeTelephone", "WorkTelephone"):
            number = text_of(numbers.get(kind), "Number", 80)
            if number:
                return number
        return ""
    for communication in numbers.all("Communication"):
        if communication.text_of("Qualifier", 3) in _PHONE_QUALIFIERS_10_6:
            number = communication.text_of("Number", 80)
            if number:
                return number
    return ""


# --- requester -------------------------------------------------------------------------------------------------


def _requester(transaction: Node, shape: _Shape, header: MessageHeader) -> pb.Requester:
    prescriber = transaction.get("Prescriber")
    pharmacy = transaction.get("Pharmacy")
    pharmacist = pharmacy.get("Pharmacist") if pharmacy is not None else None
    by_pharmacy = prescriber is None or header.from_[1] == PHARMACY_QUALIFIER
    if pharmacy is not None and pharmacist is not None and by_pharmacy:
        return _pharmacist(pharmacy, pharmacist, shape)
    if prescriber is None:
        raise transaction.error("names no end user: a Prescriber or a Pharmacy Pharmacist")
    return _prescriber(transaction, prescriber, shape)


def _identified(holder: Node, out: pb.Practitioner) -> Node | None:
    """NPI, DEA number and state licence from ``holder/Identification`` (None when there is none)."""
    identification = holder.get("Identification")
    if identification is not None:
        out.npi = identification.text_of("NPI", ID_LENGTH)
        out.dea = identification.text_of("DEANumber", ID_LENGTH)
        out.state_license = identification.text_of("StateLicenseNumber", ID_LENGTH)
    return identification


def _prescriber(transaction: Node, prescriber: Node, shape: _Shape) -> pb.Requester:
    if shape.version == V2017071:
        veterinarian = prescriber.get("Veterinarian")
        if veterinarian is not None:
            raise _unsupported(veterinarian, "Prescriber/Veterinarian requests are not supported")
        person = prescriber.need("NonVeterinarian")
        organization = person.text_of("FacilityName", 70) or text_of(transaction.get("Facility"), "FacilityName", 70)
    else:
        person = prescriber
        organization = person.text_of("ClinicName", 35)
    practitioner = pb.Practitioner()
    identification = _identified(person, practitioner)
    if not (practitioner.npi or practitioner.dea or practitioner.state_license):
        where = path_of((identification or person).element)
        raise refuse(where, "Prescriber needs an NPI, DEANumber or StateLicenseNumber")
    name = person.get("Name")
    if name is not None:
        read_name(name, practitioner.name, first_required=False)
    agent = person.get("PrescriberAgent")
    if agent is None:
        return pb.Requester(role=pb.ROLE_PRESCRIBER, practitioner=practitioner, organization=organization)
    delegate = pb.Practitioner()
    read_name(agent.need("Name") if shape.version == V2017071 else agent, delegate.name, first_required=False)
    return pb.Requester(
        role=pb.ROLE_UNLICENSED_DELEGATE,
        practitioner=delegate,
        on_behalf_of=practitioner,
        organization=organization,
    )


def _pharmacist(pharmacy: Node, pharmacist: Node, shape: _Shape) -> pb.Requester:
    practitioner = pb.Practitioner()
    if shape.version == V2017071:
        _identified(pharmacist, practitioner)
        read_name(pharmacist.need("Name"), practitioner.name, first_required=False)
    else:
        read_name(pharmacist, practitioner.name, first_required=False)
    return pb.Requester(role=pb.ROLE_PHARMACIST, practitioner=practitioner, organization=_pharmacy_id(pharmacy, shape))


def _pharmacy_id(pharmacy: Node, shape: _Shape) -> str:
    identification = pharmacy.get("Identification")
    for element_name, kind in _PHARMACY_IDS:
        value = text_of(identification, element_name, ID_LENGTH)
        if value:
            return f"{kind}:{value}"
    return pharmacy.text_of("StoreName" if shape.version == V10_6 else "BusinessName", 70)


# --- period ----------------------------------------------------------------------------------------------------


def _period(
    transaction: Node,
    shape: _Shape,
    *,
    today: date,
    default_lookback_days: int,
    max_lookback_days: int,
) -> pb.DateRange:
    span = transaction.get("RequestedDates") if shape.version == V2017071 else None
    start = end = None
    if span is not None:
        start_at, end_at = span.get("StartDate"), span.get("EndDate")
        if start_at is not None:
            start = period_day(date_value(start_at), start_at, today=today)
        if end_at is not None:
            end = period_day(date_value(end_at), end_at, today=today)
    return report_period(
        start,
        end,
        today=today,
        default_lookback_days=default_lookback_days,
        max_lookback_days=max_lookback_days,
        at=span if span is not None else transaction,
        too_long="span more than the {days} days allowed: narrow them",
    )
