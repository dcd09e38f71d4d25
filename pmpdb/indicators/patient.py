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

``compute`` takes ``Fill``s. The hot path (``SearchHistory``, ``pmpdb.indicators.collect``) calls ``compute_rows``
with the store's rows as they come and a cached ``Dose`` per row, so that no tuple is built per fill; ``compute``
is ``compute_rows`` over doses made from the fills. Property tests hold both to a day-by-day reference.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from itertools import pairwise
from operator import itemgetter
from typing import Any, Final, NamedTuple

MME_CODE: Final = "05"
MPE_CODE: Final = "03"
OVERLAP_CODE: Final = "04"


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Alert thresholds (gateway settings pass them in; defaults from peers.md §2.1)."""

    mme_per_day: float = 90.0
    mpe_prescribers: int = 5
    mpe_pharmacies: int = 5
    mpe_window_days: int = 90
    overlap_days: int = 1


class Fill(NamedTuple):
    """One dispensation as the indicators see it (``fill`` makes one from a days supply): what ``compute`` takes.
    The hot path hands ``compute_rows`` the store's rows instead, with a ``Dose`` per row."""

    filled: int  # date.toordinal()
    last_day: int  # the last day it is active (≥ filled): filled + days supply - 1 (filled, without a usable one)
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


_OTHER, _BENZODIAZEPINE, _OPIOID = range(3)  # ``Dose.kind``
_KINDS: Final = {"opioid": _OPIOID, "benzodiazepine": _BENZODIAZEPINE}
_UNKNOWN_DRUG: Final = 1 << 32  # in ``Dose.tally``, above the unconverted-opioid count (< 2**32 fills)


class Dose(NamedTuple):
    """What one fill's drug and amounts contribute to the indicators, worked out once and shared by every fill
    with the same ones (``pmpdb.indicators.collect`` caches them). Make one with ``dose``."""

    kind: int  # _OPIOID, _BENZODIAZEPINE or _OTHER
    mme_milli: int  # 0 when not known
    lme_milli: int  # 0 when not known
    days_active: int  # last_day - filled + 1: the fill is active from its date to the day before date + this
    tally: int  # 1 for an unconverted opioid, plus _UNKNOWN_DRUG for a drug the reference does not know


def dose(
    drug_class: str, mme_milli: int | None, lme_milli: int | None, unconverted_opioid: bool, days_active: int
) -> Dose:
    tally = int(unconverted_opioid) + (0 if drug_class else _UNKNOWN_DRUG)
    return Dose(_KINDS.get(drug_class, _OTHER), mme_milli or 0, lme_milli or 0, days_active, tally)


class FillRows(NamedTuple):
    """A person's fills as ``compute_rows`` takes them: rows of any layout, each row's ``Dose`` and fill date
    (ordinal), and where in a row its pharmacy key, prescriber key (None or "": not reported) and Rx number are."""

    rows: Sequence[Sequence[Any]]
    doses: Sequence[Dose]
    filled: Sequence[int]
    pharmacy_at: int
    prescriber_at: int
    rx_number_at: int


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


def _prescribers(keys: Iterable[str | None]) -> set[str]:
    """Distinct prescribers: None or "" is none reported, and "dea:" one reported without any identifier."""
    found = set(filter(None, keys))
    for key in found:
        if key[-1] == ":":
            return {p for p in found if p[-1] != ":"}
    return found


def _pharmacies(keys: Iterable[str | None]) -> set[str]:
    return set(filter(None, keys))


