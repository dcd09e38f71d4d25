"""Turn demographics as a pharmacy or a requester wrote them into one canonical `Demographics`.

Everything downstream (record ids, index keys, scores) compares normalised text only, so the same
person typed two ways must come out of here identical. `normalize` is idempotent: feeding its
output back in changes nothing. Per-field helpers are cached because names repeat heavily.
"""

from __future__ import annotations

import datetime as dt
import re
from functools import lru_cache

from pmpdb.matching.address import normalize_address, normalize_city, normalize_state, normalize_zip
from pmpdb.matching.model import Demographics, InvalidDemographicsError
from pmpdb.matching.text import name_words

SUFFIXES = {
    "JR": "JR", "JUNIOR": "JR", "SR": "SR", "SENIOR": "SR",
    "II": "II", "2ND": "II", "III": "III", "3RD": "III", "IV": "IV", "4TH": "IV", "V": "V", "5TH": "V",
}  # fmt: skip
"""Generational suffixes and their canonical spelling; professional ones (MD, ESQ) are not kept."""

# In a given name a trailing "V" is a middle initial far more often than "the fifth".
_GIVEN_SUFFIXES = {k: v for k, v in SUFFIXES.items() if k != "V"}
_TITLES = frozenset({"MR", "MRS", "MS", "MISS", "MX", "DR"})
PARTICLES = frozenset(
    {
        "MC", "MAC", "O", "D", "L", "AL", "EL",
        "DE", "DA", "DI", "DEL", "DELA", "DELLA", "DELLE", "DES", "DU", "LA", "LE", "LO", "DOS", "DAS",
        "VAN", "VON", "DER", "DEN", "TER", "TEN", "VANDER", "VANDEN",
        "ST", "STE", "SAN", "SANTA",
    }
)  # fmt: skip
"""Surname particles glued to the word after them: DE LA CRUZ = DELACRUZ, MC DONALD = MCDONALD."""
_NAME_PLACEHOLDERS = frozenset(
    {"UNKNOWN", "UNK", "FNU", "LNU", "NFN", "NLN", "NMN", "NONE", "BABY", "BABY BOY", "BABY GIRL", "INFANT"}
)
_GENDERS = {"M": "M", "MALE": "M", "MAN": "M", "1": "M", "F": "F", "FEMALE": "F", "WOMAN": "F", "W": "F", "2": "F"}
_ISO_DATE = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ].*)?")
_COMPACT_DATE = re.compile(r"(\d{4})(\d{2})(\d{2})")
_US_DATE = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})")


def _strip_suffixes(tokens: list[str], table: dict[str, str]) -> str:
    """Pop trailing generational suffix words (keeping one word at least); return the leftmost popped."""
    found = ""
    while len(tokens) > 1 and tokens[-1] in table:
        found = table[tokens.pop()]
    return found


def _glue_particles(tokens: list[str]) -> list[str]:
    parts: list[str] = []
    prefix = ""
    for token in tokens:
        if token in PARTICLES:
            prefix += token
        else:
            parts.append(prefix + token)
            prefix = ""
    if prefix:
        parts.append(prefix)
    return parts


@lru_cache(maxsize=16384)
def normalize_last_name(text: str) -> tuple[str, str]:
    """(surname, suffix): "Smith, Jr." → ("SMITH", "JR"); "García-López" → ("GARCIA LOPEZ", "").

    Hyphens and spaces separate surname parts; a Spanish connective "Y" between parts is dropped;
    particles (`PARTICLES`) are glued to the following word; "SAINT" is spelled "ST".
    """
    tokens = ["ST" if t == "SAINT" else t for t in name_words(text)]
    suffix = _strip_suffixes(tokens, SUFFIXES)
    tokens = [t for i, t in enumerate(tokens) if not (t == "Y" and 0 < i < len(tokens) - 1)]
    parts = _glue_particles(tokens)
    while parts != tokens:  # a glued word can be a particle itself: D U → DU, which then glues on
        tokens, parts = parts, _glue_particles(parts)
    surname = " ".join(parts)
    return ("" if surname in _NAME_PLACEHOLDERS else surname), suffix


