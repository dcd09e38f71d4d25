"""Store rows → MME per dispensation and the rows as the indicators' fills, with caches shared by every query;
results → protobuf.

The hot path of ``SearchHistory``, so it does as little per row as it can: a PMP's histories repeat a few drugs
and amounts, so each (reference row, quantity, unit, days supply) is converted once per process — into the
dispensation's serialized MME/LME fields and the ``Dose`` the indicators read — and a row is then one dict lookup
and one date parsed in C; the indicators read the rows themselves (``FillRows``), with no tuple built per fill.

A conversion is keyed by exactly what it is computed from — the reference row's strength, strength unit, class,
ingredient and factors, and the dispensation's quantity, unit and days supply — so a reloaded reference can never
be answered from a stale entry, and NDCs with the same facts share one. The stored keys share their strings, so
that the few a lookup compares with stay in the CPU's caches. The caches are bounded: full, they are emptied and
refilled.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from datetime import time as clock_time
from operator import itemgetter
from typing import Any, Final, NamedTuple, cast

from pmpdb.indicators.factors import FactorTable
from pmpdb.indicators.mme import drug_facts, lme_per_day, milli, mme_per_day
from pmpdb.indicators.patient import AlertFact, Dose, FillRows, PatientIndicators, dose, iso
from pmpdb.store.base import Row
from protos.pmp.v1 import pmp_pb2 as pb

MAX_ENTRIES: Final = 1 << 16

# (strength, strength_unit, drug_class, ingredient, mme_factor, lme_factor, quantity, unit code, days supply) of a
# row: the key of its conversion. The reference columns are None throughout for an NDC the reference does not know.
AmountKey = tuple[Any, ...]
_HISTORY_KEY: Final = itemgetter(36, 37, 40, 41, 42, 43, 10, 11, 12)  # schema.HISTORY_SELECT
_HISTORY_FILLED: Final = itemgetter(4)
_HISTORY_FIELDS: Final = (44, 45, 2)  # pharmacy key, prescriber key, Rx number
_INDICATOR_KEY: Final = itemgetter(7, 8, 11, 12, 13, 14, 2, 3, 1)  # schema.INDICATOR_SELECT
_INDICATOR_FILLED: Final = itemgetter(0)
_INDICATOR_FIELDS: Final = (4, 5, 6)


class Amounts(NamedTuple):
    """What one dispensation contributes, as the response and the indicators need it."""

    dose: Dose
    encoded: bytes  # ``mme_per_day`` / ``lme_per_day`` as serialized Dispensation fields (b"" when neither is known)


_DOSE: Final = itemgetter(0)
_PARSE: Final = date.fromisoformat  # parsed in C: quicker than looking the text up, which must hash and compare it
_ORDINAL: Final = date.toordinal


class LocalDate:
    """Today's local date, read from the clock once per local day: ``date.today()`` converts the time to local
    time on every call, which showed on the hot path."""

    __slots__ = ("_day", "_from", "_until")

    def __init__(self) -> None:
        self._day = date.min
        self._from = self._until = 0.0

    def __call__(self) -> date:
        now = time.time()
        if not self._from <= now < self._until:  # a new day (or the clock was set back)
            day = self._day = date.fromtimestamp(now)
            self._from = datetime.combine(day, clock_time.min).timestamp()
            self._until = datetime.combine(day + timedelta(days=1), clock_time.min).timestamp()
        return self._day


class Converter:
    """MME/LME per day of dispensations under one factor table, cached (one per ``HistorySearch``)."""

    __slots__ = ("_amounts", "_periods", "_strings", "_today", "table")

    def __init__(self, table: FactorTable) -> None:
        self.table = table
        self._amounts: dict[AmountKey, Amounts] = {}
        self._strings: dict[str, str] = {}
        self._periods: dict[tuple[str, str, date], tuple[date, date]] = {}
        self._today = LocalDate()

    def period(self, start: str, end: str, today: date | None = None) -> tuple[date, date]:
        """A report period given as ISO dates → its first day and ``as_of``: its end, or ``today`` (default: the
        local date) if that is earlier. Most answers share a period, so each is worked out once a day."""
        key = (start, end, today or self._today())
        found = self._periods.get(key)
        if found is None:
            if len(self._periods) >= MAX_ENTRIES:
                self._periods.clear()
            found = self._periods[key] = (date.fromisoformat(start), min(date.fromisoformat(end), key[2]))
        return found

    def _convert(self, key: AmountKey) -> Amounts:
        strength, unit, drug_class, ingredient, mme_factor, lme_factor, quantity, unit_code, days_supply = key
        facts = drug_facts(drug_class, ingredient, strength, unit, mme_factor, lme_factor)
        mme = mme_per_day(facts, quantity, unit_code, days_supply, self.table)
        lme = lme_per_day(facts, quantity, unit_code, days_supply)
        unconverted = facts.is_opioid and mme is None and not facts.mme_excluded
        found = Amounts(
            dose(facts.drug_class, milli(mme), milli(lme), unconverted, days_supply if days_supply > 0 else 1),
            pb.Dispensation(mme_per_day=mme, lme_per_day=lme).SerializeToString(),
        )
        if len(self._amounts) >= MAX_ENTRIES:
            self._amounts.clear()
            self._strings.clear()
        # Stored with shared strings: every lookup compares a row's fresh strings with these, which then stay few
        # and in cache however many entries there are.
        strings = self._strings
        self._amounts[tuple(strings.setdefault(x, x) if type(x) is str else x for x in key)] = found
        return found

    def _convert_missing(self, found: list[Amounts | None], rows: Sequence[Row], key: itemgetter[Any]) -> list[Amounts]:
        """``found`` (cache lookups for ``rows``) with the first sightings converted."""
        if all(found):
            return cast("list[Amounts]", found)
        return [a or self._convert(key(row)) for a, row in zip(found, rows, strict=True)]

    def _fills(
        self, rows: Sequence[Row], amounts: list[Amounts], filled_at: itemgetter[Any], fields: tuple[int, int, int]
    ) -> FillRows:
        filled = list(map(_ORDINAL, map(_PARSE, map(filled_at, rows))))
        return FillRows(rows, list(map(_DOSE, amounts)), filled, *fields)

    def history(self, rows: Sequence[Row], *, fills: bool) -> tuple[list[Amounts], FillRows | None]:
        """Amounts for ``schema.HISTORY_SELECT`` rows and, if ``fills``, the rows as the indicators' fills."""
        get = self._amounts.get
        # _HISTORY_KEY's columns, spelled out: indexing a tuple by a constant is quicker than itemgetter's generic
        # path, and this runs for every row of every answer.
        found = [get((r[36], r[37], r[40], r[41], r[42], r[43], r[10], r[11], r[12])) for r in rows]
        amounts = self._convert_missing(found, rows, _HISTORY_KEY)
        return amounts, self._fills(rows, amounts, _HISTORY_FILLED, _HISTORY_FIELDS) if fills else None

    def indicator_fills(self, rows: Sequence[Row]) -> FillRows:
        """``schema.INDICATOR_SELECT`` rows as the indicators' fills."""
        amounts = self._convert_missing(list(map(self._amounts.get, map(_INDICATOR_KEY, rows))), rows, _INDICATOR_KEY)
        return self._fills(rows, amounts, _INDICATOR_FILLED, _INDICATOR_FIELDS)


