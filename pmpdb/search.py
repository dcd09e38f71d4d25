"""The history search: validate the query, match the patient, page their dispensations into protobuf, and (on the
first page) the clinical indicators over every fill in the period.

This is the whole of ``SearchHistory`` apart from the gRPC glue, so it is tested without a server.

Indicators (``pmpdb.indicators``) come in the same round trip as the data they describe. When the first page holds
every fill in the period they are computed from its rows; otherwise one more query reads the fills' dates, amounts,
drugs and pharmacy/prescriber keys (``Store.indicator_rows``). Later pages carry none: a caller paging through a
history got them with page one. ``SearchLimits.indicators=False`` turns them off (the benchmark's baseline).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from datetime import date, timedelta

from pmpdb.indicators import DEFAULT_FACTORS, FactorVersion, Thresholds, alerts, table
from pmpdb.indicators.collect import Converter, write_indicators
from pmpdb.indicators.patient import FillRows, compute_rows
from pmpdb.matching import Demographics, InvalidDemographicsError, MatchStatus, decide, query_plan
from pmpdb.patients import demographics_of_query, demographics_of_record
from pmpdb.store.base import DispensationRow, PatientRecord, Store
from protos.pmp.v1 import pmp_pb2 as pb

_GENDER = {"F": pb.GENDER_FEMALE, "M": pb.GENDER_MALE, "U": pb.GENDER_UNKNOWN}
_MATCH = {
    MatchStatus.FOUND: pb.MATCH_STATUS_FOUND,
    MatchStatus.AMBIGUOUS: pb.MATCH_STATUS_AMBIGUOUS,
    MatchStatus.NOT_FOUND: pb.MATCH_STATUS_NOT_FOUND,
}


class InvalidQueryError(ValueError):
    """The query cannot be answered as asked (maps to gRPC INVALID_ARGUMENT). Messages carry no PHI."""


@dataclass(slots=True, frozen=True)
class SearchLimits:
    default_page_size: int = 100
    max_page_size: int = 500
    max_candidates: int = 200
    default_history_days: int = 365
    max_range_days: int = 366 * 10
    indicators: bool = True  # MME per dispensation, clinical indicators and alerts (False: the benchmark baseline)
    mme_factors: FactorVersion = DEFAULT_FACTORS  # "cdc2022" | "cdc2016" (pmpdb.indicators.factors)
    thresholds: Thresholds = field(default_factory=Thresholds)


def _parse_date(value: str, what: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidQueryError(f"{what} is not a date (YYYY-MM-DD)") from None


def encode_page_token(date_filled: str, dispensation_id: int) -> str:
    return base64.urlsafe_b64encode(f"{date_filled}|{dispensation_id}".encode()).decode().rstrip("=")


def decode_page_token(token: str) -> tuple[str, int]:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        filled, _, ident = raw.partition("|")
        date.fromisoformat(filled)
        return filled, int(ident)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidQueryError("page_token is not one this service issued") from None


class HistorySearch:
    """Answers ``SearchHistoryRequest`` from a store."""

    def __init__(
        self,
        store: Store,
        limits: SearchLimits | None = None,
        *,
        state_code: str = "",
        today: date | None = None,
    ) -> None:
        self._store = store
        self._state_code = state_code
        self._limits = limits or SearchLimits()
        self._today = today
        self._factors = table(self._limits.mme_factors)  # ValueError now, not at the first query
        self._converter = Converter(self._factors)

    def _date_range(self, req: pb.SearchHistoryRequest) -> tuple[str, str]:
        today = self._today or date.today()
        start_s, end_s = req.date_range.start, req.date_range.end
        end = _parse_date(end_s, "date_range.end") if end_s else today
        start = (
            _parse_date(start_s, "date_range.start")
            if start_s
            else end - timedelta(days=self._limits.default_history_days)
        )
        if start > end:
            raise InvalidQueryError("date_range.start is after date_range.end")
        if (end - start).days > self._limits.max_range_days:
            raise InvalidQueryError("date_range is longer than the service allows")
        return start.isoformat(), end.isoformat()

    def _validate(self, req: pb.SearchHistoryRequest) -> None:
        if req.page_size < 0:
            raise InvalidQueryError("page_size must not be negative")
        patient = req.patient
        if patient.patient_id:
            return  # demographics come from the stored record
        if not patient.name.family.strip():
            raise InvalidQueryError("patient.name.family is required")
        if not patient.birth_date:
            raise InvalidQueryError("patient.birth_date is required")
        birth = _parse_date(patient.birth_date, "patient.birth_date")
        if birth > (self._today or date.today()) or birth.year < 1880:
            raise InvalidQueryError("patient.birth_date is out of range")

    async def _query_demographics(self, patient: pb.PatientQuery) -> Demographics | None:
        """The demographics to match: the query's own, or those of the record an earlier answer named."""
        if patient.patient_id:
            record = await self._store.patient_by_id(_record_id(patient.patient_id))
            return demographics_of_record(record) if record is not None else None
        try:
            return demographics_of_query(patient)
        except InvalidDemographicsError:
            raise InvalidQueryError("patient demographics are not understood") from None

    async def search(self, req: pb.SearchHistoryRequest) -> pb.SearchHistoryResponse:
        self._validate(req)
        start, end = self._date_range(req)
        after = decode_page_token(req.page_token) if req.page_token else None
        limits = self._limits
        page_size = min(req.page_size or limits.default_page_size, limits.max_page_size)

        query = await self._query_demographics(req.patient)
        if query is None:
            return pb.SearchHistoryResponse(match_status=pb.MATCH_STATUS_NOT_FOUND)
        plan = query_plan(query)
        records = await self._store.candidates(plan.birth_dates, plan.keys, limits.max_candidates + 1)
        if len(records) > limits.max_candidates:
            # Too many look-alikes to decide on a complete set: a person's records could be left out. Defer to
            # manual reconciliation rather than answer from an arbitrary subset.
            return pb.SearchHistoryResponse(match_status=pb.MATCH_STATUS_AMBIGUOUS)
        by_id = {r.id: r for r in records}
        decision = decide(query, [(r.id, demographics_of_record(r)) for r in records])
        response = pb.SearchHistoryResponse(match_status=_MATCH[decision.status])
        for person in decision.persons:
            response.patients.append(_matched_patient(person.record_ids, person.score, by_id))
        if decision.status is not MatchStatus.FOUND:
            return response

        record_ids = decision.persons[0].record_ids
        page = await self._store.history(record_ids, start, end, page_size + 1, after)
        rows = page.rows
        if len(rows) > page_size:
            rows = rows[:page_size]
            last = rows[-1]
            response.next_page_token = encode_page_token(last[4], last[0])
        response.total_dispensations = page.total
        patients = {rid: _PatientParts.of(by_id[rid]) for rid in record_ids}
        builder = _DispensationBuilder(patients, self._state_code)
        if not limits.indicators:
            for row in rows:
                builder.add(response, row)
            return response
        convert = self._converter
        indicators = after is None
        whole = indicators and len(page.rows) <= page_size  # the page holds every fill in the period
        amounts, fills = convert.history(rows, fills=whole)
        for row, amount in zip(rows, amounts, strict=True):
            builder.add(response, row, amount.encoded)
        if indicators:
            if fills is None:
                fills = convert.indicator_fills(await self._store.indicator_rows(record_ids, start, end))
            self._indicators(response, fills, start, end)
        return response

    def _indicators(self, out: pb.SearchHistoryResponse, fills: FillRows, start: str, end: str) -> None:
        limits = self._limits
        first, as_of = self._converter.period(start, end, self._today)
        found = compute_rows(fills, first, as_of, limits.thresholds)
        write_indicators(out, found, alerts(found, limits.thresholds, self._factors.label), limits.mme_factors)


