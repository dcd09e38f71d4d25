"""Check digits of the provider identifiers a PMP sees: NPI (Luhn with the 80840 prefix) and DEA numbers.

The validators are public because they are also useful outside the demo (checking a requester's NPI / DEA
before a lookup). The ``make_*`` functions draw valid identifiers from a caller's ``random.Random`` so that
demo data stays deterministic.
"""

from __future__ import annotations

import random
import unicodedata

NPI_PREFIX = "80840"  # ISO 7812 issuer prefix that the NPI check digit is computed over
DEA_REGISTRANT_TYPES = frozenset("ABCDEFGHJKLMPRSTUX")
PRACTITIONER_DEA_TYPES = ("A", "B", "F")  # F is the letter issued to new practitioners today
MIDLEVEL_DEA_TYPE = "M"


def _ascii_digits(text: str, length: int) -> bool:
    return len(text) == length and text.isascii() and text.isdigit()


def npi_check_digit(first9: str) -> int:
    """The 10th digit of an NPI: Luhn over ``80840`` + the first nine digits."""
    if not _ascii_digits(first9, 9):
        raise ValueError("an NPI check digit needs exactly nine ASCII digits")
    total = 0
    # The check digit will be appended on the right, so the rightmost given digit is doubled.
    for position, char in enumerate(reversed(NPI_PREFIX + first9)):
        digit = int(char)
        if position % 2 == 0:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return (10 - total % 10) % 10


def is_valid_npi(npi: str) -> bool:
    """True for ten ASCII digits whose last is the Luhn check digit (``1234567893`` is valid)."""
    return _ascii_digits(npi, 10) and npi_check_digit(npi[:9]) == int(npi[9])


def dea_check_digit(first6: str) -> int:
    """The 7th digit of a DEA number: ``(d1 + d3 + d5 + 2 × (d2 + d4 + d6)) mod 10``."""
    if not _ascii_digits(first6, 6):
        raise ValueError("a DEA check digit needs exactly six ASCII digits")
    d = [int(c) for c in first6]
    return (d[0] + d[2] + d[4] + 2 * (d[1] + d[3] + d[5])) % 10


def name_initial(name: str) -> str:
    """The first A–Z letter of a name after folding diacritics (``Álvarez`` → ``A``, ``O'Brien`` → ``O``)."""
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().upper()
    for char in folded:
        if "A" <= char <= "Z":
            return char
    raise ValueError("a name with no latin letter has no DEA initial")


def is_valid_dea(dea: str, last_name: str | None = None) -> bool:
    """True for a well-formed DEA number with the right check digit (``AB1234563`` is valid).

    Two letters then seven digits. The first letter is a registrant type. The second letter is the
    initial of the registrant's surname (or of the business), or ``9`` for some business registrants.
    Give ``last_name`` to check that initial as well.
    """
    if len(dea) != 9 or not dea[:2].isascii():
        return False
    kind, initial, digits = dea[0], dea[1], dea[2:]
    if kind not in DEA_REGISTRANT_TYPES or not (initial == "9" or "A" <= initial <= "Z"):
        return False
    if not _ascii_digits(digits, 7) or dea_check_digit(digits[:6]) != int(digits[6]):
        return False
    return last_name is None or initial == name_initial(last_name)


def is_valid_ncpdp(ncpdp: str) -> bool:
    """True for a 7-digit NCPDP (NABP) provider id. No check digit is asserted here."""
    return _ascii_digits(ncpdp, 7)


def make_npi(rng: random.Random, *, first_digit: str = "1") -> str:
    """A valid NPI starting with ``first_digit`` (NPIs issued so far start with 1 or 2)."""
    body = first_digit + "".join(rng.choice("0123456789") for _ in range(8))
    return body + str(npi_check_digit(body))


def make_dea(rng: random.Random, registrant_type: str, name: str) -> str:
    """A valid DEA number for a registrant whose surname (or business name) is ``name``."""
    if registrant_type not in DEA_REGISTRANT_TYPES:
        raise ValueError(f"unknown DEA registrant type {registrant_type!r}")
    digits = "".join(rng.choice("0123456789") for _ in range(6))
    return registrant_type + name_initial(name) + digits + str(dea_check_digit(digits))


def make_ncpdp(rng: random.Random, state_prefix: str = "46") -> str:
    """A 7-digit NCPDP id. The first two digits are the state code: 46 is Utah in the NABP numbering."""
    return state_prefix + "".join(rng.choice("0123456789") for _ in range(7 - len(state_prefix)))