def _providers(
    fills: FillRows, recent: list[Sequence[Any]], since: int, as_of: int, thresholds: Thresholds
) -> tuple[int, int, Span | None, bool]:
    """(prescribers, pharmacies, their window, MPE tripped): the episode's figures if there is one, else those of
    ``recent``, the fills of the ``mpe_window_days`` days ``since`` .. ``as_of`` (module docstring).

    Fills may come in any order; they are sorted only when the whole period holds enough prescribers and
    pharmacies for an episode. Episode search: a window starting at a fill date holds every window that starts
    earlier and ends at the same fills, so only those are tried — two pointers, O(n). The result depends on the
    fills' dates, pharmacies and prescribers only, never on their order within a day."""
    rows = fills.rows
    if not rows:
        return 0, 0, None, False
    pharmacy_of, prescriber_of = itemgetter(fills.pharmacy_at), itemgetter(fills.prescriber_at)
    if (
        len(_pharmacies(map(pharmacy_of, rows))) >= thresholds.mpe_pharmacies
        and len(every := _prescribers(map(prescriber_of, rows))) >= thresholds.mpe_prescribers
    ):
        events = sorted(
            zip(
                fills.filled,
                [p if p in every else "" for p in map(prescriber_of, rows)],
                [p or "" for p in map(pharmacy_of, rows)],
                strict=True,
            )
        )
        episode = _episode(events, thresholds.mpe_window_days, thresholds.mpe_prescribers, thresholds.mpe_pharmacies)
        if episode is not None:
            return episode
    return (
        len(_prescribers(map(prescriber_of, recent))),
        len(_pharmacies(map(pharmacy_of, recent))),
        _window(since, as_of),
        False,
    )


@lru_cache(maxsize=256)
def _window(first: int, last: int) -> Span:
    """The recent window as a span (the same for every answer over the same period: made once)."""
    return Span(date.fromordinal(first), date.fromordinal(last))


def _episode(
    events: list[tuple[int, str, str]], width: int, need_p: int, need_ph: int
) -> tuple[int, int, Span, bool] | None:
    """The busiest window that trips (None when none does). ``events``: (date, prescriber, pharmacy) by date,
    prescribers that do not count as ""."""
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


def _span(first: int | None, last: int | None) -> Span | None:
    return Span(date.fromordinal(first), date.fromordinal(last)) if first is not None and last is not None else None


def compute(fills: Collection[Fill], start: date, as_of: date, thresholds: Thresholds) -> PatientIndicators:
    """Every indicator for one person (module docstring). ``fills`` may come in any order."""
    doses = [dose(f[5], f[6], f[7], f[8], f[1] - f[0] + 1) for f in fills]
    return compute_rows(FillRows(list(fills), doses, [f[0] for f in fills], 2, 3, 4), start, as_of, thresholds)


_TALLY: Final = itemgetter(4)


