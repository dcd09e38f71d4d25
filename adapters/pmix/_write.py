"""Writing PMIX documents as fitted, escaped text (``adapters.xml.write`` says why text and not an lxml tree), with
the codec's prefixes (``pmix``, ``pmp``, ``nc``, ``j``, declared on the root).

**Fitting.** Values are kept in Unicode (PMIX is UTF-8), stripped of control characters and of what XML 1.0
cannot carry, and cut to the schema's length. A value that cannot fit its type (an unknown state code, a postal
code with too few digits, an unreadable date, a non-finite number) is left out rather than sent invalid; optional
elements with nothing to say are not written.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal
from typing import Final

from adapters.pmix.codes import GENDER_OUT, J_NS, NC_NS, PMP_NS, USPS_STATES
from adapters.xml.write import DECLARATION, digits_only, element, escape, fit, zip_code
from protos.pmp.v1 import pmp_pb2 as pb

_TWO_LETTERS: Final = re.compile(r"[A-Z]{2}")
_POSTAL: Final = re.compile(r"[0-9]{5}(?:-?[0-9]{4})?")
_TELEPHONE: Final = re.compile(r"[0-9 ()+.\-]*[0-9][0-9 ()+.\-]*")


def root_start(tag: str, exchange_ns: str) -> str:
    """The declaration and the root's start tag, declaring the four prefixes (``exchange_ns`` already checked)."""
    return (
        f'{DECLARATION}<pmix:{tag} xmlns:pmix="{exchange_ns}" xmlns:pmp="{PMP_NS}" xmlns:nc="{NC_NS}" xmlns:j="{J_NS}">'
    )


# --- values ----------------------------------------------------------------------------------------------------


def usps_state(value: str) -> str:
    """A state or territory that runs a PMP (routing, source states), else ""."""
    code = value.strip().upper()
    return code if code in USPS_STATES else ""


def two_letters(value: str) -> str:
    """An address's state or country code (``[A-Z]{2}``), else ""."""
    code = value.strip().upper()
    return code if _TWO_LETTERS.fullmatch(code) else ""


def postal_code(value: str) -> str:
    """A ZIP or ZIP+4 as written when it is one (``01059``, ``01059-1234``, ``010591234``); else its digits when
    there are 9 or at least 5 (the first 5); else ""."""
    value = value.strip()
    return value if _POSTAL.fullmatch(value) else zip_code(value)


def telephone(value: str) -> str:
    """A number as written when it is digits with the usual separators (at most 30), else its digits, else ""."""
    value = value.strip()
    if len(value) <= 30 and _TELEPHONE.fullmatch(value):
        return value
    return digits_only(value, 30)


def decimal_text(value: float, *, places: int, max_integer_digits: int) -> str:
    """``value`` as an xs:decimal without an exponent, rounded to ``places`` decimals ("" when it cannot be)."""
    if not math.isfinite(value):
        return ""
    text = format(Decimal(repr(round(value, places))), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    if text in ("", "-0"):
        text = "0"
    if len(text.lstrip("-").partition(".")[0]) > max_integer_digits:
        return ""
    return text


# --- NIEM parts ------------------------------------------------------------------------------------------------


def date_holder(tag: str, day: str) -> str:
    """``<tag><nc:Date>day</nc:Date></tag>`` for a checked ISO date; "" for none."""
    return f"<{tag}><nc:Date>{day}</nc:Date></{tag}>" if day else ""


def state_holder(tag: str, code: str) -> str:
    """``<tag><nc:LocationStateUSPostalServiceCode>…`` for a checked code; "" for none."""
    if not code:
        return ""
    return f"<{tag}><nc:LocationStateUSPostalServiceCode>{code}</nc:LocationStateUSPostalServiceCode></{tag}>"


def identification(tag: str, value: str) -> str:
    """``<tag><nc:IdentificationID>value</nc:IdentificationID></tag>``; "" for no value."""
    fitted = fit(value, 50)
    return f"<{tag}><nc:IdentificationID>{fitted}</nc:IdentificationID></{tag}>" if fitted else ""


def licence(tag: str, value: str, state: str) -> str:
    """An identification with its issuing state (``nc:IdentificationJurisdiction``) when that is a state code."""
    fitted = fit(value, 50)
    if not fitted:
        return ""
    issuer = state_holder("nc:IdentificationJurisdiction", two_letters(state))
    return f"<{tag}><nc:IdentificationID>{fitted}</nc:IdentificationID>{issuer}</{tag}>"


def person_name(name: pb.HumanName) -> str:
    """``nc:PersonName``; "" without a surname (the schema requires one)."""
    family = fit(name.family, 100)
    if not family:
        return ""
    return "".join(
        (
            "<nc:PersonName>",
            element("nc:PersonNamePrefixText", fit(name.prefix, 20)),
            element("nc:PersonGivenName", fit(name.given, 100)),
            element("nc:PersonMiddleName", fit(name.middle, 100)),
            f"<nc:PersonSurName>{family}</nc:PersonSurName>",
            element("nc:PersonNameSuffixText", fit(name.suffix, 20)),
            "</nc:PersonName>",
        )
    )


def sex(gender: pb.Gender.ValueType) -> str:
    return element("j:PersonSexCode", GENDER_OUT.get(gender, ""))


def contact(tag: str, address: pb.Address, phone: str) -> str:
    """An ``nc:ContactInformationType`` element ``tag``: mailing address and telephone; "" when both are empty."""
    street = fit(address.line1, 100)
    mailing = element(
        "nc:ContactMailingAddress",
        "".join(
            (
                f"<nc:LocationStreet><nc:StreetFullText>{street}</nc:StreetFullText></nc:LocationStreet>"
                if street
                else "",
                element("nc:AddressSecondaryUnitText", fit(address.line2, 100)),
                element("nc:LocationCityName", fit(address.city, 60)),
                element("nc:LocationStateUSPostalServiceCode", two_letters(address.state)),
                element("nc:LocationPostalCode", postal_code(address.postal_code)),
                element("nc:LocationCountryISO3166Alpha2Code", two_letters(address.country)),
            )
        ),
    )
    number = telephone(phone)
    call = (
        "<nc:ContactTelephoneNumber><nc:FullTelephoneNumber>"
        f"<nc:TelephoneNumberFullID>{escape(number)}</nc:TelephoneNumberFullID>"
        "</nc:FullTelephoneNumber></nc:ContactTelephoneNumber>"
        if number
        else ""
    )
    return element(tag, mailing + call)


def practitioner(p: pb.Practitioner) -> str:
    """The children of ``pmix:Requester`` and ``pmp:Prescriber``: name, DEA, NPI, state licence."""
    return (
        person_name(p.name)
        + identification("pmp:DEANumberIdentifier", p.dea)
        + identification("pmp:NPIIdentifier", p.npi)
        + licence("pmp:StateLicenseIdentifier", p.state_license, p.license_state)
    )
