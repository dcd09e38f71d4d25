"""Store rows → amounts and fills (``pmpdb.indicators.collect``), held to the straightforward path: each row turned
into a ``Fill`` by ``mme.py`` directly, and the indicators computed day by day (``reference.py``). Both row layouts
(a history page, ``Store.indicator_rows``) give the same answer; the cache never serves an amount computed from a
reference row that has since changed."""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pmpdb.drugs import bundled_drug_csv, read_drug_csv
from pmpdb.indicators.collect import Converter, LocalDate
from pmpdb.indicators.factors import TABLES
from pmpdb.indicators.mme import drug_facts, lme_per_day, milli, mme_per_day
from pmpdb.indicators.patient import Fill, Thresholds, compute_rows
from protos.pmp.v1 import pmp_pb2 as pb
from tests.pmpdb.indicators.reference import reference_compute

START = date(2026, 1, 1)
CDC2022 = TABLES["cdc2022"]
# DRUG_COLUMNS order: ndc, name, ingredient, strength, strength_unit, dosage_form, dea_schedule, drug_class,
# mme_factor, lme_factor
CURATED = [tuple(r) for r in read_drug_csv(bundled_drug_csv())]
LORAZEPAM_WITH_LME = ("00000000001", "Lorazepam 1 mg", "lorazepam", "1", "mg", "tablet", "4", "benzodiazepine", "", "1")
DRUGS: list[tuple[Any, ...] | None] = [*CURATED, LORAZEPAM_WITH_LME, None]  # None: an NDC the reference lacks


def history_row(
    drug: tuple[Any, ...] | None,
    quantity: float,
    unit: str,
    days: int,
    filled: date,
    pharmacy: str,
    prescriber: str | None,
    rx: str,
) -> tuple[Any, ...]:
    """A ``schema.HISTORY_SELECT`` row: only the columns the indicators read are filled in."""
    row: list[Any] = [None] * 46
    row[2], row[4], row[9], row[10], row[11], row[12] = rx, filled.isoformat(), "99999999999", quantity, unit, days
    if drug is not None:
        ndc, name, ingredient, strength, strength_unit, form, schedule, drug_class, mme_factor, lme_factor = drug
        row[9] = ndc
        row[35:44] = name, strength, strength_unit, form, schedule, drug_class, ingredient, mme_factor, lme_factor
    row[44], row[45] = pharmacy, prescriber
    return tuple(row)


def indicator_row(h: tuple[Any, ...]) -> tuple[Any, ...]:
    """The same dispensation as ``Store.indicator_rows`` reads it (``schema.INDICATOR_SELECT``)."""
    return (h[4], h[12], h[10], h[11], h[44], h[45], h[2], *h[36:44])


def straightforward_fill(h: tuple[Any, ...]) -> Fill:
    """A history row → ``Fill`` with nothing cached, for the reference."""
    facts = drug_facts(h[40], h[41], h[36], h[37], h[42], h[43])
    mme = mme_per_day(facts, h[10], h[11], h[12], CDC2022)
    lme = lme_per_day(facts, h[10], h[11], h[12])
    filled = date.fromisoformat(h[4]).toordinal()
    return Fill(
        filled,
        filled + (h[12] if h[12] > 0 else 1) - 1,
        h[44],
        h[45] or "",
        h[2],
        facts.drug_class,
        milli(mme),
        milli(lme),
        facts.is_opioid and mme is None and not facts.mme_excluded,
    )


