"""Writing SCRIPT replies as fitted, escaped text (``adapters.xml.write`` says why text and not an lxml tree).

**Fitting.** What pmpdb stores was reported by pharmacies in ASAP and may not fit SCRIPT's types: 10.6 text is
printable ASCII (its ``an`` type), lengths are capped (an..35, an..70, …), states are two-letter codes, ZIP codes
5 or 9 digits. A value is transliterated to ASCII for 10.6 (``Müller`` → ``Muller``; 2017071 keeps Unicode),
stripped of control characters and of the characters XML 1.0 cannot carry, and cut to the element's length; a
value that cannot fit (an unknown state code, a ZIP code with too few digits, an unreadable date) is left out
rather than sent invalid. Optional elements with nothing to say are not written.
"""

from __future__ import annotations

from typing import Final

from adapters.ncpdp.codes import NS, STATE_CODES
from adapters.xml.write import DECLARATION, clean, digits_only, element, escape, fit, iso_date, zip_code

__all__ = [
    "DECLARATION",
    "MESSAGE_START",
    "clean",
    "date_element",
    "element",
    "escape",
    "fit",
    "iso_date",
    "phone_digits",
    "shorten",
    "state_code",
    "zip_code",
]

MESSAGE_START: Final = f'<Message xmlns="{NS}"'


def date_element(name: str, day: str) -> str:
    """``<name><Date>day</Date></name>`` (SCRIPT ``DateType``) for a checked ISO date; "" for none."""
    return f"<{name}><Date>{day}</Date></{name}>" if day else ""


def shorten(text: str, limit: int) -> str:
    """``text`` cut at a word to fit ``limit`` characters, marked with ``...`` when cut."""
    if len(text) <= limit:
        return text
    cut = text[: max(0, limit - 3)]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:") + "..."


def state_code(value: str) -> str:
    code = value.strip().upper()
    return code if code in STATE_CODES else ""


def phone_digits(value: str) -> str:
    return digits_only(value, 25)