def write_indicators(
    out: pb.SearchHistoryResponse, ind: PatientIndicators, alerts: list[AlertFact], version: str
) -> None:
    """Fill ``out.indicators`` and ``out.alerts``, field by field in place (building sub-messages and copying
    them in costs as much again)."""
    msg = out.indicators
    msg.as_of = iso(ind.as_of)
    msg.mme_factors = version
    # A zero is proto3's default, never sent: those that are usually zero are not set at all.
    if ind.peak_mme_milli:
        msg.peak_mme = ind.peak_mme_milli / 1000
    if ind.peak_mme_day is not None:
        msg.peak_mme_date = iso(ind.peak_mme_day)
    if ind.current_mme_milli:
        msg.current_mme = ind.current_mme_milli / 1000
    if ind.current_lme_milli:
        msg.current_lme = ind.current_lme_milli / 1000
    msg.active_prescriptions = ind.active_prescriptions
    msg.prescribers_90d = ind.prescribers
    msg.pharmacies_90d = ind.pharmacies
    if ind.provider_window is not None:
        window = msg.provider_window
        window.start, window.end = iso(ind.provider_window.first), iso(ind.provider_window.last)
    if ind.overlap_days:
        msg.overlap_days = ind.overlap_days
    if ind.unconverted_opioids:
        msg.unconverted_opioids = ind.unconverted_opioids
    if ind.unknown_drugs:
        msg.unknown_drugs = ind.unknown_drugs
    add = out.alerts.add
    for code, text, (first, last), value, threshold in alerts:
        alert = add()
        alert.code, alert.text, alert.value, alert.threshold = code, text, value, threshold
        period = alert.period
        period.start, period.end = iso(first), iso(last)
