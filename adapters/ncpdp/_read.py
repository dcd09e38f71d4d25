"""Reading a parsed SCRIPT tree: every complaint is a ``PmpError(INVALID_REQUEST)`` that says where, never what.

The place is given twice: ``location`` is an absolute XPath-like path with positions where a name repeats
(``/Message/Body/RxHistoryRequest/Patient/HumanPatient/Name/LastName``), for the sender's tooling; the sentence in
``detail`` names the place below the transaction (``Patient/HumanPatient/Name/LastName is required``) so that it
fits an NCPDP ``Description`` (70 characters). Values are never quoted: they may be PHI. Element names from the
message appear only when they look like element names (a hostile name is shown as ``*``).

Paths are built only when an error is raised; reading indexes each element's children once (``Node``).
"""

from __future__ import annotations

import re
from datetime import date
from typing import Final

from adapters.ncpdp.codes import Q
from adapters.xml._lxml import Element
from adapters.xml.read import path, quotable, refusal, steps_to
from protos.errors import PmpError

_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f]")
_DATE: Final = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})(?:Z|[+-][0-9]{2}:[0-9]{2})?")
_DATE_TIME: Final = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?(?:Z|[+-][0-9]{2}:[0-9]{2})?"
)
_PARTIAL_DATE: Final = re.compile(r"[0-9]{4}(?:-[0-9]{2})?")
_Q_LENGTH: Final = len(Q)
_SKIP_IN_LABEL: Final = frozenset({"Message", "Body", "RxHistoryRequest"})


def _local(tag: object) -> str:
    return quotable(tag.rpartition("}")[2]) if isinstance(tag, str) else "*"


def local_name(element: Element) -> str:
    return _local(element.tag)


def path_of(element: Element, below: str = "") -> str:
    """``/Message/Body/…`` for ``element`` (and a child name ``below`` it, for what is missing)."""
    return path(steps_to(element, _local, below))


def _shown(steps: list[str]) -> list[str]:
    """The steps under the transaction (``Patient/Name/LastName``), for a sentence."""
    while len(steps) > 1 and steps[0].partition("[")[0] in _SKIP_IN_LABEL:
        steps = steps[1:]
    return steps


def error_at(element: Element, problem: str, below: str = "") -> PmpError:
    """INVALID_REQUEST: ``<label> <problem>`` at ``element`` (or at its missing child ``below``)."""
    steps = steps_to(element, _local, below)
    return refusal(steps, _shown(steps), problem)


class Node:
    """An element being read, with its SCRIPT children indexed by local name on first use (one pass over them,
    instead of one ``find`` per lookup)."""

    __slots__ = ("_kids", "element")

    def __init__(self, element: Element) -> None:
        self.element = element
        self._kids: dict[str, list[Element]] | None = None

    def _index(self) -> dict[str, list[Element]]:
        kids: dict[str, list[Element]] = {}
        for element in self.element:
            tag = element.tag
            if isinstance(tag, str) and tag.startswith(Q):
                name = tag[_Q_LENGTH:]
                same = kids.get(name)
                if same is None:
                    kids[name] = [element]
                else:
                    same.append(element)
        self._kids = kids
        return kids

    def get(self, name: str) -> Node | None:
        """The one child ``name``, or None; a repeated child is refused."""
        kids = self._kids if self._kids is not None else self._index()
        found = kids.get(name)
        if found is None:
            return None
        if len(found) > 1:
            raise error_at(found[1], "is repeated")
        return Node(found[0])

    def need(self, name: str) -> Node:
        found = self.get(name)
        if found is None:
            raise error_at(self.element, "is required", below=name)
        return found

    def all(self, name: str) -> list[Node]:
        kids = self._kids if self._kids is not None else self._index()
        return [Node(element) for element in kids.get(name, ())]

    def error(self, problem: str) -> PmpError:
        return error_at(self.element, problem)

    def text(self, max_length: int) -> str:
        """The element's text, stripped; refused when longer than the schema allows or when it has control
        characters or child elements (SCRIPT data elements are text only)."""
        element = self.element
        if len(element):
            raise error_at(element, "must hold text, not elements")
        value = (element.text or "").strip()
        if len(value) > max_length:
            raise error_at(element, f"exceeds {max_length} characters")
        if _CONTROL.search(value):
            raise error_at(element, "has control characters")
        return value

    def text_of(self, name: str, max_length: int, *, required: bool = False) -> str:
        """The text of the child ``name`` ("" when absent); ``required`` refuses an absent or blank one."""
        found = self.need(name) if required else self.get(name)
        if found is None:
            return ""
        value = found.text(max_length)
        if required and not value:
            raise found.error("is required and must not be blank")
        return value


def text_of(node: Node | None, name: str, max_length: int) -> str:
    """``node.text_of(name, …)``, or "" when there is no ``node``."""
    return node.text_of(name, max_length) if node is not None else ""


def date_value(holder: Node) -> date:
    """A SCRIPT ``DateType``: ``Date`` (xs:date) or ``DateTime`` (xs:dateTime, its calendar day as written)."""
    day = holder.get("Date")
    moment = holder.get("DateTime")
    if day is not None and moment is not None:
        raise moment.error("is given beside Date: give one of them")
    node = day if day is not None else moment
    if node is None:
        raise holder.error("needs a Date or a DateTime")
    value = node.text(40)
    pattern = _DATE if node is day else _DATE_TIME
    found = pattern.fullmatch(value)
    if found is None:
        if node is day and _PARTIAL_DATE.fullmatch(value):
            raise node.error("is not a full date (YYYY-MM-DD)")
        raise node.error("is not a date (YYYY-MM-DD)" if node is day else "is not an XML dateTime")
    try:
        return date(int(found[1]), int(found[2]), int(found[3]))
    except ValueError:
        raise node.error("is not a valid calendar date") from None
