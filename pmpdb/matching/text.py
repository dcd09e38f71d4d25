"""Text folding shared by every normaliser: one place decides what a "letter" is.

Pharmacies, EHRs and partner states spell the same name with and without accents, apostrophes and
punctuation; folding to upper-case ASCII words makes those spellings compare equal. Not cached here:
the per-field normalisers that call these are.
"""

from __future__ import annotations

import re
import unicodedata

# Letters NFKD does not decompose into ASCII + combining mark.
_SPECIAL = str.maketrans(
    {
        "ß": "SS",
        "ẞ": "SS",
        "Æ": "AE",
        "æ": "AE",
        "Ø": "O",
        "ø": "O",
        "Œ": "OE",
        "œ": "OE",
        "Ł": "L",
        "ł": "L",
        "Đ": "D",
        "đ": "D",
        "Ð": "D",
        "ð": "D",
        "Þ": "TH",
        "þ": "TH",
        "ı": "I",
    }
)
# Apostrophes join (O'Brien = OBrien); removed before NFKD, which would split "´" into a space + mark.
_APOSTROPHES = re.compile("['’‘`´ʼ]")
_NON_NAME = re.compile(r"[^A-Z0-9]+")
_NON_ADDRESS = re.compile(r"[^A-Z0-9#]+")


def fold(text: str) -> str:
    """Upper-case ASCII with diacritics removed and apostrophes dropped; other characters kept."""
    text = _APOSTROPHES.sub("", text.translate(_SPECIAL))
    if not text.isascii():
        text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return text.upper()


def name_words(text: str) -> tuple[str, ...]:
    """The folded words of a name: runs of A–Z and 0–9; hyphens, dots, commas and spaces separate."""
    return tuple(_NON_NAME.sub(" ", fold(text)).split())


def address_words(text: str) -> tuple[str, ...]:
    """The folded words of an address line; ``#`` is a word of its own (``#4`` = ``APT 4``)."""
    return tuple(_NON_ADDRESS.sub(" ", fold(text).replace("#", " # ")).split())
