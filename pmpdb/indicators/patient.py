"""Per-person indicators over a report period: pure functions of the fills, hand-testable.

A fill is *active* from its fill date through ``fill date + days supply − 1`` (a fill without a usable days
supply: its fill date only). Only fills dated in the report period count, and only days from the period's start
up to ``as_of`` (the period's end, or today if that is earlier) — no day after ``as_of`` is projected.

* **Daily active MME** — on each day, the sum of the MME/day of the opioid fills active that day. ``peak`` is the
  highest such day (the first day it was reached), ``current`` the value on ``as_of``. The MME alert (PMIX 05)
  trips when the peak is at or above the threshold (default 90, CDC 2016 Rec. 5 / 2022); its period runs from the
  first to the last day at or above it.
* **Multiple provider episode** (PMIX 03) — distinct prescribers and distinct pharmacies among the fills of any
  window of ``mpe_window_days`` (default 90) days; it trips when one window reaches both thresholds (default 5 and
  5: the "5×5×90" definition, peers.md §2.1). Every reported fill counts (a PMP holds controlled substances only),
  not opioids alone. The figures reported (``prescribers``, ``pharmacies``, ``provider_window``) are the episode's
  when there is one — the window with the larger of the two smaller counts, then the larger sum, then the
  earliest; its period runs from its first to its last fill — and otherwise those of the last ``mpe_window_days``
  days up to ``as_of``. Windows are slid over the fills only when the whole period holds enough prescribers and
  pharmacies to trip: for most people the figures are one pass over the fills.
* **Opioid + benzodiazepine overlap** (PMIX 04) — the days on which an opioid (buprenorphine included: the risk is
  the combination, not the MME) and a benzodiazepine are both active; it trips at ``overlap_days`` (default 1).
* **Active prescriptions** — distinct prescriptions (pharmacy + Rx number) with a fill active on ``as_of``.

MME sums are whole thousandths (``mme.milli``), sums and sets do not care about order, and the provider window
depends on dates, pharmacies and prescribers only: the result does not depend on the order of the input (a
property test checks it).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from itertools import pairwise
from operator import itemgetter
from typing import Final, NamedTuple

MME_CODE: Final = "05"
MPE_CODE: Final = "03"
OVERLAP_CODE: Final = "04"
_FILLED: Final = itemgetter(0)


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Alert thresholds (gateway settings pass them in; defaults from peers.md §2.1)."""

    mme_per_day: float = 90.0
    mpe_prescribers: int = 5
    mpe_pharmacies: int = 5
    mpe_window_days: int = 90
    overlap_days: int = 1


class Fill(NamedTuple):
    """One dispensation as the indicators see it (``fill`` makes one from a days supply). A tuple: thousands are
    made per second on the hot path."""

    filled: int  # date.toordinal()
    last_day: int  # the last day it is active: filled + days supply - 1 (filled, without a usable days supply)
    pharmacy: str  # the store's pharmacy key
    prescriber: str  # the store's prescriber key ("" when none was reported)
    rx_number: str
    drug_class: str  # "" when the NDC is not in the drug reference
    mme_milli: int | None  # MME/day in thousandths; None when not known
    lme_milli: int | None
    unconverted_opioid: bool  # an opioid without MME that is not excluded on purpose (buprenorphine)


def fill(
    filled: int,
    days_supply: int,
    pharmacy: str,
    prescriber: str,
    rx_number: str,
    drug_class: str,
    mme_milli: int | None,
    lme_milli: int | None,
    unconverted_opioid: bool,
) -> Fill:
    return Fill(
        filled,
        filled + (days_supply if days_supply > 0 else 1) - 1,
        pharmacy,
        prescriber,
        rx_number,
        drug_class,
        mme_milli,
        lme_milli,
        unconverted_opioid,
    )


class Span(NamedTuple):
    first: date
    last: date


class PatientIndicators(NamedTuple):
    """The indicators of one person (a tuple: cheap to make on every first page)."""

    as_of: date
    peak_mme_milli: int
    peak_mme_day: date | None
    mme_over: Span | None  # first..last day at or above the MME threshold
    current_mme_milli: int
    current_lme_milli: int
    active_prescriptions: int
    prescribers: int
    pharmacies: int
    provider_window: Span | None
    mpe: bool
    overlap_days: int
    overlap: Span | None
    unconverted_opioids: int
    unknown_drugs: int

    @property
    def peak_mme(self) -> float:
        return self.peak_mme_milli / 1000

    @property
    def current_mme(self) -> float:
        return self.current_mme_milli / 1000

    @property
    def current_lme(self) -> float:
        return self.current_lme_milli / 1000


