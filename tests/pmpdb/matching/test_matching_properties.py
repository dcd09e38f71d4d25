"""Properties that must hold for every input, checked with hypothesis."""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
from typing import Any

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from pmpdb.matching import (
    Demographics,
    MatchStatus,
    blocking_keys,
    decide,
    normalize,
    patient_record_id,
    query_plan,
    same_person,
    score,
)

NAME_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZáéíóúüñçøßÆŁ'’-. ,"
names = st.text(alphabet=NAME_CHARS, max_size=24)
anything = st.one_of(st.none(), st.text(max_size=30))
dates = st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2030, 12, 31))
birth_dates = st.one_of(
    dates,
    dates.map(dt.date.isoformat),
    dates.map(lambda d: d.strftime("%Y%m%d")),
    dates.map(lambda d: d.strftime("%m/%d/%Y")),
    st.none(),
)
raw_demographics = st.fixed_dictionaries(
    {"last_name": names, "first_name": names, "birth_date": birth_dates},
    optional={
        "middle_name": names,
        "suffix": st.sampled_from(["", "Jr.", "SR", "iii", "2nd", "MD"]),
        "gender": st.sampled_from(["M", "F", "U", "male", "female", "", "x"]),
        "address": st.text(alphabet="0123456789 abcdefghijklmnopqrstuvwxyz#.,-", max_size=30),
        "address2": st.sampled_from(["", "Apt 4", "#2B", "Suite 100"]),
        "city": names,
        "state": st.sampled_from(["", "MA", "ma", "Massachusetts", "Texas", "ZZ", "?"]),
        "zip_code": st.text(alphabet="0123456789- ", max_size=11),
        "phone": st.text(alphabet="0123456789-() +", max_size=16),
    },
)
unicode_demographics = st.fixed_dictionaries(
    {"last_name": anything, "first_name": anything, "birth_date": st.none()},
    optional={
        "middle_name": anything,
        "suffix": anything,
        "gender": anything,
        "address": anything,
        "city": anything,
        "state": anything,
        "zip_code": anything,
        "phone": anything,
    },
)

# A small world, so that random records often share a birth date, a surname or a home.
pool_records = st.builds(
    Demographics,
    last_name=st.sampled_from(["SMITH", "SMYTH", "GARCIA", "GARCIA LOPEZ", "LOPEZ", "LI", "LEE", ""]),
    first_name=st.sampled_from(["JOHN", "JON", "JOHNNY", "J", "JAMES", "BILL", "WILLIAM", "MARY", "MARY ANN", ""]),
    birth_date=st.sampled_from(["1980-03-04", "1980-04-03", "1980-03-05", ""]),
    middle_name=st.sampled_from(["", "A", "B"]),
    suffix=st.sampled_from(["", "JR", "SR"]),
    gender=st.sampled_from(["M", "F", "U"]),
    address=st.sampled_from(["", "12 OAK ST", "12 OAK ST APT 2", "9 ELM ST"]),
    city=st.sampled_from(["", "BOSTON", "DENVER"]),
    state=st.sampled_from(["", "MA", "CO"]),
    zip_code=st.sampled_from(["", "02134", "80202"]),
    phone=st.sampled_from(["", "6175550100", "3035550100"]),
)
candidate_lists = st.lists(pool_records, max_size=8).map(lambda ds: list(enumerate(ds, start=1)))


def as_kwargs(d: Demographics) -> dict[str, Any]:
    return dataclasses.asdict(d)


@given(raw_demographics)
def test_normalize_is_idempotent(raw: dict[str, Any]) -> None:
    d = normalize(**raw)
    assert normalize(**as_kwargs(d)) == d


@given(unicode_demographics)
def test_normalize_takes_any_text_and_yields_upper_case_ascii(raw: dict[str, Any]) -> None:
    d = normalize(**raw)
    assert normalize(**as_kwargs(d)) == d
    for value in as_kwargs(d).values():
        assert value.isascii()
        assert value == value.upper()
        assert value == value.strip()
        assert "  " not in value
    assert d.gender in {"M", "F", "U"}
    assert len(d.zip_code) in (0, 5)
    assert len(d.phone) in (0, 10)


