"""The curated given-name tables: shape, the pairs the brief names, and what must stay apart."""

from __future__ import annotations

import re
from importlib import resources

import pytest

from pmpdb.matching.nicknames import (
    KNOWN_NAMES,
    NICKNAMES,
    canonical_names,
    is_known_name,
    nickname_equivalent,
)


def test_table_has_a_few_hundred_pairs_in_clean_form() -> None:
    pairs = [(n, c) for n, cs in NICKNAMES.items() for c in cs]
    assert len(pairs) >= 300
    word = re.compile(r"[A-Z]+")
    assert all(word.fullmatch(n) and word.fullmatch(c) for n, c in pairs)
    canonicals = {c for _, c in pairs}
    assert canonicals.isdisjoint(NICKNAMES)  # canonicals are final: no chains
    assert all(n != c for n, c in pairs)


def test_data_files_ship_in_the_package() -> None:
    files = {p.name for p in resources.files("pmpdb.matching").iterdir()}
    assert {"nicknames.csv", "given_names.csv"} <= files


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("BILL", "WILLIAM"),
        ("WILL", "WILLIAM"),
        ("BILLY", "WILLY"),
        ("PEGGY", "MARGARET"),
        ("MAGGIE", "MEG"),
        ("BOB", "ROBERT"),
        ("ROB", "BOBBY"),
        ("LIZ", "ELIZABETH"),
        ("BETH", "BETSY"),
        ("JIM", "JAMES"),
        ("JIMMY", "JAMES"),
        ("KATHY", "KATHERINE"),
        ("KATE", "CATHERINE"),
        ("KATIE", "KATHRYN"),
        ("CATHERINE", "KATHERINE"),
        ("STEVEN", "STEPHEN"),
        ("PAT", "PATRICIA"),
        ("PAT", "PATRICK"),
        ("MARY ANN", "MARYANN"),
    ],
)
def test_equivalent_names(a: str, b: str) -> None:
    assert nickname_equivalent(a, b)
    assert nickname_equivalent(b, a)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("PATRICIA", "PATRICK"),
        ("ALEXANDER", "ALEXANDRA"),
        ("JOHN", "JAMES"),
        ("JAYDEN", "JAYLEN"),
        ("MARY", "MARIA"),
        ("DIANE", "DIANA"),
    ],
)
def test_different_names_stay_apart(a: str, b: str) -> None:
    assert not nickname_equivalent(a, b)


def test_canonical_names_include_the_name_itself() -> None:
    assert canonical_names("BILL") == {"BILL", "WILLIAM"}
    assert canonical_names("ZEBULON") == {"ZEBULON"}


def test_known_names() -> None:
    assert {"WILLIAM", "BILL", "JAYLEN", "MASON", "JASON"} <= KNOWN_NAMES
    assert is_known_name("MARY BETH")
    assert not is_known_name("JHON")