def _runs(deltas: dict[int, int]) -> list[tuple[int, int, int]]:
    runs: list[tuple[int, int, int]] = []
    level = 0
    days = sorted(deltas)
    for day, following in pairwise(days):
        level += deltas[day]
        runs.append((day, following - 1, level))
    return runs


def daily_mme(fills: Iterable[Fill], start: int, end: int) -> list[tuple[int, int, int]]:
    """The daily active MME as runs ``(first day, last day, milli-MME)`` covering every day from the first active
    day to the last within ``start``..``end`` (ordinals); days between fills appear as runs of 0."""
    deltas: dict[int, int] = {}
    for f in fills:
        mme = f[6]
        if mme is not None and f[0] <= end and f[1] >= start:
            first, after = (f[0] if f[0] > start else start), (f[1] if f[1] < end else end) + 1
            deltas[first] = deltas.get(first, 0) + mme
            deltas[after] = deltas.get(after, 0) - mme
    return _runs(deltas)


def _overlap(opioid: dict[int, int], benzo: dict[int, int]) -> tuple[int, Span | None]:
    days = sorted(opioid.keys() | benzo.keys())
    total = first = last = 0
    o = b = 0
    for day, following in pairwise(days):
        o += opioid.get(day, 0)
        b += benzo.get(day, 0)
        if o and b:
            total += following - day
            first = first or day
            last = following - 1
    return total, (Span(date.fromordinal(first), date.fromordinal(last)) if total else None)


def _distinct(fills: Sequence[Fill]) -> tuple[int, int]:
    """Distinct prescribers and pharmacies; "dea:" is a prescriber reported without any identifier: not one."""
    prescribers = {f[3] for f in fills}
    prescribers.discard("")
    if any(p[-1] == ":" for p in prescribers):
        prescribers = {p for p in prescribers if p[-1] != ":"}
    pharmacies = {f[2] for f in fills}
    pharmacies.discard("")
    return len(prescribers), len(pharmacies)


def provider_window(
    fills: Sequence[Fill], start: int, as_of: int, thresholds: Thresholds
) -> tuple[int, int, Span | None, bool]:
    """(prescribers, pharmacies, their window, MPE tripped): the episode's figures if there is one, else those of
    the ``mpe_window_days`` days up to ``as_of`` (not before ``start``, the period's first day; module docstring).

    ``fills`` must be sorted by date. Episode search: a window starting at a fill date holds every window that
    starts earlier and ends at the same fills, so only those are tried — two pointers, O(n). The result depends on
    the fills' dates, pharmacies and prescribers only, never on their order within a day."""
    if not fills:
        return 0, 0, None, False
    width = thresholds.mpe_window_days
    need_p, need_ph = thresholds.mpe_prescribers, thresholds.mpe_pharmacies
    every_p, every_ph = _distinct(fills)
    if every_p >= need_p and every_ph >= need_ph:
        events = [(f[0], f[3] if f[3] and f[3][-1] != ":" else "", f[2]) for f in fills]
        episode = _episode(events, width, need_p, need_ph)
        if episode is not None:
            return episode
    since = max(as_of - width + 1, start)
    recent = fills[bisect_left(fills, since, key=_FILLED) : bisect_right(fills, as_of, key=_FILLED)]
    recent_p, recent_ph = _distinct(recent)
    return recent_p, recent_ph, Span(date.fromordinal(since), date.fromordinal(as_of)), False


def _episode(
    events: list[tuple[int, str, str]], width: int, need_p: int, need_ph: int
) -> tuple[int, int, Span, bool] | None:
    """The busiest window that trips (None when none does)."""
    prescribers: defaultdict[str, int] = defaultdict(int)
    pharmacies: defaultdict[str, int] = defaultdict(int)
    p = ph = 0  # distinct prescribers and pharmacies in the window
    best = (-1, -1)
    found: tuple[int, int, int, int] | None = None  # p, ph, first, last
    j = 0
    n = len(events)
    previous = None
    for i, (start, _, _) in enumerate(events):
        if start == previous:
            continue  # the same window as the previous start
        previous = start
        end = start + width
        while j < n and events[j][0] < end:
            _, pr, pharmacy = events[j]
            if pr:
                prescribers[pr] += 1
                p += prescribers[pr] == 1
            if pharmacy:
                pharmacies[pharmacy] += 1
                ph += pharmacies[pharmacy] == 1
            j += 1
        if p >= need_p and ph >= need_ph:
            key = (p if p < ph else ph, p + ph)
            if key > best:
                best = key
                found = (p, ph, start, events[j - 1][0])
        k = i
        while k < n and events[k][0] == start:  # the fills leaving: this start date's
            _, pr, pharmacy = events[k]
            if pr:
                prescribers[pr] -= 1
                p -= not prescribers[pr]
            if pharmacy:
                pharmacies[pharmacy] -= 1
                ph -= not pharmacies[pharmacy]
            k += 1
    if found is None:
        return None
    count_p, count_ph, first, last = found
    return count_p, count_ph, Span(date.fromordinal(first), date.fromordinal(last)), True


