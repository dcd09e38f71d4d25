"""Address, city, state and ZIP normalisation, and the street key two address lines are compared by.

Pharmacy systems write the same home as "123 North Main Street, Apt. 4", "123 N MAIN ST #4" and
"123 Main"; USPS abbreviations make the first two equal, and `address_key` (house number + street
name, without directionals, street type or unit) makes all three agree.
"""

from __future__ import annotations

import re
from functools import lru_cache

from pmpdb.matching.text import address_words, name_words

_STREET_TYPES = {
    "ALLEY": "ALY",
    "ALY": "ALY",
    "AVENUE": "AVE",
    "AVE": "AVE",
    "AV": "AVE",
    "BOULEVARD": "BLVD",
    "BLVD": "BLVD",
    "CIRCLE": "CIR",
    "CIR": "CIR",
    "COURT": "CT",
    "CT": "CT",
    "CRESCENT": "CRES",
    "CRES": "CRES",
    "DRIVE": "DR",
    "DR": "DR",
    "EXPRESSWAY": "EXPY",
    "EXPY": "EXPY",
    "FREEWAY": "FWY",
    "FWY": "FWY",
    "HIGHWAY": "HWY",
    "HWY": "HWY",
    "LANE": "LN",
    "LN": "LN",
    "LOOP": "LOOP",
    "PARKWAY": "PKWY",
    "PKWY": "PKWY",
    "PIKE": "PIKE",
    "PLACE": "PL",
    "PL": "PL",
    "PLAZA": "PLZ",
    "PLZ": "PLZ",
    "POINT": "PT",
    "PT": "PT",
    "ROAD": "RD",
    "RD": "RD",
    "ROUTE": "RTE",
    "RTE": "RTE",
    "SQUARE": "SQ",
    "SQ": "SQ",
    "STREET": "ST",
    "STR": "ST",
    "ST": "ST",
    "TERRACE": "TER",
    "TER": "TER",
    "TRAIL": "TRL",
    "TRL": "TRL",
    "TURNPIKE": "TPKE",
    "TPKE": "TPKE",
    "WAY": "WAY",
}
_DIRECTIONALS = {
    "NORTH": "N",
    "SOUTH": "S",
    "EAST": "E",
    "WEST": "W",
    "NORTHEAST": "NE",
    "NORTHWEST": "NW",
    "SOUTHEAST": "SE",
    "SOUTHWEST": "SW",
    "N": "N",
    "S": "S",
    "E": "E",
    "W": "W",
    "NE": "NE",
    "NW": "NW",
    "SE": "SE",
    "SW": "SW",
}
_UNITS = {
    "APARTMENT": "APT",
    "APT": "APT",
    "#": "APT",
    "SUITE": "STE",
    "STE": "STE",
    "UNIT": "UNIT",
    "FLOOR": "FL",
    "FL": "FL",
    "ROOM": "RM",
    "RM": "RM",
    "BUILDING": "BLDG",
    "BLDG": "BLDG",
    "LOT": "LOT",
    "SPACE": "SPC",
    "SPC": "SPC",
    "TRAILER": "TRLR",
    "TRLR": "TRLR",
}
_OTHER = {"SAINT": "ST", "MOUNT": "MT", "FORT": "FT"}
_WORDS = {**_STREET_TYPES, **_DIRECTIONALS, **_UNITS, **_OTHER}
_UNIT_GLUED = re.compile(r"^(APT|STE|UNIT|RM|FL|BLDG|LOT|SPC)(\d+[A-Z]?)$")
_PO_BOX = (("P", "O", "BOX"), ("POST", "OFFICE", "BOX"), ("POBOX",), ("POB",), ("PO", "BOX"))
# Values that mean "no address" and must never count as two records agreeing.
_PLACEHOLDERS = frozenset({"UNKNOWN", "UNK", "NONE", "NA", "N A", "HOMELESS", "NO ADDRESS", "GENERAL DELIVERY"})

