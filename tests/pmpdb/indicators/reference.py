"""The per-person indicators computed the straightforward way — day by day and window by window, straight from the
definitions in ``docs/clinical-indicators.md`` — for property tests to hold ``pmpdb.indicators.patient.compute``
(a sweep over start/end events) to. Slow on purpose: nothing here is clever enough to be wrong the same way."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from pmpdb.indicators.patient import Fill, PatientIndicators, Span, Thresholds


def _span(days: list[int]) -> Span | None:
    return Span(date.fromordinal(days[0]), date.fromordinal(days[-1])) if days else None


def _counts(fills: Sequence[Fill]) -> tuple[int, int]:
    """Distinct prescribers (a key ending in ":" names nobody) and pharmacies."""
    prescribers = {f.prescriber for f in fills if f.prescriber and not f.prescriber.endswith(":")}
    pharmacies = {f.pharmacy for f in fills if f.pharmacy}
    return len(prescribers), len(pharmacies)


def _providers(fills: Sequence[Fill], lo: int, hi: int, t: Thresholds) -> tuple[int, int, Span | None, bool]:
    """The busiest window of ``mpe_window_days`` that trips (larger of the two smaller counts, then larger sum, then
    earliest), reported from its first to its last fill; else the window of days up to ``hi``."""
    if not fills:
        return 0, 0, None, False
    best: tuple[int, int] | None = None
    found: tuple[int, int, Span] | None = None
    for start in sorted({f.filled for f in fills}):
        inside = [f for f in fills if start <= f.filled < start + t.mpe_window_days]
        p, ph = _counts(inside)
        if p >= t.mpe_prescribers and ph >= t.mpe_pharmacies and (best is None or (min(p, ph), p + ph) > best):
            best = (min(p, ph), p + ph)
            found = (p, ph, Span(date.fromordinal(start), date.fromordinal(max(f.filled for f in inside))))
    if found is not None:
        return *found, True
    since = max(hi - t.mpe_window_days + 1, lo)
    p, ph = _counts([f for f in fills if since <= f.filled <= hi])
    return p, ph, Span(date.fromordinal(since), date.fromordinal(hi)), False


def reference_compute(fills: Sequence[Fill], start: date, as_of: date, t: Thresholds) -> PatientIndicators:
    lo, hi = start.toordinal(), as_of.toordinal()
    period = [f for f in fills if f.filled <= hi and f.last_day >= lo]

    def on(day: int) -> list[Fill]:
        return [f for f in period if f.filled <= day <= f.last_day]

    days = range(lo, hi + 1)
    daily = {day: sum(f.mme_milli for f in on(day) if f.mme_milli is not None) for day in days}
    peak = max(daily.values(), default=0)
    peak_day = next((day for day in days if daily[day] == peak), None) if peak > 0 else None
    limit = max(round(t.mme_per_day * 1000), 1)
    both = [
        day
        for day in days
        if any(f.drug_class == "opioid" for f in on(day)) and any(f.drug_class == "benzodiazepine" for f in on(day))
    ]
    active = [f for f in period if f.last_day >= hi]
    prescribers, pharmacies, window, mpe = _providers(fills, lo, hi, t)
    return PatientIndicators(
        as_of=as_of,
        peak_mme_milli=peak,
        peak_mme_day=date.fromordinal(peak_day) if peak_day is not None else None,
        mme_over=_span([day for day in days if daily[day] >= limit]),
        current_mme_milli=daily.get(hi, 0),
        current_lme_milli=sum(f.lme_milli for f in active if f.lme_milli is not None),
        active_prescriptions=len({(f.pharmacy, f.rx_number) for f in active}),
        prescribers=prescribers,
        pharmacies=pharmacies,
        provider_window=window,
        mpe=mpe,
        overlap_days=len(both),
        overlap=_span(both),
        unconverted_opioids=sum(f.unconverted_opioid for f in fills),
        unknown_drugs=sum(not f.drug_class for f in fills),
    )