def _record_id(text: str) -> int:
    if not (text.isdigit() and len(text) <= 19):
        raise InvalidQueryError("patient.patient_id is not one this service issued")
    return int(text)


def _name(r: PatientRecord) -> pb.HumanName:
    return pb.HumanName(family=r.last_name, given=r.first_name, middle=r.middle_name, suffix=r.name_suffix)


def _address(r: PatientRecord) -> pb.Address:
    return pb.Address(line1=r.address1, line2=r.address2, city=r.city, state=r.state, postal_code=r.zip)


def _matched_patient(record_ids: tuple[int, ...], score: float, by_id: dict[int, PatientRecord]) -> pb.MatchedPatient:
    first = by_id[min(record_ids)]
    return pb.MatchedPatient(
        id=str(first.id),
        record_ids=[str(i) for i in sorted(record_ids)],
        name=_name(first),
        birth_date=first.birth_date,
        gender=_GENDER.get(first.gender, pb.GENDER_UNSPECIFIED),
        address=_address(first),
        score=round(score, 4),
    )


@dataclass(slots=True, frozen=True)
class _PatientParts:
    """A patient record's sub-messages, built once per query and shared by its dispensations."""

    name: pb.HumanName
    birth_date: str
    gender: pb.Gender.ValueType
    address: pb.Address

    @classmethod
    def of(cls, r: PatientRecord) -> _PatientParts:
        return cls(_name(r), r.birth_date, _GENDER.get(r.gender, pb.GENDER_UNSPECIFIED), _address(r))


