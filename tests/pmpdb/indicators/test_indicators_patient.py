"""Per-person indicators, computed by hand: daily active MME over overlapping and back-to-back fills, thresholds met
exactly, multiple provider episodes at the window's edge, opioid + benzodiazepine overlap, active prescriptions —
and a hypothesis property that nothing depends on the order of the fills."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from pmpdb.indicators.patient import (
    MME_CODE,
    MPE_CODE,
    OVERLAP_CODE,
    Fill,
    Span,
    Thresholds,
    alerts,
    compute,
    daily_mme,
)
from pmpdb.indicators.patient import fill as make_fill
from tests.pmpdb.indicators.reference import reference_compute

START = date(2026, 1, 1)
END = date(2026, 12, 31)
T = Thresholds()


def day(n: int) -> int:
    """Ordinal of START + n days."""
    return (START + timedelta(days=n)).toordinal()


def d(n: int) -> date:
    return START + timedelta(days=n)


def fill(
    n: int,
    days: int = 30,
    mme: float | None = None,
    *,
    cls: str = "opioid",
    pharmacy: str = "ncpdp:1",
    prescriber: str = "npi:1",
    rx: str = "",
    lme: float | None = None,
    unconverted: bool = False,
) -> Fill:
    return make_fill(
        day(n),
        days,
        pharmacy,
        prescriber,
        rx or f"RX{n}",
        cls,
        None if mme is None else round(mme * 1000),
        None if lme is None else round(lme * 1000),
        unconverted,
    )


def test_no_fills() -> None:
    ind = compute([], START, END, T)
    assert (ind.peak_mme, ind.current_mme, ind.active_prescriptions, ind.overlap_days) == (0, 0, 0, 0)
    assert ind.peak_mme_day is None and ind.mme_over is None and ind.provider_window is None
    assert alerts(ind, T, "CDC 2022") == []


def test_back_to_back_fills_do_not_add_up() -> None:
    # 60 MME/day for 30 days, then the next fill the day after the first runs out
    ind = compute([fill(0, 30, 60), fill(30, 30, 60)], START, END, T)
    assert ind.peak_mme == 60 and ind.peak_mme_day == d(0)
    assert ind.mme_over is None


def test_overlapping_fills_add_up_on_the_shared_days() -> None:
    # 60 from day 0 to 29, 45 from day 20 to 49: 105 on days 20–29
    fills = [fill(0, 30, 60), fill(20, 30, 45)]
    runs = daily_mme(fills, day(0), day(100))
    assert runs == [(day(0), day(19), 60_000), (day(20), day(29), 105_000), (day(30), day(49), 45_000)]
    ind = compute(fills, START, END, T)
    assert ind.peak_mme == 105 and ind.peak_mme_day == d(20)
    assert ind.mme_over == Span(d(20), d(29))
    (alert,) = alerts(ind, T, "CDC 2022")
    assert alert.code == MME_CODE and alert.value == 105 and alert.threshold == 90
    assert alert.period == Span(d(20), d(29))
    assert "105" in alert.text and "CDC 2022" in alert.text


def test_exactly_at_the_mme_threshold_trips_and_just_below_does_not() -> None:
    at = compute([fill(0, 30, 90)], START, END, T)
    assert at.mme_over == Span(d(0), d(29))
    assert [a.code for a in alerts(at, T, "x")] == [MME_CODE]
    below = compute([fill(0, 30, 89.999)], START, END, T)
    assert below.mme_over is None and alerts(below, T, "x") == []
    # two fills that reach 90 together, to the thousandth
    split = compute([fill(0, 10, 45.5), fill(5, 10, 44.5)], START, END, T)
    assert split.peak_mme == 90 and split.mme_over == Span(d(5), d(9))


def test_current_is_as_of_the_period_end_or_today() -> None:
    fills = [fill(0, 30, 60), fill(100, 30, 30)]
    assert compute(fills, START, d(110), T).current_mme == 30
    assert compute(fills, START, d(130), T).current_mme == 0  # day 129 was the last
    assert compute(fills, START, d(129), T).current_mme == 30
    # days after as_of are not projected: a fill at as_of counts one day; the peak cannot come later
    late = compute([fill(0, 30, 20), fill(10, 30, 200)], START, d(9), T)
    assert late.peak_mme == 20 and late.current_mme == 20


def test_fills_before_the_period_start_are_clipped_to_it() -> None:
    ind = compute([fill(-10, 30, 100)], START, END, T)  # a caller passes only in-period fills; clipping still holds
    assert ind.peak_mme_day == START


def test_fills_without_mme_count_elsewhere_only() -> None:
    fills = [fill(0, 30, None, unconverted=True), fill(0, 30, None, cls="opioid"), fill(0, 30, None, cls="")]
    ind = compute(fills, START, END, T)
    assert ind.peak_mme == 0
    assert ind.unconverted_opioids == 1
    assert ind.unknown_drugs == 1


def test_multiple_provider_episode_five_and_five_within_90_days() -> None:
    fills = [fill(i * 20, 5, 10, pharmacy=f"ncpdp:{i}", prescriber=f"npi:{i}") for i in range(5)]  # days 0–80
    ind = compute(fills, START, END, T)
    assert (ind.prescribers, ind.pharmacies, ind.mpe) == (5, 5, True)
    assert ind.provider_window == Span(d(0), d(80))
    (alert,) = alerts(ind, T, "x")
    assert alert.code == MPE_CODE and alert.value == 5


def test_the_window_is_90_days_including_both_ends() -> None:
    # fills on day 0 and day 89 share a window; day 90 does not
    spread = [fill(0, pharmacy="a", prescriber="p0")]
    spread += [fill(n, pharmacy=f"ph{n}", prescriber=f"pr{n}") for n in (30, 50, 70, 89)]
    ind = compute(spread, START, END, T)
    assert ind.mpe and ind.provider_window == Span(d(0), d(89))
    moved = [*spread[:-1], fill(90, pharmacy="ph90", prescriber="pr90")]
    ind = compute(moved, START, d(100), T)
    assert not ind.mpe
    # no episode: the figures are the last 90 days' (days 11–100: fills on 30, 50, 70 and 90)
    assert (ind.prescribers, ind.pharmacies) == (4, 4)
    assert ind.provider_window == Span(d(11), d(100))


def test_four_pharmacies_is_not_an_episode_and_unknown_prescribers_do_not_count() -> None:
    fills = [fill(i, pharmacy=f"ph{i % 4}", prescriber=f"pr{i}") for i in range(6)]
    ind = compute(fills, START, d(30), T)
    assert (ind.prescribers, ind.pharmacies, ind.mpe) == (6, 4, False)
    nameless = [fill(i, pharmacy=f"ph{i}", prescriber="" if i % 2 else "dea:") for i in range(6)]
    assert compute(nameless, START, d(30), T).prescribers == 0


def test_without_an_episode_the_figures_are_recent() -> None:
    early = [fill(i, pharmacy=f"a{i}", prescriber=f"x{i}") for i in range(4)]
    late = [fill(200 + i, pharmacy=f"b{i}", prescriber=f"y{i}") for i in range(2)]
    ind = compute(early + late, START, d(250), T)
    assert (ind.prescribers, ind.pharmacies, ind.mpe) == (2, 2, False)
    assert ind.provider_window == Span(d(161), d(250))
    # a short period: the window starts with it
    assert compute(early, START, d(10), T).provider_window == Span(START, d(10))


def test_the_busiest_episode_is_reported() -> None:
    five = [fill(i, pharmacy=f"a{i}", prescriber=f"x{i}") for i in range(5)]
    six = [fill(200 + i, pharmacy=f"b{i}", prescriber=f"y{i}") for i in range(6)]
    ind = compute(five + six, START, END, T)
    assert (ind.prescribers, ind.pharmacies, ind.mpe) == (6, 6, True)
    assert ind.provider_window == Span(d(200), d(205))
    ind = compute(five + six[:5], START, END, T)  # two equal episodes: the earlier
    assert ind.provider_window == Span(d(0), d(4))


def test_opioid_benzodiazepine_overlap_days() -> None:
    # opioid days 0–29, benzo days 20–49: both on days 20–29 = 10 days; a stimulant changes nothing
    fills = [fill(0, 30, 15), fill(20, 30, cls="benzodiazepine"), fill(0, 60, cls="stimulant")]
    ind = compute(fills, START, END, T)
    assert ind.overlap_days == 10 and ind.overlap == Span(d(20), d(29))
    (alert,) = alerts(ind, T, "x")
    assert alert.code == OVERLAP_CODE and alert.value == 10
    # back to back: no shared day
    assert compute([fill(0, 30, 15), fill(30, 30, cls="benzodiazepine")], START, END, T).overlap_days == 0
    # buprenorphine (an opioid without MME) still overlaps; a one-day overlap trips the default threshold
    bup = compute([fill(0, 30, None), fill(29, 30, cls="benzodiazepine")], START, END, T)
    assert bup.overlap_days == 1
    assert [a.code for a in alerts(bup, T, "x")] == [OVERLAP_CODE]
    assert alerts(bup, Thresholds(overlap_days=2), "x") == []


def test_overlap_counts_gaps_correctly() -> None:
    # benzo all along days 0–99; opioid days 0–9 and 50–59: 20 days, first day 0, last day 59
    fills = [fill(0, 100, cls="benzodiazepine"), fill(0, 10, 20), fill(50, 10, 20)]
    ind = compute(fills, START, END, T)
    assert ind.overlap_days == 20 and ind.overlap == Span(d(0), d(59))


def test_active_prescriptions_and_current_lme() -> None:
    fills = [
        fill(0, 30, 20, rx="A"),
        fill(25, 30, 20, rx="A"),  # an early refill of the same prescription
        fill(20, 30, cls="benzodiazepine", rx="B", lme=2),
        fill(0, 10, cls="stimulant", rx="C"),  # over by day 9
        fill(26, 5, cls="stimulant", rx="C", pharmacy="ncpdp:2"),  # same Rx number, another pharmacy
    ]
    ind = compute(fills, START, d(27), T)
    assert ind.active_prescriptions == 3  # A, B, C@2
    assert ind.current_lme == 2
    assert ind.current_mme == 40


def test_custom_thresholds() -> None:
    t = Thresholds(mme_per_day=50, mpe_prescribers=2, mpe_pharmacies=2, mpe_window_days=10)
    fills = [fill(0, 30, 50, pharmacy="a", prescriber="x"), fill(9, 1, None, pharmacy="b", prescriber="y")]
    ind = compute(fills, START, END, t)
    assert ind.mme_over is not None and ind.mpe
    assert [a.code for a in alerts(ind, t, "x")] == [MME_CODE, MPE_CODE]
    assert not compute([fills[0], fill(10, 1, None, pharmacy="b", prescriber="y")], START, END, t).mpe


# --- order independence ----------------------------------------------------------------------------------------

fills_strategy = st.lists(
    st.builds(
        fill,
        st.integers(min_value=0, max_value=200),
        st.integers(min_value=0, max_value=40),
        st.one_of(st.none(), st.floats(min_value=0.001, max_value=300, allow_nan=False).map(lambda x: round(x, 3))),
        cls=st.sampled_from(["opioid", "benzodiazepine", "stimulant", ""]),
        pharmacy=st.sampled_from(["a", "b", "c", "d", "e", "f"]),
        prescriber=st.sampled_from(["p", "q", "r", "s", "t", "u", "", "dea:"]),
        rx=st.sampled_from(["1", "2", "3"]),
        lme=st.one_of(st.none(), st.floats(min_value=0.001, max_value=10).map(lambda x: round(x, 3))),
        unconverted=st.booleans(),
    ),
    max_size=30,
)


@settings(max_examples=300, deadline=None)
@given(fills_strategy, st.randoms(use_true_random=False), st.integers(min_value=0, max_value=240))
def test_indicators_never_depend_on_record_order(fills: list[Fill], rng: object, as_of: int) -> None:
    shuffled = list(fills)
    rng.shuffle(shuffled)  # type: ignore[attr-defined]
    assert compute(fills, START, d(as_of), T) == compute(shuffled, START, d(as_of), T)
    assert compute(fills, START, d(as_of), T) == compute(list(reversed(fills)), START, d(as_of), T)


@settings(max_examples=200, deadline=None)
@given(fills_strategy)
def test_peak_is_the_highest_day_computed_naively(fills: list[Fill]) -> None:
    ind = compute(fills, START, d(240), T)
    naive = [
        sum(f.mme_milli for f in fills if f.mme_milli is not None and f.filled <= day(n) <= f.last_day)
        for n in range(241)
    ]
    assert ind.peak_mme_milli == max(naive)
    assert ind.current_mme_milli == naive[240]
    both = sum(
        1
        for n in range(241)
        if any(f.drug_class == "opioid" and f.filled <= day(n) <= f.last_day for f in fills)
        and any(f.drug_class == "benzodiazepine" and f.filled <= day(n) <= f.last_day for f in fills)
    )
    assert ind.overlap_days == both


@settings(max_examples=200, deadline=None)
@given(
    fills_strategy,
    st.integers(min_value=1, max_value=6),
    st.integers(min_value=1, max_value=6),
    st.integers(min_value=0, max_value=240),
)
def test_provider_figures_against_every_window(fills: list[Fill], need_p: int, need_ph: int, as_of: int) -> None:
    t = Thresholds(mpe_prescribers=need_p, mpe_pharmacies=need_ph)
    ind = compute(fills, START, d(as_of), t)

    def counts(inside: list[Fill]) -> tuple[int, int]:
        return (
            len({f.prescriber for f in inside if f.prescriber and not f.prescriber.endswith(":")}),
            len({f.pharmacy for f in inside}),
        )

    best: tuple[int, int] | None = None
    for n in range(-90, 241):
        p, ph = counts([f for f in fills if day(n) <= f.filled < day(n) + t.mpe_window_days])
        if p >= need_p and ph >= need_ph and (best is None or (min(p, ph), p + ph) > (min(*best), sum(best))):
            best = (p, ph)
    if best is not None:
        assert ind.mpe and (ind.prescribers, ind.pharmacies) == best
    else:
        recent = counts([f for f in fills if max(0, as_of - 89) <= f.filled - day(0) <= as_of])
        assert not ind.mpe and (ind.prescribers, ind.pharmacies) == recent


# --- the sweep against the straightforward reference ----------------------------------------------------------

wide_fills = st.lists(
    st.builds(
        fill,
        st.integers(min_value=-60, max_value=260),
        st.integers(min_value=-1, max_value=120),
        st.one_of(st.none(), st.just(0.0), st.floats(min_value=0.001, max_value=500).map(lambda x: round(x, 3))),
        cls=st.sampled_from(["opioid", "benzodiazepine", "stimulant", ""]),
        pharmacy=st.sampled_from(["a", "b", "c", "d", "e", "f", ""]),
        prescriber=st.sampled_from(["p", "q", "r", "s", "t", "u", "", "dea:"]),
        rx=st.sampled_from(["1", "2", "3"]),
        lme=st.one_of(st.none(), st.floats(min_value=0.001, max_value=10).map(lambda x: round(x, 3))),
        unconverted=st.booleans(),
    ),
    max_size=40,
)
thresholds_strategy = st.builds(
    Thresholds,
    mme_per_day=st.sampled_from([0.0, 0.001, 45.0, 90.0, 120.5]),
    mpe_prescribers=st.integers(min_value=0, max_value=6),
    mpe_pharmacies=st.integers(min_value=0, max_value=6),
    mpe_window_days=st.integers(min_value=1, max_value=120),
    overlap_days=st.integers(min_value=1, max_value=3),
)


@settings(max_examples=400, deadline=None)
@given(
    wide_fills,
    st.integers(min_value=-30, max_value=120),
    st.integers(min_value=0, max_value=200),
    thresholds_strategy,
)
def test_compute_equals_the_day_by_day_reference(fills: list[Fill], first: int, length: int, t: Thresholds) -> None:
    start, as_of = d(first), d(first + length)
    assert compute(fills, start, as_of, t) == reference_compute(fills, start, as_of, t)