@lru_cache(maxsize=16384)
def normalize_first_name(text: str) -> tuple[str, str, str]:
    """(given name, middle initial found in it, suffix): "Dr. John A. Jr" → ("JOHN", "A", "JR").

    Multi-word given names keep their words ("MARY ANN"); a trailing single letter is a middle initial.
    """
    tokens = list(name_words(text))
    while len(tokens) > 1 and tokens[0] in _TITLES:
        tokens.pop(0)
    suffix = initial = ""
    while len(tokens) > 1 and (tokens[-1] in _GIVEN_SUFFIXES or len(tokens[-1]) == 1):
        token = tokens.pop()
        if token in _GIVEN_SUFFIXES:
            suffix = _GIVEN_SUFFIXES[token]
        else:
            initial = token
    first = " ".join(tokens)
    if first in _NAME_PLACEHOLDERS:
        return "", "", suffix
    return first, initial, suffix


@lru_cache(maxsize=4096)
def normalize_middle_name(text: str) -> str:
    """Upper-case words; "NMN" (no middle name) and other placeholders are empty."""
    middle = " ".join(name_words(text))
    return "" if middle in _NAME_PLACEHOLDERS else middle


@lru_cache(maxsize=256)
def normalize_suffix(text: str) -> str:
    """A generational suffix (JR SR II III IV V) or ``""``; "Jr." → JR, "3rd" → III."""
    for token in name_words(text):
        if token in SUFFIXES:
            return SUFFIXES[token]
    return ""


@lru_cache(maxsize=16384)
def _parse_date(text: str) -> str:
    text = text.strip()
    if not text:
        return ""
    if m := _ISO_DATE.fullmatch(text) or _COMPACT_DATE.fullmatch(text):
        year, month, day = m.groups()
    elif m := _US_DATE.fullmatch(text):
        month, day, year = m.groups()
    else:
        raise InvalidDemographicsError("birth date is not a date")  # no value: it is PHI
    try:
        return dt.date(int(year), int(month), int(day)).isoformat()
    except ValueError:
        raise InvalidDemographicsError("birth date is not a calendar date") from None


def normalize_birth_date(value: str | dt.date | None) -> str:
    """ISO ``YYYY-MM-DD`` from ISO, ASAP ``CCYYMMDD``, US ``MM/DD/YYYY`` or a date; ``""`` when absent.

    Raises InvalidDemographicsError for text that is not a calendar date: a birth date is the
    blocking key, so guessing would silently hide the patient.
    """
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        value = value.date()
    if isinstance(value, dt.date):
        return value.isoformat()
    return _parse_date(value)


def normalize_gender(text: str) -> str:
    """M, F or U (unknown, other, not given): ASAP/NCPDP letters, FHIR words, HL7 1/2."""
    return _GENDERS.get(text.strip().upper(), "U")


@lru_cache(maxsize=8192)
def normalize_phone(text: str) -> str:
    """Ten digits (a leading US country code 1 dropped); placeholders like 0000000000 are unknown."""
    digits = "".join(c for c in text if c.isdigit() and c.isascii())
    if len(digits) == 11 and digits[0] == "1":
        digits = digits[1:]
    if len(digits) != 10 or len(set(digits)) == 1 or digits in ("1234567890", "0123456789"):
        return ""
    return digits


def normalize(
    *,
    last_name: str | None,
    first_name: str | None,
    birth_date: str | dt.date | None,
    middle_name: str | None = None,
    suffix: str | None = None,
    gender: str | None = None,
    address: str | None = None,
    address2: str | None = None,
    city: str | None = None,
    state: str | None = None,
    zip_code: str | None = None,
    phone: str | None = None,
) -> Demographics:
    """Canonical demographics from raw fields (``None`` = absent); ``address2`` is appended to the line.

    A suffix written into a name ("SMITH JR") moves to ``suffix`` (an explicit suffix field wins);
    a middle initial written into the given name ("JOHN A") moves to ``middle_name`` when that is empty.
    """
    last, last_suffix = normalize_last_name(last_name or "")
    first, initial, first_suffix = normalize_first_name(first_name or "")
    line = address or ""
    if address2:
        line = f"{line} {address2}"
    return Demographics(
        last_name=last,
        first_name=first,
        birth_date=normalize_birth_date(birth_date),
        middle_name=normalize_middle_name(middle_name or "") or initial,
        suffix=normalize_suffix(suffix or "") or last_suffix or first_suffix,
        gender=normalize_gender(gender or ""),
        address=normalize_address(line),
        city=normalize_city(city or ""),
        state=normalize_state(state or ""),
        zip_code=normalize_zip(zip_code or ""),
        phone=normalize_phone(phone or ""),
    )