def compute_rows(fills: FillRows, start: date, as_of: date, thresholds: Thresholds) -> PatientIndicators:
    """``compute`` over rows and their doses: what the hot path calls with the store's rows as they come.

    One pass over the fills turns each one active in the period into two events — its first day and the day
    after its last, clipped to the period and ``as_of`` — and collects what concerns ``as_of`` and the last
    ``mpe_window_days`` directly. Then one sweep over the sorted event days gives the peak MME, the days over the
    threshold and the overlap days, run by run.

    An event packs its three changes into one int so that one dict and one sweep carry them all: the lowest
    ``bits`` count active benzodiazepine fills, the next ``bits`` active opioid fills, the rest is the active MME
    in thousandths. A day's level (the sum of the events up to it) has both counts in 0 .. len(fills) <
    2**bits, so the fields never borrow from one another and each reads back exactly; sized to the fills, the
    level of a typical history stays a one-digit int, the fastest kind."""
    rows, doses, filled_days = fills.rows, fills.doses, fills.filled
    bits = len(doses).bit_length()
    shift = 2 * bits
    kind_delta = (0, 1, 1 << bits)  # by Dose.kind: _OTHER, _BENZODIAZEPINE, _OPIOID
    lo, hi = start.toordinal(), as_of.toordinal()
    since = max(hi - thresholds.mpe_window_days + 1, lo)
    pharmacy_at, rx_at = fills.pharmacy_at, fills.rx_number_at
    events: dict[int, int] = {}
    get = events.get
    recent: list[Sequence[Any]] = []  # fills of the last mpe_window_days up to as_of
    active: set[tuple[Any, Any]] = set()
    current = current_lme = 0
    for row, (kind, mme, lme, days_active, _), filled in zip(rows, doses, filled_days, strict=True):
        after = filled + days_active  # the day after its last
        if filled >= lo and after <= hi:  # within the period and over before as_of: most fills
            if kind or mme:
                delta = kind_delta[kind] + (mme << shift)
                events[filled] = get(filled, 0) + delta
                events[after] = get(after, 0) - delta
            if filled >= since:
                recent.append(row)
        elif filled <= hi and after > lo:  # begun before the period, or still active on as_of
            first = filled if filled > lo else lo
            end = after if after <= hi else hi + 1
            if (kind or mme) and first < end:  # first < end unless the period ends before it starts
                delta = kind_delta[kind] + (mme << shift)
                events[first] = get(first, 0) + delta
                events[end] = get(end, 0) - delta
            if filled >= since:
                recent.append(row)
            if after > hi:  # active on as_of
                active.add((row[pharmacy_at], row[rx_at]))
                current += mme
                current_lme += lme
    limit = max(round(thresholds.mme_per_day * 1000), 1) << shift  # compared packed: MME is the top field
    above_peak = 1 << shift  # the lowest level whose MME beats the peak so far
    benzodiazepines = (1 << bits) - 1
    opioids = benzodiazepines << bits
    peak_day = over_first = over_last = overlap_first = overlap_last = None
    overlap_days = level = 0
    days = sorted(events)
    run = days[0] if days else 0
    for day in days:  # the run from the previous event day (run) to day - 1 was at ``level``
        if level >= limit:
            if over_first is None:
                over_first = run
            over_last = day - 1
        if level & benzodiazepines and level & opioids:
            overlap_days += day - run
            if overlap_first is None:
                overlap_first = run
            overlap_last = day - 1
        level += events[day]
        if level >= above_peak:
            above_peak = ((level >> shift) + 1) << shift
            peak_day = day
        run = day
    prescribers, pharmacies, window, mpe = _providers(fills, recent, since, hi, thresholds)
    tally = sum(map(_TALLY, doses))
    return PatientIndicators(
        as_of,
        (above_peak >> shift) - 1,
        None if peak_day is None else date.fromordinal(peak_day),
        _span(over_first, over_last),
        current,
        current_lme,
        len(active),
        prescribers,
        pharmacies,
        window,
        mpe,
        overlap_days,
        _span(overlap_first, overlap_last),
        tally & (_UNKNOWN_DRUG - 1),
        tally >> 32,
    )


class AlertFact(NamedTuple):
    code: str  # PMIXPatientAlertCatCode
    text: str
    period: Span
    value: float
    threshold: float


# Formatting costs ten times a cache hit, an answer formats a dozen dates and numbers, and a PMP's answers share
# most of them (the period's end, thresholds, common doses).
iso: Final = lru_cache(maxsize=1 << 12)(date.isoformat)


@lru_cache(maxsize=1 << 12)
def _num(value: float) -> str:
    return f"{value:.1f}".removesuffix(".0")


def alerts(ind: PatientIndicators, thresholds: Thresholds, factors_label: str) -> list[AlertFact]:
    """The alerts ``ind`` trips, MME first (the order of ``SearchHistoryResponse.alerts``)."""
    out: list[AlertFact] = []
    if ind.mme_over is not None and ind.peak_mme_day is not None:
        peak = ind.peak_mme_milli / 1000
        out.append(
            AlertFact(
                MME_CODE,
                f"Daily MME reached {_num(peak)} on {iso(ind.peak_mme_day)} (threshold"
                f" {_num(thresholds.mme_per_day)}, {factors_label} factors); {_num(ind.current_mme_milli / 1000)} on"
                f" {iso(ind.as_of)}",
                ind.mme_over,
                peak,
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
