"""NPI and DEA check digits (property-based), state licence and state formats."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.policy.registry.identifiers import (
    DEA_REGISTRANT_TYPES,
    dea_check_digit,
    is_valid_dea,
    is_valid_npi,
    is_valid_state,
    is_valid_state_license,
    npi_check_digit,
)

nine_digits = st.text("0123456789", min_size=9, max_size=9)
six_digits = st.text("0123456789", min_size=6, max_size=6)


def npi_of(first9: str) -> str:
    return first9 + str(npi_check_digit(first9))


def dea_of(kind: str, initial: str, first6: str) -> str:
    return kind + initial + first6 + str(dea_check_digit(first6))


def test_known_values() -> None:
    assert is_valid_npi("1234567893")  # the CMS worked example
    assert not is_valid_npi("1234567890")
    assert is_valid_dea("AB1234563")
    assert not is_valid_dea("AB1234564")


@given(nine_digits)
def test_a_generated_npi_is_valid(first9: str) -> None:
    assert is_valid_npi(npi_of(first9))


@given(nine_digits, st.integers(0, 9), st.integers(1, 9))
def test_any_single_digit_change_breaks_an_npi(first9: str, position: int, delta: int) -> None:
    npi = npi_of(first9)
    changed = npi[:position] + str((int(npi[position]) + delta) % 10) + npi[position + 1 :]
    assert not is_valid_npi(changed)


@given(st.sampled_from(sorted(DEA_REGISTRANT_TYPES)), st.sampled_from([*"ABCDEFGHIJKLMNOPQRSTUVWXYZ", "9"]), six_digits)
def test_a_generated_dea_is_valid(kind: str, initial: str, first6: str) -> None:
    assert is_valid_dea(dea_of(kind, initial, first6))


@given(six_digits, st.integers(0, 6), st.integers(1, 9))
def test_single_digit_changes_break_a_dea_number(first6: str, position: int, delta: int) -> None:
    """Every single-digit change fails, except ±5 on a doubled digit (d2, d4, d6): 2 × 5 ≡ 0 (mod 10) is the
    one blind spot of the DEA's own check-digit rule."""
    dea = dea_of("A", "S", first6)
    digit = 2 + position
    changed = dea[:digit] + str((int(dea[digit]) + delta) % 10) + dea[digit + 1 :]
    blind_spot = position in (1, 3, 5) and delta == 5
    assert is_valid_dea(changed) == blind_spot


@pytest.mark.parametrize(
    "value",
    ["", "123456789", "12345678931", "123456789X", "１２３４５６７８９３", " 1234567893", "-123456789"],
)
def test_malformed_npis(value: str) -> None:
    assert not is_valid_npi(value)


@pytest.mark.parametrize(
    "value",
    ["", "AB123456", "AB12345630", "IB1234563", "A11234563", "ab1234563", "AB12345 3", "ÀB1234563", "AB１234563"],
)
def test_malformed_dea_numbers(value: str) -> None:
    assert not is_valid_dea(value)


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("12345-1205", True),
        ("B-123", True),
        ("RN.4/77", True),
        ("X", False),
        ("-12", False),
        ("12 34", False),
        ("A" * 31, False),
        ("Ñ123", False),
    ],
)
def test_state_licence_shape(value: str, ok: bool) -> None:
    assert is_valid_state_license(value) is ok


def test_states() -> None:
    assert is_valid_state("UT") and is_valid_state("DC") and is_valid_state("PR")
    assert not is_valid_state("ut") and not is_valid_state("XX") and not is_valid_state("")