def compute(fills: Collection[Fill], start: date, as_of: date, thresholds: Thresholds) -> PatientIndicators:
    """Every indicator for one person (module docstring). ``fills`` may come in any order."""
    lo, hi = start.toordinal(), as_of.toordinal()
    deltas: defaultdict[int, int] = defaultdict(int)
    opioid: defaultdict[int, int] = defaultdict(int)
    benzo: defaultdict[int, int] = defaultdict(int)
    active: set[tuple[str, str]] = set()
    current_lme = unconverted = unknown = 0
    for f in fills:  # one pass: every event, then sweeps over the event days
        filled, last, cls = f[0], f[1], f[5]
        if filled <= hi and last >= lo:
            first, after = (filled if filled > lo else lo), (last if last < hi else hi) + 1
            mme = f[6]
            if mme is not None:
                deltas[first] += mme
                deltas[after] -= mme
            which = opioid if cls == "opioid" else benzo if cls == "benzodiazepine" else None
            if which is not None:
                which[first] += 1
                which[after] -= 1
            if last >= hi:
                active.add((f[2], f[4]))
                if f[7] is not None:
                    current_lme += f[7]
        if f[8]:
            unconverted += 1
        if not cls:
            unknown += 1
    limit = max(round(thresholds.mme_per_day * 1000), 1)
    peak, peak_day = 0, None
    over_first = over_last = None
    current = level = 0
    days = sorted(deltas)
    for day, following in pairwise(days):  # runs of equal daily MME: day .. following - 1
        level += deltas[day]
        if level > peak:
            peak, peak_day = level, day
        if level >= limit:
            over_first = day if over_first is None else over_first
            over_last = following - 1
        if day <= hi < following:
            current = level
    prescribers, pharmacies, window, mpe = provider_window(sorted(fills, key=_FILLED), lo, hi, thresholds)
    overlap_count, overlap = _overlap(opioid, benzo) if opioid and benzo else (0, None)
    return PatientIndicators(
        as_of,
        peak,
        date.fromordinal(peak_day) if peak_day is not None else None,
        (
            Span(date.fromordinal(over_first), date.fromordinal(over_last))
            if over_first is not None and over_last is not None
            else None
        ),
        current,
        current_lme,
        len(active),
        prescribers,
        pharmacies,
        window,
        mpe,
        overlap_count,
        overlap,
        unconverted,
        unknown,
    )


class AlertFact(NamedTuple):
    code: str  # PMIXPatientAlertCatCode
    text: str
    period: Span
    value: float
    threshold: float


def _num(value: float) -> str:
    return f"{value:.1f}".removesuffix(".0")


def alerts(ind: PatientIndicators, thresholds: Thresholds, factors_label: str) -> list[AlertFact]:
    """The alerts ``ind`` trips, MME first (the order of ``SearchHistoryResponse.alerts``)."""
    out: list[AlertFact] = []
    if ind.mme_over is not None and ind.peak_mme_day is not None:
        out.append(
            AlertFact(
                MME_CODE,
                f"Daily MME reached {_num(ind.peak_mme)} on {ind.peak_mme_day.isoformat()} (threshold"
                f" {_num(thresholds.mme_per_day)}, {factors_label} factors); {_num(ind.current_mme)} on"
                f" {ind.as_of.isoformat()}",
                ind.mme_over,
                ind.peak_mme,
                thresholds.mme_per_day,
            )
        )
    if ind.mpe and ind.provider_window is not None:
        out.append(
            AlertFact(
                MPE_CODE,
                f"Multiple provider episode: {ind.prescribers} prescribers and {ind.pharmacies} pharmacies within"
                f" {thresholds.mpe_window_days} days (thresholds {thresholds.mpe_prescribers} and"
                f" {thresholds.mpe_pharmacies})",
                ind.provider_window,
                float(ind.prescribers),
                float(thresholds.mpe_prescribers),
            )
        )
    if ind.overlap is not None and ind.overlap_days >= thresholds.overlap_days:
        out.append(
            AlertFact(
                OVERLAP_CODE,
                f"Opioid and benzodiazepine both active on {ind.overlap_days} days",
                ind.overlap,
                float(ind.overlap_days),
                float(thresholds.overlap_days),
            )
        )
    return out
