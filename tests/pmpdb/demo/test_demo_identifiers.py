"""NPI and DEA check digits: known examples, and every identifier the generators make is valid."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pmpdb.demo.identifiers import (
    dea_check_digit,
    is_valid_dea,
    is_valid_ncpdp,
    is_valid_npi,
    make_dea,
    make_ncpdp,
    make_npi,
    name_initial,
    npi_check_digit,
)
from pmpdb.demo.names import LAST_NAMES


def test_npi_known_valid_example() -> None:
    # The CMS example NPI: 80840 + 123456789 gives Luhn check digit 3.
    assert npi_check_digit("123456789") == 3
    assert is_valid_npi("1234567893")


@pytest.mark.parametrize(
    "npi",
    ["1234567890", "123456789", "12345678933", "123456789a", "１２３４５６７８９３", "", "2234567893"],
)
def test_npi_rejects(npi: str) -> None:
    assert not is_valid_npi(npi)


def test_npi_check_digit_needs_nine_digits() -> None:
    with pytest.raises(ValueError, match="nine"):
        npi_check_digit("12345678")


@given(st.integers(min_value=0, max_value=2**32))
def test_made_npis_are_valid_and_any_single_digit_change_is_caught(seed: int) -> None:
    rng = random.Random(seed)
    npi = make_npi(rng, first_digit=rng.choice("12"))
    assert is_valid_npi(npi)
    position = rng.randrange(10)
    wrong = str((int(npi[position]) + rng.randint(1, 9)) % 10)
    assert not is_valid_npi(npi[:position] + wrong + npi[position + 1 :])


def test_dea_known_valid_examples() -> None:
    # AB1234563: 1+3+5 + 2*(2+4+6) = 33 → 3.
    assert dea_check_digit("123456") == 3
    assert is_valid_dea("AB1234563")
    assert is_valid_dea("BJ6125341")
    assert is_valid_dea("AB1234563", last_name="Baker")


@pytest.mark.parametrize(
    ("dea", "last_name"),
    [
        ("AB1234564", None),  # wrong check digit
        ("AB123456", None),  # too short
        ("A11234563", None),  # second character is a digit other than 9
        ("QB1234563", None),  # Q is not a registrant type
        ("ab1234563", None),  # lower case
        ("AB1234563", "Smith"),  # initial does not match the surname
    ],
)
def test_dea_rejects(dea: str, last_name: str | None) -> None:
    assert not is_valid_dea(dea, last_name)


def test_name_initial_folds_accents_and_skips_punctuation() -> None:
    assert name_initial("Álvarez") == "A"
    assert name_initial("O'Brien") == "O"
    assert name_initial("  van Wagoner") == "V"
    with pytest.raises(ValueError, match="latin letter"):
        name_initial("’")


@given(st.integers(min_value=0, max_value=2**32), st.sampled_from(LAST_NAMES), st.sampled_from("ABFM"))
def test_made_deas_are_valid_for_their_registrant(seed: int, last_name: str, kind: str) -> None:
    dea = make_dea(random.Random(seed), kind, last_name)
    assert dea[0] == kind
    assert is_valid_dea(dea, last_name)


def test_ncpdp_ids_are_seven_digits_with_the_state_prefix() -> None:
    rng = random.Random(7)
    ids = [make_ncpdp(rng) for _ in range(50)]
    assert all(is_valid_ncpdp(i) and i.startswith("46") for i in ids)
    assert not is_valid_ncpdp("123456")
