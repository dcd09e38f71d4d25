"""``pb.SearchHistoryResponse`` → ``RxHistoryResponse``, in the version the request was sent in.

The reply's header swaps the request's ``To``/``From`` (with their qualifiers), carries a new ``MessageID`` and the
request's as ``RelatesToMessageID`` (``header.message``). Its ``Response``:

* **FOUND with dispensations** → ``Approved``, the matched ``Patient`` and up to ``max_dispensed`` (at most 300,
  the schema's limit) ``MedicationDispensed``, newest first as pmpdb sent them. When more exist than are sent
  (``total_dispensations`` above the number returned, or more returned than fit) the ``Approved/Note`` says how
  many of how many and how to narrow the period, with ``ApprovalReasonCode`` AQ (more history available [M]):
  never dropped silently.
* **Clinical indicators** (when pmpdb sent them) go in the same ``Approved/Note`` — SCRIPT has no other home for
  them (standards.md §2.3) — as compact tokens joined by ``"; "``::

      !MME 120pk 60now; !MPE 6pr 5ph; !OPI+BZD 12d; RX 3; 25/40 fills sent

  ``MME <peak>pk <current>now`` daily active MME (shown when there is any), ``MPE <n>pr <m>ph`` prescribers and
  pharmacies within 90 days (the episode's, else the last 90 days'), ``OPI+BZD <n>d`` days an opioid and a
  benzodiazepine were both active (shown when there are any), ``RX <n>`` prescriptions active at the period's
  end (or today), and ``<sent>/<total> fills sent`` when the answer is cut (with AQ, as above). A leading ``!``
  marks a token whose alert fired (PMIX 05, 03, 04). The Note holds 70 characters: tokens are kept in the order
  alerts, the cut notice, the other figures, and a token that does not fit is left out (``indicator_note``).
* **NOT_FOUND, and FOUND with no dispensation in the period** → ``Denied`` with one text for both, as the FHIR
  codec does (``NO_DATA_TEXT``): the answer does not reveal whether the PMP knows the person. The public 10.6
  schema would allow an ``Approved`` without ``MedicationDispensed`` (the medication choice is ``minOccurs="0"``),
  but "approved, nothing to show" beside "denied, no match" would tell a caller that the person has a PMP record.
* **AMBIGUOUS** → ``Denied`` "More than one patient matches; refine demographics"; the candidates are never
  described.

A ``Denied`` answer echoes the patient as the request gave them (10.6 requires a ``Patient`` with its birth date),
never the PMP's record. 10.6 also requires 1..3 ``BenefitsCoordination``: the PMP has no payer data, so one empty
element is sent (every child is optional in the response type). 2017071 replies echo the searched period as
``RequestedDates``.

``MedicationDispensed`` (10.6 names first, 2017071 where it differs): ``DrugDescription`` (the drug's name, else
``NDC <ndc>``); ``DrugCoded`` — ``ProductCode`` + ``ProductCodeQualifier`` ND and ``Strength`` (10.6) /
``ProductCode/{Code, Qualifier}`` (2017071) for NDC products; ``Quantity`` — ``Value``, ``CodeListQualifier`` 87,
``UnitSourceCode`` AC and ``PotencyUnitCode`` (10.6) / ``QuantityUnitOfMeasure/Code`` (2017071), the ASAP unit
mapped by ``codes.QUANTITY_UNITS`` (01 each → C64933, 02 mL → C28254, 03 g → C48155, else C38046 unspecified);
``DaysSupply``; ``WrittenDate``; ``LastFillDate`` (date filled; required — the sold, then the written date stand in,
and a record with none of them is counted as not sent); ``SoldDate``; ``Pharmacy`` (NCPDPID, NPI, DEANumber, name,
address, phone); ``Prescriber`` (NPI, DEANumber, StateLicenseNumber, name); ``HistorySource`` — ``SourceReference``
= Rx number, ``FillNumber`` = refill number; in an interstate answer also ``Source`` (P2, ``<state> PMP``) and a
``PARTIAL - MISSING …`` Note token for the states that did not answer (``interstate``).
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Final

from adapters.ncpdp._write import (
    clean,
    date_element,
    element,
    fit,
    iso_date,
    phone_digits,
    shorten,
    state_code,
    zip_code,
)
from adapters.ncpdp.codes import (
    GENDER_OUT,
    MORE_HISTORY_CODE,
    NDC_PRODUCT_QUALIFIERS,
    NDC_QUALIFIER,
    QUANTITY_QUALIFIER,
    QUANTITY_UNITS,
    UNIT_SOURCE_NCI,
    UNIT_UNSPECIFIED,
    V10_6,
    V2017071,
    Version,
)
from adapters.ncpdp.header import message
from adapters.ncpdp.interstate import missing_states, partial_token, source_of
from adapters.ncpdp.request import RxHistoryQuery
from protos.pmp.v1 import pmp_pb2 as pb

MAX_DISPENSED: Final = 300  # [V] 10.6 MedicationDispensed maxOccurs
NOTE_LENGTH: Final = 70  # [V] Approved/Note, Denied/DenialReason an..70
NO_DATA_TEXT: Final = "No PMP history for this patient in the requested dates"
AMBIGUOUS_TEXT: Final = "More than one patient matches; refine demographics"
FORBIDDEN_TEXT: Final = "This requester may not receive PMP history"
_BENEFITS_10_6: Final = "<BenefitsCoordination/>"


def encode_rx_history_response(
    response: pb.SearchHistoryResponse,
    *,
    query: RxHistoryQuery,
    message_id: str,
    now: datetime,
    max_dispensed: int = MAX_DISPENSED,
) -> bytes:
    """The RxHistoryResponse for one answer, as UTF-8 bytes with an XML declaration."""
    status = response.match_status
    partial = partial_token(missing_states(response))  # interstate: the states whose part is missing
    if status == pb.MATCH_STATUS_AMBIGUOUS:
        return encode_denied(query, AMBIGUOUS_TEXT, message_id=message_id, now=now)
    if status != pb.MATCH_STATUS_FOUND or not (response.dispensations or response.total_dispensations):
        reason = f"No PMP history found; {partial}" if partial else NO_DATA_TEXT
        return encode_denied(query, reason, message_id=message_id, now=now)
    version = query.version
    limit = max(0, min(max_dispensed, MAX_DISPENSED))
    dispensed = _Dispensed(version, labelled=bool(response.sources))
    for dispensation in response.dispensations[:limit]:
        dispensed.add(dispensation)
    sent = dispensed.count
    total = max(response.total_dispensations, len(response.dispensations))
    cut = total > sent
    if response.HasField("indicators"):
        text = indicator_note(response.indicators, {a.code for a in response.alerts}, sent, total, partial=partial)
    else:
        text = "; ".join(t for t in (partial, more_note(sent, total, version) if cut else "") if t)
        text = shorten(text, NOTE_LENGTH)
    note = fit(text, NOTE_LENGTH, ascii_only=True)
    approval = (f"<ApprovalReasonCode>{MORE_HISTORY_CODE}</ApprovalReasonCode>" if cut else "") + element("Note", note)
    matched = response.patients[0] if response.patients else None
    body = "".join(
        (
            "<RxHistoryResponse><Response><Approved>",
            approval,
            "</Approved></Response>",
            _patient(version, matched, query.request.patient),
            _after_patient(version, query.request.date_range),
            *dispensed.parts,
            "</RxHistoryResponse>",
        )
    )
    return message(version, body, request=query.header, message_id=message_id, now=now)


def more_note(sent: int, total: int, version: Version) -> str:
    """How many of how many, and how to see the rest — within the 70 characters of ``Note``."""
    how = "narrow RequestedDates" if version == V2017071 else "2017071 RequestedDates narrows"
    return shorten(f"{sent} of {total} fills sent (newest); {how}", NOTE_LENGTH)


def _num(value: float) -> str:
    return f"{value:.1f}".removesuffix(".0")


def indicator_note(indicators: pb.Indicators, alerted: set[str], sent: int, total: int, *, partial: str = "") -> str:
    """The indicators (and the cut notice) as the compact ``Note`` text of the module docstring, ≤ 70 characters;
    ``partial`` (the interstate partial-answer token) comes first and is kept first."""
    tokens: list[tuple[int, str]] = [(0, partial)] if partial else []  # (priority: lower is kept first, text)
    if indicators.peak_mme or indicators.current_mme:
        mark = "05" in alerted
        text = f"MME {_num(indicators.peak_mme)}pk {_num(indicators.current_mme)}now"
        tokens.append((0, "!" + text) if mark else (2, text))
    if indicators.prescribers_90d or indicators.pharmacies_90d:
        text = f"MPE {indicators.prescribers_90d}pr {indicators.pharmacies_90d}ph"
        tokens.append((0, "!" + text) if "03" in alerted else (3, text))
    if indicators.overlap_days:
        text = f"OPI+BZD {indicators.overlap_days}d"
        tokens.append((0, "!" + text) if "04" in alerted else (3, text))
    tokens.append((4, f"RX {indicators.active_prescriptions}"))
    if total > sent:
        tokens.append((1, f"{sent}/{total} fills sent"))
    kept: set[int] = set()
    for index in sorted(range(len(tokens)), key=lambda i: (tokens[i][0], i)):
        trial = kept | {index}
        if len("; ".join(tokens[i][1] for i in sorted(trial))) <= NOTE_LENGTH:
            kept = trial
    return "; ".join(tokens[i][1] for i in sorted(kept))


def encode_denied(
    query: RxHistoryQuery,
    reason: str,
    *,
    message_id: str,
    now: datetime,
    reason_code: str = "",
) -> bytes:
    """An RxHistoryResponse ``Denied`` with ``reason`` (cut at a word to 70 characters) and the patient as asked.
    ``reason_code`` is a ``DenialReasonCode`` (AA–AQ), sent only when given."""
    version = query.version
    text = shorten(clean(reason, 1000, ascii_only=version == V10_6), NOTE_LENGTH) or NO_DATA_TEXT
    code = element("DenialReasonCode", fit(reason_code, 2, ascii_only=True))
    body = "".join(
        (
            "<RxHistoryResponse><Response><Denied>",
            code,
            element("DenialReason", fit(text, NOTE_LENGTH, ascii_only=version == V10_6)),
            "</Denied></Response>",
            _patient(version, None, query.request.patient),
            _after_patient(version, query.request.date_range),
            "</RxHistoryResponse>",
        )
    )
    return message(version, body, request=query.header, message_id=message_id, now=now)


# --- patient ---------------------------------------------------------------------------------------------------


def _patient(version: Version, matched: pb.MatchedPatient | None, asked: pb.PatientQuery) -> str:
    """The matched person (Approved) or the patient as asked (Denied); the asked name and birth date stand in for
    any the record lacks (both are required)."""
    ascii_only = version == V10_6
    if matched is not None:
        name = matched.name if matched.name.family else asked.name
        gender, born, address = matched.gender, matched.birth_date or asked.birth_date, matched.address
    else:
        name, gender, born, address = asked.name, asked.gender, asked.birth_date, asked.address
    code = GENDER_OUT.get(gender, "")
    content = "".join(
        (
            _name(_fitted_name(name, ascii_only)),
            element("Gender", code),
            date_element("DateOfBirth", iso_date(born)),
            _address(_fitted_address(address, ascii_only), version),
        )
    )
    if version == V2017071:
        return f"<Patient><HumanPatient>{content}</HumanPatient></Patient>"
    return f"<Patient>{content}</Patient>"


def _after_patient(version: Version, period: pb.DateRange) -> str:
    """10.6: the required (empty) ``BenefitsCoordination``; 2017071: the searched ``RequestedDates``."""
    if version == V10_6:
        return _BENEFITS_10_6
    dates = date_element("StartDate", iso_date(period.start)) + date_element("EndDate", iso_date(period.end))
    return element("RequestedDates", dates)


# --- fitted values ---------------------------------------------------------------------------------------------
# Tuples of fitted, escaped strings ("" = leave out), computed once per distinct value in an answer.

_NameParts = tuple[str, str, str, str, str]  # last, first, middle, suffix, prefix
_AddressParts = tuple[str, str, str, str, str]  # line 1, line 2, city, state, ZIP
_NAME_TAGS: Final = ("LastName", "FirstName", "MiddleName", "Suffix", "Prefix")
_NO_NAME: Final = ("", "", "", "", "")


def _fitted_name(name: pb.HumanName, ascii_only: bool) -> _NameParts:
    family = fit(name.family, 35, ascii_only=ascii_only)
    if not family:
        return _NO_NAME
    return (
        family,
        fit(name.given, 35, ascii_only=ascii_only),
        fit(name.middle, 35, ascii_only=ascii_only),
        fit(name.suffix, 10, ascii_only=ascii_only),
        fit(name.prefix, 10, ascii_only=ascii_only),
    )


def _fitted_address(address: pb.Address, ascii_only: bool) -> _AddressParts:
    return (
        fit(address.line1, 35, ascii_only=ascii_only),
        fit(address.line2, 35, ascii_only=ascii_only),
        fit(address.city, 35, ascii_only=ascii_only),
        state_code(address.state),
        zip_code(address.postal_code),
    )


def _name(parts: _NameParts) -> str:
    if not parts[0]:
        return ""
    return element("Name", "".join(element(tag, value) for tag, value in zip(_NAME_TAGS, parts, strict=True)))


def _address(parts: _AddressParts, version: Version) -> str:
    line1, line2, city, state, postal = parts
    ten_six = version == V10_6
    return element(
        "Address",
        "".join(
            (
                element("AddressLine1", line1),
                element("AddressLine2", line2),
                element("City", city),
                element("State" if ten_six else "StateProvince", state),
                element("ZipCode" if ten_six else "PostalCode", postal),
            )
        ),
    )


def _quantity_value(value: float) -> str:
    """``n..11``: digits with an optional decimal part; "" for what does not fit (zero, negative, huge)."""
    if not math.isfinite(value) or value <= 0:
        return ""
    text = f"{value:.3f}".rstrip("0").rstrip(".")
    return text if len(text) <= 11 and text != "0" else ""


# --- MedicationDispensed ---------------------------------------------------------------------------------------


class _Dispensed:
    """The ``MedicationDispensed`` of one answer, as text parts. The drug, quantity, pharmacy and prescriber of a
    fill repeat across an answer, so each distinct one is written once and its text reused (per-answer caches, as
    ``adapters.fhir.resources`` does)."""

    __slots__ = (
        "_dates",
        "_drugs",
        "_pharmacies",
        "_prescribers",
        "_quantities",
        "_sources",
        "ascii_only",
        "count",
        "labelled",
        "parts",
        "version",
    )

    def __init__(self, version: Version, *, labelled: bool = False) -> None:
        self.version = version
        self.labelled = labelled  # interstate: each record says which state's PMP holds it (HistorySource/Source)
        self._sources: dict[str, str] = {}
        self.ascii_only = version == V10_6
        self.parts: list[str] = []
        self.count = 0
        self._drugs: dict[tuple[str, str, str, str], str] = {}
        self._quantities: dict[tuple[float, str], str] = {}
        self._pharmacies: dict[tuple[str, ...], str] = {}
        self._prescribers: dict[tuple[str, ...], str] = {}
        self._dates: dict[str, str] = {}

    def _date(self, value: str) -> str:
        day = self._dates.get(value)
        if day is None:
            day = self._dates[value] = iso_date(value)
        return day

    def add(self, d: pb.Dispensation) -> None:
        """One ``MedicationDispensed``; a record with no date for ``LastFillDate`` (the date filled, else sold,
        else written) cannot be written and is not counted as sent."""
        day = self._date
        written, filled, sold = day(d.date_written), day(d.date_filled), day(d.date_sold)
        last_fill = filled or sold or written
        if not last_fill:
            return
        has_drug = d.HasField("drug")
        drug_key = (d.product_id_qualifier, d.ndc, d.drug.name if has_drug else "", d.drug.strength if has_drug else "")
        drug = self._drugs.get(drug_key)
        if drug is None:
            drug = self._drug(drug_key)
        quantity_key = (d.quantity, d.quantity_unit)
        quantity = self._quantities.get(quantity_key)
        if quantity is None:
            quantity = self._quantity(quantity_key)
        days = d.days_supply
        refill = d.refill_number
        rx = fit(d.rx_number, 35, ascii_only=self.ascii_only)
        source = (f"<SourceReference>{rx}</SourceReference>" if rx else "") + (
            f"<FillNumber>{refill}</FillNumber>" if 0 <= refill <= 99 else ""
        )
        if self.labelled:
            held_by = self._sources.get(d.source_state)
            if held_by is None:
                held_by = self._sources[d.source_state] = source_of(d.source_state)
            source = held_by + source
        self.parts += (
            "<MedicationDispensed>",
            drug,
            quantity,
            f"<DaysSupply>{days}</DaysSupply>" if 0 < days <= 999 else "",
            f"<WrittenDate><Date>{written}</Date></WrittenDate>" if written else "",
            f"<LastFillDate><Date>{last_fill}</Date></LastFillDate>",
            f"<SoldDate><Date>{sold}</Date></SoldDate>" if sold else "",
            self._pharmacy(d.pharmacy) if d.HasField("pharmacy") else "",
            self._prescriber(d.prescriber) if d.HasField("prescriber") else "",
            f"<HistorySource>{source}</HistorySource>",
            "</MedicationDispensed>",
        )
        self.count += 1

    def _drug(self, key: tuple[str, str, str, str]) -> str:
        """``DrugDescription`` and ``DrugCoded``."""
        qualifier, ndc, name, strength = key
        ascii_only = self.ascii_only
        code = fit(ndc, 35, ascii_only=True) if qualifier in NDC_PRODUCT_QUALIFIERS else ""
        description = fit(name, 105, ascii_only=ascii_only) or (f"NDC {code}" if code else "Drug not identified")
        if self.version == V10_6:
            coded = (
                f"<ProductCode>{code}</ProductCode><ProductCodeQualifier>{NDC_QUALIFIER}</ProductCodeQualifier>"
                if code
                else ""
            ) + element("Strength", fit(strength, 70, ascii_only=True))
        else:
            coded = (
                f"<ProductCode><Code>{code}</Code><Qualifier>{NDC_QUALIFIER}</Qualifier></ProductCode>" if code else ""
            )
        text = self._drugs[key] = f"<DrugDescription>{description}</DrugDescription>" + element("DrugCoded", coded)
        return text

    def _quantity(self, key: tuple[float, str]) -> str:
        value, unit_code = key
        amount = _quantity_value(value)
        unit = QUANTITY_UNITS.get(unit_code, UNIT_UNSPECIFIED)
        if not amount:
            text = ""
        elif self.version == V10_6:
            text = (
                f"<Quantity><Value>{amount}</Value><CodeListQualifier>{QUANTITY_QUALIFIER}</CodeListQualifier>"
                f"<UnitSourceCode>{UNIT_SOURCE_NCI}</UnitSourceCode><PotencyUnitCode>{unit}</PotencyUnitCode></Quantity>"
            )
        else:
            text = (
                f"<Quantity><Value>{amount}</Value><CodeListQualifier>{QUANTITY_QUALIFIER}</CodeListQualifier>"
                f"<QuantityUnitOfMeasure><Code>{unit}</Code></QuantityUnitOfMeasure></Quantity>"
            )
        self._quantities[key] = text
        return text

    def _pharmacy(self, p: pb.Pharmacy) -> str:
        a = p.address
        key = (p.ncpdp, p.npi, p.dea, p.name, p.phone, a.line1, a.line2, a.city, a.state, a.postal_code)
        text = self._pharmacies.get(key)
        if text is not None:
            return text
        ascii_only, ten_six = self.ascii_only, self.version == V10_6
        identification = element(
            "Identification",
            element("NCPDPID", fit(p.ncpdp, 35, ascii_only=ascii_only))
            + element("NPI", fit(p.npi, 35, ascii_only=ascii_only))
            + element("DEANumber", fit(p.dea, 35, ascii_only=ascii_only)),
        )
        phone = phone_digits(p.phone)
        if not phone:
            numbers = ""
        elif ten_six:
            numbers = (
                f"<CommunicationNumbers><Communication><Number>{phone}</Number><Qualifier>TE</Qualifier>"
                "</Communication></CommunicationNumbers>"
            )
        else:
            numbers = (
                f"<CommunicationNumbers><PrimaryTelephone><Number>{phone}</Number></PrimaryTelephone>"
                "</CommunicationNumbers>"
            )
        content = "".join(
            (
                identification,
                element(
                    "StoreName" if ten_six else "BusinessName",
                    fit(p.name, 35 if ten_six else 70, ascii_only=ascii_only),
                ),
                _address(_fitted_address(a, ascii_only), self.version),
                numbers,
            )
        )
        text = self._pharmacies[key] = element("Pharmacy", content)
        return text

    def _prescriber(self, p: pb.Practitioner) -> str:
        n = p.name
        key = (p.npi, p.dea, p.state_license, n.family, n.given, n.middle, n.suffix, n.prefix)
        text = self._prescribers.get(key)
        if text is not None:
            return text
        ascii_only = self.ascii_only
        identification = element(
            "Identification",
            element("NPI", fit(p.npi, 35, ascii_only=ascii_only))
            + element("DEANumber", fit(p.dea, 35, ascii_only=ascii_only))
            + element("StateLicenseNumber", fit(p.state_license, 35, ascii_only=ascii_only)),
        )
        content = identification + _name(_fitted_name(n, ascii_only))
        if content and self.version == V2017071:
            content = f"<NonVeterinarian>{content}</NonVeterinarian>"
        text = self._prescribers[key] = element("Prescriber", content)
        return text