rows_strategy = st.lists(
    st.builds(
        history_row,
        st.sampled_from(DRUGS),
        st.sampled_from([0.0, 1.0, 10.0, 30.0, 60.0, 90.0, 120.0, 300.0]),
        st.sampled_from(["01", "02", "03", ""]),
        st.integers(min_value=-1, max_value=45),
        st.integers(min_value=-20, max_value=200).map(lambda n: START + timedelta(days=n)),
        st.sampled_from(["ncpdp:1", "ncpdp:2", "npi:3", "dea:AB1", "ncpdp:5", "npi:6"]),
        st.sampled_from(["npi:1", "npi:2", "dea:X", "dea:", None, "npi:6", "npi:7"]),
        st.sampled_from(["1", "2", "3"]),
    ),
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(rows_strategy, st.integers(min_value=-10, max_value=190), st.integers(min_value=0, max_value=120))
def test_rows_give_the_indicators_of_their_fills_computed_day_by_day(
    rows: list[tuple[Any, ...]], first: int, length: int
) -> None:
    start, as_of = START + timedelta(days=first), START + timedelta(days=first + length)
    t = Thresholds(mpe_prescribers=3, mpe_pharmacies=3, mpe_window_days=30)
    expected = reference_compute([straightforward_fill(h) for h in rows], start, as_of, t)
    convert = Converter(CDC2022)
    for _ in range(2):  # converting, then from the caches
        amounts, fills = convert.history(rows, fills=True)
        assert fills is not None
        assert compute_rows(fills, start, as_of, t) == expected
        assert compute_rows(convert.indicator_fills([indicator_row(h) for h in rows]), start, as_of, t) == expected
        for h, a in zip(rows, amounts, strict=True):
            facts = drug_facts(h[40], h[41], h[36], h[37], h[42], h[43])
            encoded = pb.Dispensation.FromString(a.encoded)
            mme = mme_per_day(facts, h[10], h[11], h[12], CDC2022)
            lme = lme_per_day(facts, h[10], h[11], h[12])
            assert (encoded.mme_per_day if encoded.HasField("mme_per_day") else None) == mme
            assert (encoded.lme_per_day if encoded.HasField("lme_per_day") else None) == lme


def test_a_known_row_is_answered_from_the_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    oxycodone = next(d for d in CURATED if d[2] == "oxycodone")
    rows = [
        history_row(oxycodone, 120.0, "01", 30, START + timedelta(days=n), "ncpdp:1", "npi:1", "1") for n in (0, 30)
    ]
    convert = Converter(CDC2022)
    first, _ = convert.history(rows, fills=False)

    def no_conversion(*_: object) -> None:
        raise AssertionError("converted again")

    monkeypatch.setattr(Converter, "_convert", no_conversion)
    fresh = [tuple(x.encode().decode() if isinstance(x, str) else x for x in r) for r in rows]  # equal, not same
    assert convert.history(fresh, fills=False)[0] == first


def test_a_reloaded_reference_is_never_answered_from_a_stale_entry() -> None:
    oxycodone = next(d for d in CURATED if d[2] == "oxycodone" and d[3] == "5")
    stronger = (*oxycodone[:3], "10", *oxycodone[4:])  # the same NDC, its strength corrected by a reload
    convert = Converter(CDC2022)
    before, _ = convert.history([history_row(oxycodone, 120.0, "01", 30, START, "p", "q", "1")], fills=False)
    after, _ = convert.history([history_row(stronger, 120.0, "01", 30, START, "p", "q", "1")], fills=False)
    assert pb.Dispensation.FromString(before[0].encoded).mme_per_day == 30.0  # 5 mg × 4/day × 1.5
    assert pb.Dispensation.FromString(after[0].encoded).mme_per_day == 60.0


def test_the_period_ends_at_its_end_or_today_if_earlier() -> None:
    convert = Converter(CDC2022)
    assert convert.period("2026-01-01", "2026-12-31", date(2026, 6, 1)) == (date(2026, 1, 1), date(2026, 6, 1))
    assert convert.period("2026-01-01", "2026-03-31", date(2026, 6, 1)) == (date(2026, 1, 1), date(2026, 3, 31))
    assert convert.period("2026-01-01", "2026-12-31", date(2026, 6, 2)) == (date(2026, 1, 1), date(2026, 6, 2))
    before = date.today()
    assert convert.period("2026-01-01", "2999-12-31")[1] in {before, date.today()}  # the local date


def test_the_local_date_follows_the_clock_across_midnight(monkeypatch: pytest.MonkeyPatch) -> None:
    today = LocalDate()
    midnight = datetime(2026, 3, 1).timestamp()  # local
    for now, day in (
        (midnight - 1, date(2026, 2, 28)),
        (midnight, date(2026, 3, 1)),
        (midnight - 3600, date(2026, 2, 28)),
    ):
        monkeypatch.setattr(time, "time", lambda now=now: now)  # the clock collect reads
        assert today() == day  # the last one: the clock set back an hour