_STATES = {
    "ALABAMA": "AL", "ALASKA": "AK", "ARIZONA": "AZ", "ARKANSAS": "AR", "CALIFORNIA": "CA",
    "COLORADO": "CO", "CONNECTICUT": "CT", "DELAWARE": "DE", "DISTRICT OF COLUMBIA": "DC",
    "FLORIDA": "FL", "GEORGIA": "GA", "HAWAII": "HI", "IDAHO": "ID", "ILLINOIS": "IL", "INDIANA": "IN",
    "IOWA": "IA", "KANSAS": "KS", "KENTUCKY": "KY", "LOUISIANA": "LA", "MAINE": "ME", "MARYLAND": "MD",
    "MASSACHUSETTS": "MA", "MICHIGAN": "MI", "MINNESOTA": "MN", "MISSISSIPPI": "MS", "MISSOURI": "MO",
    "MONTANA": "MT", "NEBRASKA": "NE", "NEVADA": "NV", "NEW HAMPSHIRE": "NH", "NEW JERSEY": "NJ",
    "NEW MEXICO": "NM", "NEW YORK": "NY", "NORTH CAROLINA": "NC", "NORTH DAKOTA": "ND", "OHIO": "OH",
    "OKLAHOMA": "OK", "OREGON": "OR", "PENNSYLVANIA": "PA", "RHODE ISLAND": "RI",
    "SOUTH CAROLINA": "SC", "SOUTH DAKOTA": "SD", "TENNESSEE": "TN", "TEXAS": "TX", "UTAH": "UT",
    "VERMONT": "VT", "VIRGINIA": "VA", "WASHINGTON": "WA", "WEST VIRGINIA": "WV", "WISCONSIN": "WI",
    "WYOMING": "WY", "PUERTO RICO": "PR", "GUAM": "GU", "VIRGIN ISLANDS": "VI",
    "AMERICAN SAMOA": "AS", "NORTHERN MARIANA ISLANDS": "MP",
}  # fmt: skip


def _expand_units(tokens: tuple[str, ...]) -> list[str]:
    out: list[str] = []
    for token in tokens:
        glued = _UNIT_GLUED.match(token)
        if glued:
            out.extend(glued.groups())
        else:
            out.append(token)
    return out


def _fold_po_box(tokens: list[str]) -> list[str]:
    for pattern in _PO_BOX:
        if tuple(tokens[: len(pattern)]) == pattern:
            return ["PO", "BOX", *tokens[len(pattern) :]]
    return tokens


@lru_cache(maxsize=8192)
def normalize_address(line: str) -> str:
    """Upper-case words with USPS abbreviations (STREET→ST, NORTH→N, APARTMENT/#→APT, PO BOX)."""
    tokens = _fold_po_box([_WORDS.get(t, t) for t in _expand_units(address_words(line))])
    text = " ".join(tokens)
    return "" if text in _PLACEHOLDERS else text


@lru_cache(maxsize=8192)
def address_key(line: str) -> str:
    """House number + street name of a normalised line: no unit, no directional, no trailing street type.

    Two lines with the same key are the same home for matching; this is what "same address" means.
    """
    tokens = line.split()
    for i, token in enumerate(tokens):
        if i > 0 and token in _UNITS:
            tokens = tokens[:i]
            break
    if tokens[:2] == ["PO", "BOX"] or not tokens:
        return " ".join(tokens)
    number, rest = (tokens[0], tokens[1:]) if any(c.isdigit() for c in tokens[0]) else ("", tokens)
    street = [t for t in rest if t not in _DIRECTIONALS] or rest
    if len(street) > 1 and street[-1] in _STREET_TYPES:
        street = street[:-1]
    return " ".join([number, *street] if number else street)


@lru_cache(maxsize=4096)
def normalize_city(city: str) -> str:
    """Upper-case words; SAINT→ST, MOUNT→MT, FORT→FT so "St. Louis" = "Saint Louis"."""
    return " ".join(_OTHER.get(t, t) for t in name_words(city))


@lru_cache(maxsize=256)
def normalize_state(state: str) -> str:
    """Two-letter USPS code; a full state name is converted; anything else is unknown (``""``)."""
    text = " ".join(name_words(state))
    if len(text) == 2 and text.isalpha():
        return text
    return _STATES.get(text, "")


@lru_cache(maxsize=8192)
def normalize_zip(zip_code: str) -> str:
    """Five-digit ZIP: ZIP+4 is cut, a ZIP that lost its leading zero (4 or 8 digits) is padded.

    Spreadsheet exports drop New England's leading zero (02134 → 2134); padding gets it back.

    Placeholders (00000, 99999) and anything else are unknown (``""``).
    """
    digits = "".join(c for c in zip_code.partition("-")[0] if c.isdigit() and c.isascii())
    if len(digits) in (4, 8):
        digits = "0" + digits
    if len(digits) not in (5, 9):
        return ""
    zip5 = digits[:5]
    return "" if zip5 in ("00000", "99999") else zip5
