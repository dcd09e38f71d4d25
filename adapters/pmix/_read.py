"""Reading a parsed, schema-valid PMIX tree: children by name, NIEM parts (names, addresses, identifiers, dates), and
complaints that say where, never what.

A complaint is a ``PmpError(INVALID_REQUEST)``. Its ``location`` is an absolute path of prefixed names with
positions where a name repeats (``/pmix:PMPRequest/pmp:RequestPatient/nc:PersonBirthDate/nc:Date``) — the
prefixes are the codec's own (``pmix`` for the exchange namespace, ``pmp``, ``nc``, ``j``), whatever the sender
declared; its ``detail`` names the place below the root (``pmp:RequestPatient/nc:PersonBirthDate is in the
future``). Values are never quoted: they may be PHI. A name from the message appears only when it looks like an
element name.

The decoders read after schema validation, so shapes and value formats hold; what is left to them is meaning
(a date in the future, an unknown state code, a period that starts after it ends).
"""

from __future__ import annotations

import re
from datetime import date
from functools import partial
from typing import Final

from adapters.pmix.codes import J_NS, NC, NC_NS, PMP_NS
from adapters.xml._lxml import Element
from adapters.xml.read import quotable, refusal, steps_to
from protos.errors import PmpError
from protos.pmp.v1 import pmp_pb2 as pb

_DATE: Final = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_PREFIXES: Final = {PMP_NS: "pmp", NC_NS: "nc", J_NS: "j"}


def qualified_name(tag: object, exchange_ns: str) -> str:
    """``prefix:Local`` for a Clark-notation tag, with the codec's prefixes; ``*`` for what is not a plain name."""
    if not isinstance(tag, str):
        return "*"
    namespace, local = ("", tag)
    if tag.startswith("{"):
        namespace, _, local = tag[1:].partition("}")
    local = quotable(local)
    if local == "*":
        return local
    prefix = _PREFIXES.get(namespace) or ("pmix" if namespace == exchange_ns else "")
    return f"{prefix}:{local}" if prefix else local


def _exchange_of(element: Element) -> str:
    tag = element.getroottree().getroot().tag
    return tag[1:].partition("}")[0] if isinstance(tag, str) and tag.startswith("{") else ""


def error_at(element: Element, problem: str, below: str = "") -> PmpError:
    """INVALID_REQUEST: ``<place below the root> <problem>`` at ``element`` (or at its missing child tag ``below``),
    located by its absolute path (``/pmix:PMPRequest/…``)."""
    steps = steps_to(element, partial(qualified_name, exchange_ns=_exchange_of(element)), below)
    return refusal(steps, steps[1:] or steps, problem)


class Node:
    """An element being read, its children indexed by tag on first use (one pass in place of a search each time).

    The schema, validated before any decoding, has already refused a repeated child where one is not allowed, so
    the index keeps the first child of each tag; ``all`` reads the repeatable ones."""

    __slots__ = ("_kids", "element")

    def __init__(self, element: Element) -> None:
        self.element = element
        self._kids: dict[str, Element] | None = None

    def _child(self, tag: str) -> Element | None:
        kids = self._kids
        if kids is None:
            kids = {}
            for element in reversed(self.element):
                kids[element.tag] = element
            self._kids = kids
        return kids.get(tag)

    def get(self, tag: str) -> Node | None:
        """The child ``tag``, or None."""
        found = self._child(tag)
        return Node(found) if found is not None else None

    def need(self, tag: str) -> Node:
        found = self._child(tag)
        if found is None:
            raise error_at(self.element, "is required", below=tag)
        return Node(found)

    def all(self, tag: str) -> list[Node]:
        return [Node(element) for element in self.element.iterchildren(tag)]

    def error(self, problem: str) -> PmpError:
        return error_at(self.element, problem)

    def text(self) -> str:
        return (self.element.text or "").strip()

    def text_of(self, tag: str) -> str:
        """The stripped text of the child ``tag``; "" when it is absent."""
        found = self._child(tag)
        return (found.text or "").strip() if found is not None else ""


# --- NIEM parts ------------------------------------------------------------------------------------------------


def date_of(holder: Node) -> date:
    """The calendar date of a ``nc:DateType`` element (its ``nc:Date``)."""
    day = holder.need(NC + "Date")
    found = _DATE.fullmatch(day.text())
    if found is None:
        raise day.error("is not a date (YYYY-MM-DD)")
    try:
        return date(int(found[1]), int(found[2]), int(found[3]))
    except ValueError:
        raise day.error("is not a valid calendar date") from None


def iso_day(holder: Node | None) -> str:
    return date_of(holder).isoformat() if holder is not None else ""


def identification(holder: Node | None) -> str:
    """The ``nc:IdentificationID`` of an identification element; "" when there is none."""
    return holder.text_of(NC + "IdentificationID") if holder is not None else ""


def state_code(holder: Node | None) -> str:
    """The ``nc:LocationStateUSPostalServiceCode`` of ``holder``; ""."""
    return holder.text_of(NC + "LocationStateUSPostalServiceCode") if holder is not None else ""


def jurisdiction(holder: Node | None) -> str:
    """The state of an identification's ``nc:IdentificationJurisdiction``; ""."""
    return state_code(holder.get(NC + "IdentificationJurisdiction")) if holder is not None else ""


def read_name(holder: Node | None, out: pb.HumanName) -> None:
    """``nc:PersonName`` → ``out`` (nothing when ``holder`` is None)."""
    if holder is None:
        return
    out.prefix = holder.text_of(NC + "PersonNamePrefixText")
    out.given = holder.text_of(NC + "PersonGivenName")
    out.middle = holder.text_of(NC + "PersonMiddleName")
    out.family = holder.text_of(NC + "PersonSurName")
    out.suffix = holder.text_of(NC + "PersonNameSuffixText")


def read_contact(holder: Node | None, out: pb.Address) -> str:
    """An ``nc:ContactInformationType`` element: its mailing address into ``out``; returns its telephone number."""
    if holder is None:
        return ""
    address = holder.get(NC + "ContactMailingAddress")
    if address is not None:
        street = address.get(NC + "LocationStreet")
        out.line1 = street.text_of(NC + "StreetFullText") if street is not None else ""
        out.line2 = address.text_of(NC + "AddressSecondaryUnitText")
        out.city = address.text_of(NC + "LocationCityName")
        out.state = address.text_of(NC + "LocationStateUSPostalServiceCode")
        out.postal_code = address.text_of(NC + "LocationPostalCode")
        out.country = address.text_of(NC + "LocationCountryISO3166Alpha2Code")
    telephone = holder.get(NC + "ContactTelephoneNumber")
    if telephone is None:
        return ""
    full = telephone.get(NC + "FullTelephoneNumber")
    return full.text_of(NC + "TelephoneNumberFullID") if full is not None else ""