ACCENTS = {"a": "á", "e": "é", "i": "í", "o": "ö", "u": "ü", "n": "ñ", "c": "ç"}


@st.composite
def spelled_two_ways(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any]]:
    """One patient, and the same patient with other case, spacing and accents."""
    word = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=10)
    fields = {
        "last_name": " ".join(draw(st.lists(word, min_size=1, max_size=3))),
        "first_name": " ".join(draw(st.lists(word, min_size=1, max_size=2))),
        "middle_name": draw(word),
        "city": draw(word),
        "address": f"{draw(st.integers(1, 9999))} {draw(word)} street",
        "birth_date": draw(dates),
        "zip_code": draw(st.from_regex(r"[0-9]{5}", fullmatch=True)),
    }

    def vary(text: str) -> str:
        flips = draw(st.lists(st.sampled_from(["upper", "lower", "accent", "keep"]), min_size=len(text)))
        out = []
        for ch, how in zip(text, itertools.chain(flips, itertools.repeat("keep")), strict=False):
            if how == "upper":
                ch = ch.upper()
            elif how == "accent":
                ch = ACCENTS.get(ch, ch)
            out.append(ch)
        pad = " " * draw(st.integers(0, 3))
        return pad + "  ".join("".join(out).split(" ")) + pad

    varied = {k: vary(v) if isinstance(v, str) else v for k, v in fields.items()}
    return fields, varied


@given(spelled_two_ways())
def test_record_id_is_stable_under_case_whitespace_and_diacritics(pair: tuple[dict[str, Any], ...]) -> None:
    plain, varied = pair
    assert patient_record_id(normalize(**plain)) == patient_record_id(normalize(**varied))


@given(pool_records, pool_records)
def test_score_is_symmetric_and_in_unit_interval(a: Demographics, b: Demographics) -> None:
    ab = score(a, b)
    assert 0.0 <= ab <= 1.0
    assert ab == score(b, a)
    assert same_person(a, b) == same_person(b, a)


@given(raw_demographics, candidate_lists)
@settings(deadline=None)
def test_a_record_is_found_by_a_query_built_from_itself(raw: dict[str, Any], others: list[Any]) -> None:
    d = normalize(**raw)
    assume(d.birth_date and d.last_name and len(d.first_name) >= 2)
    rid = patient_record_id(d)
    plan = query_plan(normalize(**as_kwargs(d)))
    assert d.birth_date in plan.birth_dates
    assert blocking_keys(d) & plan.keys
    elsewhere = [(i, o) for i, o in others if o.birth_date not in plan.birth_dates]
    decision = decide(d, [(rid, d), *elsewhere])
    assert decision.status is MatchStatus.FOUND
    assert rid in decision.persons[0].record_ids


@given(pool_records, candidate_lists)
@settings(deadline=None)
def test_decide_never_merges_records_that_are_not_one_person(q: Demographics, candidates: list[Any]) -> None:
    decision = decide(q, candidates)
    by_id = dict(candidates)
    for person in decision.persons:
        records = [by_id[rid] for rid in person.record_ids]
        assert len({r.birth_date for r in records}) == 1  # never across birth dates
        for a, b in itertools.combinations(records, 2):  # complete linkage: every pair is one person
            assert same_person(a, b)
        assert person.score == max(score(q, r) for r in records)
    if decision.status is MatchStatus.FOUND:
        assert len(decision.persons) == 1
    if decision.status is MatchStatus.AMBIGUOUS:
        assert len(decision.persons) >= 2
    if decision.status is MatchStatus.NOT_FOUND:
        assert decision.persons == ()


@given(pool_records, candidate_lists, st.randoms(use_true_random=False))
@settings(deadline=None)
def test_decide_does_not_depend_on_candidate_order(q: Demographics, candidates: list[Any], rnd: Any) -> None:
    shuffled = list(candidates)
    rnd.shuffle(shuffled)
    assert decide(q, shuffled) == decide(q, candidates)