class _DispensationBuilder:
    """Appends HISTORY_SELECT rows to a response. A history repeats a few pharmacies, prescribers, drugs and one
    patient's demographics: each part is serialized once per answer as its tagged field of ``Dispensation``, and a
    row's parts are merged in from the concatenated bytes (a third of the cost of copying four messages in)."""

    def __init__(self, patients: dict[int, _PatientParts], state: str) -> None:
        self._patients = patients
        self._state = state
        self._pharmacies: dict[tuple[object, ...], bytes] = {}
        self._prescribers: dict[tuple[object, ...], bytes] = {}
        self._drugs: dict[str, bytes] = {}
        self._patient_parts: dict[int, bytes] = {}

    def _pharmacy(self, r: DispensationRow) -> bytes:
        key = r[19:29]
        part = self._pharmacies.get(key)
        if part is None:
            pharmacy = pb.Pharmacy(
                npi=r[19],
                ncpdp=r[20],
                dea=r[21],
                name=r[22],
                phone=r[28],
                address=pb.Address(line1=r[23], line2=r[24], city=r[25], state=r[26], postal_code=r[27]),
            )
            part = self._pharmacies[key] = pb.Dispensation(pharmacy=pharmacy).SerializeToString()
        return part

    def _prescriber(self, r: DispensationRow) -> bytes:
        key = r[29:35]
        part = self._prescribers.get(key)
        if part is None:
            prescriber = pb.Practitioner(
                npi=r[29] or "",
                dea=r[30] or "",
                state_license=r[31] or "",
                name=pb.HumanName(family=r[32] or "", given=r[33] or "", middle=r[34] or ""),
            )
            part = self._prescribers[key] = pb.Dispensation(prescriber=prescriber).SerializeToString()
        return part

    def _drug(self, r: DispensationRow) -> bytes:
        ndc: str = r[9]
        part = self._drugs.get(ndc)
        if part is None:
            drug = (
                pb.Drug(
                    ndc=ndc,
                    name=r[35],
                    strength=f"{r[36]} {r[37]}".strip(),
                    dosage_form=r[38],
                    dea_schedule=r[39],
                    drug_class=r[40],
                )
                if r[35] is not None
                else None
            )
            part = self._drugs[ndc] = pb.Dispensation(drug=drug).SerializeToString() if drug is not None else b""
        return part

    def _patient(self, record_id: int) -> bytes:
        part = self._patient_parts.get(record_id)
        if part is None:
            p = self._patients[record_id]
            part = self._patient_parts[record_id] = pb.Dispensation(
                patient_name=p.name,
                patient_birth_date=p.birth_date,
                patient_gender=p.gender,
                patient_address=p.address,
            ).SerializeToString()
        return part

    def add(self, out: pb.SearchHistoryResponse, r: DispensationRow, amounts: bytes = b"") -> None:
        """One row → one Dispensation, built in place (column positions are schema.HISTORY_SELECT's), with its
        MME and LME per day when they are known (``amounts``: those fields serialized, ``Amounts.encoded``)."""
        d = out.dispensations.add(
            id=str(r[0]),
            patient_id=str(r[1]),
            source_state=self._state,
            rx_number=r[2],
            date_written=r[3],
            date_filled=r[4],
            date_sold=r[5],
            refill_number=r[6],
            refills_authorized=r[7],
            product_id_qualifier=r[8],
            ndc=r[9],
            quantity=r[10],
            quantity_unit=r[11],
            days_supply=r[12],
            payment_type=r[13],
            partial_fill=r[14],
            transmission_form=r[15],
            status=r[16],
            pharmacist_npi=r[17],
            rxnorm_code=r[18],
        )
        parts = self._pharmacy(r) + self._prescriber(r) + self._drug(r) + self._patient(r[1])
        d.MergeFromString(parts + amounts if amounts else parts)
