"""Store rows → MME per dispensation and ``Fill``s, with caches shared by every query; results → protobuf.

The hot path of ``SearchHistory``: a history repeats a few drugs, amounts and dates, and so do the histories of a
PMP, so each (drug reference row, quantity, unit, days supply) is converted once per process and each date parsed
once. The key holds the reference row's columns themselves (not the NDC), so a reloaded reference can never be
answered from a stale entry. The caches are bounded: full, they are emptied and refilled.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any, Final, NamedTuple

from pmpdb.indicators.factors import FactorTable
from pmpdb.indicators.mme import DrugFacts, drug_facts, lme_per_day, milli, mme_per_day
from pmpdb.indicators.patient import AlertFact, Fill, PatientIndicators, Span
from pmpdb.store.base import Row
from protos.pmp.v1 import pmp_pb2 as pb

# The reference columns in store rows, in this order: strength, strength_unit, dosage_form, dea_schedule,
# drug_class, ingredient, mme_factor, lme_factor (all None for an NDC the reference does not know).
DrugColumns = tuple[Any, ...]
MAX_ENTRIES: Final = 1 << 16
_new = tuple.__new__


class Amounts(NamedTuple):
    """What one dispensation contributes, as the response and the indicators need it."""

    mme: float | None
    lme: float | None
    drug_class: str
    mme_milli: int | None
    lme_milli: int | None
    unconverted_opioid: bool


class Converter:
    """MME/LME per day of dispensations under one factor table, cached (one per ``HistorySearch``)."""

    __slots__ = ("_amounts", "_facts", "_ordinals", "table")

    def __init__(self, table: FactorTable) -> None:
        self.table = table
        self._facts: dict[DrugColumns, DrugFacts] = {}
        self._amounts: dict[tuple[DrugColumns, float, str, int], Amounts] = {}
        self._ordinals: dict[str, int] = {}

    def amounts(self, drug: DrugColumns, quantity: float, unit_code: str, days_supply: int) -> Amounts:
        key = (drug, quantity, unit_code, days_supply)
        found = self._amounts.get(key)
        if found is None:
            if len(self._amounts) >= MAX_ENTRIES:
                self._amounts.clear()
            found = self._amounts[key] = self._convert(drug, quantity, unit_code, days_supply)
        return found

    def _convert(self, drug: DrugColumns, quantity: float, unit_code: str, days_supply: int) -> Amounts:
        facts = self._facts.get(drug)
        if facts is None:
            if len(self._facts) >= MAX_ENTRIES:
                self._facts.clear()
            strength, unit, _form, _schedule, drug_class, ingredient, mme_factor, lme_factor = drug
            facts = self._facts[drug] = drug_facts(drug_class, ingredient, strength, unit, mme_factor, lme_factor)
        mme = mme_per_day(facts, quantity, unit_code, days_supply, self.table)
        lme = lme_per_day(facts, quantity, unit_code, days_supply)
        unconverted = facts.is_opioid and mme is None and not facts.mme_excluded
        return Amounts(mme, lme, facts.drug_class, milli(mme), milli(lme), unconverted)

    def ordinal(self, day: str) -> int:
        found = self._ordinals.get(day)
        if found is None:
            if len(self._ordinals) >= MAX_ENTRIES:
                self._ordinals.clear()
            found = self._ordinals[day] = date.fromisoformat(day).toordinal()
        return found

    def history(self, rows: Sequence[Row], *, fills: bool) -> tuple[list[Amounts], list[Fill]]:
        """Amounts for ``schema.HISTORY_SELECT`` rows (drug columns 36–43) and, if ``fills``, their ``Fill``s.

        One loop with everything bound locally: this runs for every row of every answer."""
        get, ordinals, convert, ordinal = self._amounts.get, self._ordinals, self.amounts, self.ordinal
        amounts: list[Amounts] = []
        out: list[Fill] = []
        for r in rows:
            days = r[12]
            a = get((r[36:44], r[10], r[11], days)) or convert(r[36:44], r[10], r[11], days)
            amounts.append(a)
            if fills:
                filled = ordinals.get(r[4]) or ordinal(r[4])
                last = filled + (days if days > 0 else 1) - 1
                # tuple.__new__ skips NamedTuple's Python-level __new__ (a third of the cost)
                out.append(_new(Fill, (filled, last, r[44], r[45] or "", r[2], a[2], a[3], a[4], a[5])))
        return amounts, out

    def indicator_fills(self, rows: Iterable[Row]) -> list[Fill]:
        """``Fill``s of ``schema.INDICATOR_SELECT`` rows (drug columns 7–14)."""
        get, ordinals, convert, ordinal = self._amounts.get, self._ordinals, self.amounts, self.ordinal
        out: list[Fill] = []
        for r in rows:
            days = r[1]
            a = get((r[7:15], r[2], r[3], days)) or convert(r[7:15], r[2], r[3], days)
            filled = ordinals.get(r[0]) or ordinal(r[0])
            last = filled + (days if days > 0 else 1) - 1
            out.append(_new(Fill, (filled, last, r[4], r[5] or "", r[6], a[2], a[3], a[4], a[5])))
        return out


def _range(span: Span | None) -> pb.DateRange | None:
    return pb.DateRange(start=span.first.isoformat(), end=span.last.isoformat()) if span is not None else None


def write_indicators(
    out: pb.SearchHistoryResponse, ind: PatientIndicators, alerts: list[AlertFact], version: str
) -> None:
    """Fill ``out.indicators`` and ``out.alerts``."""
    msg = out.indicators
    msg.as_of = ind.as_of.isoformat()
    msg.mme_factors = version
    msg.peak_mme = ind.peak_mme
    if ind.peak_mme_day is not None:
        msg.peak_mme_date = ind.peak_mme_day.isoformat()
    msg.current_mme = ind.current_mme
    msg.current_lme = ind.current_lme
    msg.active_prescriptions = ind.active_prescriptions
    msg.prescribers_90d = ind.prescribers
    msg.pharmacies_90d = ind.pharmacies
    window = _range(ind.provider_window)
    if window is not None:
        msg.provider_window.CopyFrom(window)
    msg.overlap_days = ind.overlap_days
    msg.unconverted_opioids = ind.unconverted_opioids
    msg.unknown_drugs = ind.unknown_drugs
    for fact in alerts:
        out.alerts.add(
            code=fact.code, text=fact.text, period=_range(fact.period), value=fact.value, threshold=fact.threshold
        )
