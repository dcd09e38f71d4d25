"""The score: each field's contribution, the orderings the brief asks for, and the threshold's meaning."""

from __future__ import annotations

from typing import Any

import pytest

from pmpdb.matching import THRESHOLD, normalize, score
from pmpdb.matching import weights as w
from pmpdb.matching.compare import first_name_level, last_name_level

BASE: dict[str, Any] = {"last_name": "Smith", "first_name": "John", "birth_date": "1970-05-14"}
FULL: dict[str, Any] = {**BASE, "gender": "M", "zip_code": "02134", "address": "12 Oak St", "phone": "6175550100"}


def s(q: dict[str, Any], c: dict[str, Any]) -> float:
    return score(normalize(**q), normalize(**c))


def test_positive_weights_sum_to_one_and_a_full_agreement_scores_one() -> None:
    total = w.W_LAST + w.W_FIRST + w.W_DOB + w.W_GENDER + w.W_ZIP + w.W_ADDRESS + w.W_PHONE
    assert total == pytest.approx(1.0)
    assert s(FULL, FULL) == 1.0


def test_names_and_birth_date_alone_pass_the_threshold() -> None:
    assert s(BASE, BASE) == pytest.approx(w.W_LAST + w.W_FIRST + w.W_DOB)
    assert s(BASE, BASE) >= THRESHOLD


def test_another_birth_date_scores_zero_whatever_else_agrees() -> None:
    assert s(FULL, {**FULL, "birth_date": "1970-05-15"}) == 0.0
    assert s(FULL, {**FULL, "birth_date": None}) == 0.0


def test_transposed_birth_date_scores_lower_and_needs_corroboration() -> None:
    transposed = s(FULL, {**FULL, "birth_date": "1970-05-14"}) - s(
        {**FULL, "birth_date": "1970-05-04"}, {**FULL, "birth_date": "1970-04-05"}
    )
    assert transposed == pytest.approx(w.W_DOB * (w.DOB_EXACT - w.DOB_TRANSPOSED))
    assert s({**BASE, "birth_date": "1970-05-04"}, {**BASE, "birth_date": "1970-04-05"}) < THRESHOLD
    assert s({**FULL, "birth_date": "1970-05-04"}, {**FULL, "birth_date": "1970-04-05"}) >= THRESHOLD


def test_compound_surname_matches_a_part_but_below_an_exact_match() -> None:
    record = {**FULL, "last_name": "Garcia-Lopez"}
    exact = s(record, record)
    for query_surname in ("Garcia", "Lopez"):
        partial = s({**FULL, "last_name": query_surname}, record)
        assert THRESHOLD <= partial < exact
    assert s({**FULL, "last_name": "Garcia Lopez"}, record) == exact


def test_name_levels_are_ordered() -> None:
    assert last_name_level("SMITH", "SMITH") == w.LAST_EXACT
    assert last_name_level("GARCIA LOPEZ", "LOPEZ GARCIA") == w.LAST_REORDERED
    assert last_name_level("GARCIA", "GARCIA LOPEZ") == w.LAST_COMPOUND
    assert last_name_level("SMITH", "SMYTH") == w.LAST_SIMILAR
    assert last_name_level("GARCIA LOPEZ", "GARCIA MARTINEZ") == w.LAST_PART_SHARED
    assert last_name_level("SMITH", "JONES") == w.MISMATCH
    assert last_name_level("LI", "LEE") == w.MISMATCH  # short names: equal or not
    assert last_name_level("", "SMITH") == w.MISSING

    assert first_name_level("JOHN", "JOHN") == w.FIRST_EXACT
    assert first_name_level("BILL", "WILLIAM") == w.FIRST_NICKNAME
    assert first_name_level("MARY", "MARY ANN") == w.FIRST_FIRST_WORD
    assert first_name_level("JHON", "JOHN") == w.FIRST_SIMILAR
    assert first_name_level("J", "JOHN") == w.FIRST_INITIAL
    assert first_name_level("J", "J") == w.FIRST_INITIAL
    assert first_name_level("JAYDEN", "JAYLEN") == w.MISMATCH  # two real names, not a typo
    assert first_name_level("MARY ANN", "MARY BETH") == w.MISMATCH
    assert first_name_level("J", "KAREN") == w.MISMATCH
    assert first_name_level("JOHN", "") == w.MISSING


def test_nickname_scores_below_exact_and_initial_needs_corroboration() -> None:
    assert THRESHOLD <= s({**BASE, "first_name": "Johnny"}, BASE) < s(BASE, BASE)
    assert s({**BASE, "first_name": "J"}, BASE) < THRESHOLD
    assert s({**BASE, "first_name": "J", "gender": "M", "zip_code": "02134"}, FULL) >= THRESHOLD


def test_gender_agreement_helps_and_disagreement_hurts_a_lot() -> None:
    agree = s({**BASE, "gender": "M"}, {**BASE, "gender": "M"})
    unknown = s({**BASE, "gender": "M"}, {**BASE, "gender": "U"})
    disagree = s({**FULL, "gender": "F"}, FULL)
    assert agree - unknown == pytest.approx(w.W_GENDER)
    assert disagree < THRESHOLD  # even with address, ZIP and phone agreeing


def test_zip_and_address_agreement_help_and_disagreement_does_not_exclude() -> None:
    with_zip = s({**BASE, "zip_code": "02134"}, {**BASE, "zip_code": "02134"})
    other_zip = s({**BASE, "zip_code": "02134"}, {**BASE, "zip_code": "90210"})
    assert with_zip - other_zip == pytest.approx(w.W_ZIP)
    assert other_zip >= THRESHOLD
    same_home = s({**BASE, "address": "12 Oak Street Apt 3"}, {**BASE, "address": "12 OAK ST"})
    assert same_home - s(BASE, BASE) == pytest.approx(w.W_ADDRESS)
    city = s({**BASE, "city": "Boston", "state": "MA"}, {**BASE, "city": "BOSTON", "zip_code": "02134"})
    assert city - s(BASE, BASE) == pytest.approx(w.W_ZIP * w.CITY_FOR_ZIP)


def test_different_first_name_at_the_same_home_fails() -> None:
    """Twins share everything but the given name."""
    assert s(FULL, {**FULL, "first_name": "James"}) < THRESHOLD


def test_different_surname_fails() -> None:
    assert s(FULL, {**FULL, "last_name": "Jones"}) < THRESHOLD


def test_conflicting_suffix_and_middle_initial_cost() -> None:
    assert s(FULL, {**FULL, "suffix": "JR"}) == 1.0  # one side silent: no cost
    assert s({**FULL, "suffix": "SR"}, {**FULL, "suffix": "JR"}) == pytest.approx(1 - w.PENALTY_SUFFIX)
    assert s({**FULL, "middle_name": "A"}, {**FULL, "middle_name": "Thomas"}) == pytest.approx(1 - w.PENALTY_MIDDLE)
    assert s({**FULL, "middle_name": "T"}, {**FULL, "middle_name": "Thomas"}) == 1.0


def test_margin_separates_by_place_not_by_name_variant_or_gender() -> None:
    """The documented rule: a ZIP, street or phone that only one person shares with the query separates
    them; a nickname against the exact name, or a known gender against an unknown one, does not."""
    assert min(w.W_ZIP, w.W_ADDRESS, w.W_PHONE) >= w.MARGIN
    assert w.W_GENDER < w.MARGIN
    assert w.W_FIRST * (w.FIRST_EXACT - w.FIRST_NICKNAME) < w.MARGIN
