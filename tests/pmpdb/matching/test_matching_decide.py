"""Grouping records into persons and the FOUND / AMBIGUOUS / NOT_FOUND decision."""

from __future__ import annotations

from typing import Any

from pmpdb.matching import (
    MARGIN,
    Demographics,
    MatchDecision,
    MatchStatus,
    Person,
    decide,
    normalize,
    same_person,
    score,
)
from pmpdb.matching.group import cluster, location_compatible

JOHN: dict[str, Any] = {"last_name": "Smith", "first_name": "John", "birth_date": "1970-05-14", "gender": "M"}


def d(**fields: Any) -> Demographics:
    return normalize(**{**JOHN, **fields})


def test_no_candidates_is_not_found() -> None:
    assert decide(d(), []) == MatchDecision(MatchStatus.NOT_FOUND, ())
    assert decide(d(), []).match is None


def test_nobody_above_the_threshold_is_not_found() -> None:
    assert decide(d(), [(1, d(first_name="Karen", gender="F"))]).status is MatchStatus.NOT_FOUND


def test_found_person_carries_all_its_records_its_best_score_and_that_records_demographics() -> None:
    bill = d(first_name="Bill", zip_code="02134")
    william = d(first_name="William", zip_code="02134")
    billy = d(first_name="Billy", gender="U", zip_code="02134", address="4 Elm St")
    q = d(first_name="William", zip_code="02134")
    decision = decide(q, [(30, billy), (10, bill), (20, william)])
    assert decision.status is MatchStatus.FOUND
    assert decision.match == Person(record_ids=(10, 20, 30), score=score(q, william), demographics=william)


def test_candidate_order_and_duplicates_do_not_matter() -> None:
    records = [(1, d(zip_code="02134")), (2, d(zip_code="90210")), (3, d(first_name="Johnny"))]
    q = d()
    expected = decide(q, records)
    assert decide(q, list(reversed(records))) == expected
    assert decide(q, records + records[:1]) == expected


def test_two_people_with_one_name_and_birth_date_are_never_merged() -> None:
    boston = d(address="12 Oak St", zip_code="02134")
    denver = d(address="9 Elm St", zip_code="80202")
    assert not same_person(boston, denver)

    unresolved = decide(d(), [(1, boston), (2, denver)])
    assert unresolved.status is MatchStatus.AMBIGUOUS
    assert [p.record_ids for p in unresolved.persons] == [(1,), (2,)]

    by_zip = decide(d(zip_code="80202"), [(1, boston), (2, denver)])
    assert by_zip.status is MatchStatus.FOUND
    assert by_zip.persons[0].record_ids == (2,)
    assert by_zip.persons[0].score - score(d(zip_code="80202"), boston) >= MARGIN


def test_ambiguous_lists_only_persons_within_the_margin_best_first() -> None:
    boston = d(address="12 Oak St", zip_code="02134")
    denver = d(address="9 Elm St", zip_code="80202")
    johnny = d(first_name="Jon", last_name="Smith Garcia", address="1 Pine Rd", zip_code="60601")
    decision = decide(d(), [(1, boston), (2, denver), (3, johnny)])
    assert decision.status is MatchStatus.AMBIGUOUS
    assert [p.record_ids for p in decision.persons] == [(1,), (2,)]
    assert decision.match is None


def test_same_person_rules() -> None:
    base = d(zip_code="02134")
    assert same_person(base, d(first_name="Johnny", zip_code="02134"))
    assert same_person(base, d(gender="U"))  # nothing conflicts
    assert same_person(base, d(suffix="JR", zip_code="02134"))  # one side silent on the suffix
    assert not same_person(base, d(birth_date="1970-05-15", zip_code="02134"))
    assert not same_person(base, d(gender="F", zip_code="02134"))
    assert not same_person(d(suffix="JR"), d(suffix="SR"))
    assert not same_person(d(middle_name="A"), d(middle_name="B"))
    assert not same_person(base, d(first_name="J", zip_code="02134"))  # an initial never joins
    assert not same_person(d(first_name="Jhon"), d())  # a typo needs a shared place
    assert same_person(d(first_name="Jhon", zip_code="02134"), base)
    assert not same_person(base, d(last_name="Jones", zip_code="02134"))
    assert not same_person(d(birth_date=None), d(birth_date=None))


def test_location_compatibility() -> None:
    home = d(address="12 Oak St", city="Boston", state="MA", zip_code="02134")
    assert location_compatible(home, d())
    assert location_compatible(home, d(zip_code="02134"))
    assert location_compatible(home, d(address="12 Oak Street Apt 2"))
    assert location_compatible(home, d(address="12 Oak St", city="Boston", zip_code="02143"))  # ZIP typo
    assert not location_compatible(home, d(zip_code="02135"))
    assert not location_compatible(home, d(address="14 Oak St", zip_code="02134"))  # same ZIP, other home
    assert not location_compatible(home, d(city="Denver"))
    assert not location_compatible(home, d(state="CO"))
    assert not location_compatible(home, d(address="12 Oak St", city="Springfield"))  # in every town
    assert not location_compatible(home, d(address="12 Oak St", city="Cambridge", zip_code="02139"))
    assert location_compatible(home, d(address="12 Oak St", city="Allston", zip_code="02134"))
    moved = d(address="9 Elm St", zip_code="80202", phone="6175550100")
    assert location_compatible(d(address="12 Oak St", zip_code="02134", phone="617-555-0100"), moved)


def test_a_nickname_cannot_bridge_two_people() -> None:
    """Alex fits Alexander and Alexandra; they do not fit each other, so Alex joins neither."""
    alexander = d(first_name="Alexander", zip_code="11201")
    alexandra = d(first_name="Alexandra", gender="F", zip_code="11201")
    alex = d(first_name="Alex", gender="U", zip_code="11201")
    persons, contested = cluster([alexander, alexandra, alex])
    assert persons == [[0], [1], [2]]
    assert contested == {2}


def test_a_record_without_address_that_fits_two_people_is_left_out() -> None:
    boston = d(address="12 Oak St", zip_code="02134")
    denver = d(address="9 Elm St", zip_code="80202")
    bare = d()
    decision = decide(d(zip_code="02134"), [(1, boston), (2, denver), (3, bare)])
    assert decision.status is MatchStatus.FOUND
    assert decision.persons[0].record_ids == (1,)
    assert decide(d(), [(1, boston), (2, denver), (3, bare)]).status is MatchStatus.AMBIGUOUS


def test_records_of_other_birth_dates_are_never_in_a_person() -> None:
    q = d(birth_date="1970-05-04", zip_code="02134")
    exact = d(birth_date="1970-05-04", zip_code="02134")
    transposed = d(birth_date="1970-04-05", zip_code="02134")
    decision = decide(q, [(1, exact), (2, transposed)])
    assert decision.status is MatchStatus.FOUND
    assert decision.persons[0].record_ids == (1,)
    only_transposed = decide(q, [(2, transposed)])
    assert only_transposed.status is MatchStatus.FOUND
    assert only_transposed.persons[0].record_ids == (2,)
