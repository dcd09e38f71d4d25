"""Formats of the identifiers that name an end user: NPI, DEA number, state licence (and its state).

The gateway checks them before any registry lookup, so a malformed identifier is refused as a bad request and
never reaches the database. (``pmpdb.demo.identifiers`` holds the same check digits for demo data; the gateway
does not import pmpdb — DESIGN §2 — so they are written here too.)

- NPI: ten digits, the last a Luhn check digit computed over ``80840`` + the first nine (CMS, NPI check digit).
  Luhn catches every single-digit error.
- DEA: two letters and seven digits. The first letter is a registrant type, the second the registrant's surname
  initial (or ``9``); the seventh digit is ``(d1 + d3 + d5 + 2 × (d2 + d4 + d6)) mod 10``. That check catches every
  single-digit error except a change of ±5 in d2, d4 or d6 (2 × 5 ≡ 0 mod 10).
- State licence: 2–30 characters of ``A–Z 0–9 - . /`` with a letter or digit; the issuing state is a USPS code.
"""

from __future__ import annotations

import re

NPI_PREFIX = "80840"
DEA_REGISTRANT_TYPES = frozenset("ABCDEFGHJKLMPRSTUX")
_STATE_CODES = (
    "AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM NY NC ND OH OK "
    "OR PA RI SC SD TN TX UT VT VA WA WV WI WY PR VI GU AS MP"
)
US_STATES = frozenset(_STATE_CODES.split())
_LICENSE = re.compile(r"[A-Z0-9][A-Z0-9./-]{1,29}")


def _digits(text: str, length: int) -> bool:
    return len(text) == length and text.isascii() and text.isdigit()


def npi_check_digit(first9: str) -> int:
    """The tenth digit of an NPI: Luhn over ``80840`` + the first nine digits."""
    if not _digits(first9, 9):
        raise ValueError("an NPI check digit needs nine ASCII digits")
    total = 0
    for position, char in enumerate(reversed(NPI_PREFIX + first9)):
        digit = int(char)
        if position % 2 == 0:  # the check digit goes on the right, so the rightmost given digit is doubled
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return (10 - total % 10) % 10


def is_valid_npi(npi: str) -> bool:
    """Ten ASCII digits ending in their Luhn check digit (``1234567893`` is valid)."""
    return _digits(npi, 10) and npi_check_digit(npi[:9]) == int(npi[9])


def dea_check_digit(first6: str) -> int:
    """The seventh digit of a DEA number's digits."""
    if not _digits(first6, 6):
        raise ValueError("a DEA check digit needs six ASCII digits")
    d = [int(c) for c in first6]
    return (d[0] + d[2] + d[4] + 2 * (d[1] + d[3] + d[5])) % 10


def normalize_dea(dea: str) -> str:
    return dea.strip().upper()


def is_valid_dea(dea: str) -> bool:
    """A registrant type, an initial (A–Z or 9), seven digits with the check digit (``AB1234563`` is valid).
    Upper case only: normalise with ``normalize_dea`` first."""
    if len(dea) != 9 or not dea.isascii():
        return False
    kind, initial, digits = dea[0], dea[1], dea[2:]
    if kind not in DEA_REGISTRANT_TYPES or not (initial == "9" or "A" <= initial <= "Z"):
        return False
    return _digits(digits, 7) and dea_check_digit(digits[:6]) == int(digits[6])


def normalize_license(license_number: str) -> str:
    return license_number.strip().upper()


def is_valid_state_license(license_number: str) -> bool:
    """The basic shape of a state licence number (states differ; nothing more is checkable)."""
    return license_number.isascii() and _LICENSE.fullmatch(license_number) is not None


def normalize_state(state: str) -> str:
    return state.strip().upper()


def is_valid_state(state: str) -> bool:
    """A USPS state, district or territory code (upper case)."""
    return state in US_STATES
