"""Reading untrusted FHIR JSON: every complaint is a ``PmpError(INVALID_REQUEST)`` that says where, never what.

The body comes from the network, so any value may have any JSON type. These readers check the type of each value
the codec maps and raise with two names for its place: the FHIRPath ``location`` with indices
(``Parameters.parameter[0].resource.name[0].family``, for the client's tooling) and a ``label`` without them
(``Patient.name.family``, for the sentence). The sentence never quotes the value: it may be PHI.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

import orjson

from protos.errors import PmpError
from protos.pmp.v1 import pmp_pb2 as pb

MAX_TEXT: Final = 256  # no name, identifier or address line the codec maps is longer
JsonObject = dict[str, Any]


class At:
    """A place in the request, as a chain of steps up to a root. The strings are only built for an error, so
    tracking the place of every value read costs one small object per step.

    ``path`` joins every step (``Parameters.parameter[0].resource.name[0].family``); ``label`` joins the steps
    below the nearest node that has a label of its own, leaving out indices (``Patient.name.family``).
    """

    __slots__ = ("_label", "_parent", "_step")

    def __init__(self, step: str | int, label: str | None = None, parent: At | None = None) -> None:
        self._step = step
        self._label = label
        self._parent = parent

    def key(self, name: str) -> At:
        return At("." + name, None, self)

    def index(self, i: int) -> At:
        return At(i, None, self)

    def child(self, name: str, label: str) -> At:
        """The element ``name`` below, labelled afresh (e.g. a resource inside a parameter: ``Patient``)."""
        return At("." + name, label, self)

    def relabel(self, label: str) -> At:
        """The same place under another label (e.g. ``The patient parameter``)."""
        return At("", label, self)

    @property
    def path(self) -> str:
        parts: list[str] = []
        node: At | None = self
        while node is not None:
            step = node._step
            parts.append(f"[{step}]" if isinstance(step, int) else step)
            node = node._parent
        return "".join(reversed(parts))

    @property
    def label(self) -> str:
        parts: list[str] = []
        node: At | None = self
        while node is not None:
            if node._label is not None:
                parts.append(node._label)
                break
            if isinstance(node._step, str):
                parts.append(node._step)
            node = node._parent
        return "".join(reversed(parts))

    def error(self, problem: str) -> PmpError:
        return PmpError(pb.ERROR_CODE_INVALID_REQUEST, f"{self.label} {problem}", location=(self.path,))


def load_object(body: bytes, resource_type: str) -> JsonObject:
    """The body as a JSON object of ``resource_type`` (orjson: strict UTF-8, depth limit, no NaN)."""
    root = At(resource_type, "The request body")
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise root.error("is not valid JSON in UTF-8") from None
    if not isinstance(value, dict):
        raise root.error("must be a JSON object")
    if value.get("resourceType") != resource_type:
        raise root.error(f"must be a {resource_type} resource")
    return value


def as_object(value: Any, at: At) -> JsonObject:
    if not isinstance(value, dict):
        raise at.error("must be a JSON object")
    return value


def get_object(parent: JsonObject, key: str, at: At) -> JsonObject | None:
    value = parent.get(key)
    return None if value is None else as_object(value, at.key(key))


def get_list(parent: JsonObject, key: str, at: At) -> list[Any]:
    value = parent.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise at.key(key).error("must be an array")
    return value


def objects(parent: JsonObject, key: str, at: At) -> Iterator[tuple[JsonObject, At]]:
    """Each element of the array ``parent[key]``, which must be an object, with its place."""
    where = at.key(key)
    for i, value in enumerate(get_list(parent, key, at)):
        item = where.index(i)
        yield as_object(value, item), item


def as_text(value: Any, at: At, max_len: int = MAX_TEXT) -> str:
    if not isinstance(value, str):
        raise at.error("must be a string")
    if len(value) > max_len:
        raise at.error(f"is longer than {max_len} characters")
    return value.strip()


def get_text(parent: JsonObject, key: str, at: At, max_len: int = MAX_TEXT) -> str:
    """``parent[key]`` stripped, ``""`` when absent."""
    value = parent.get(key)
    if value is None:
        return ""
    if type(value) is str and len(value) <= max_len:
        return value.strip()
    return as_text(value, at.key(key), max_len)  # raises


def texts(parent: JsonObject, key: str, at: At) -> list[str]:
    """The array of strings ``parent[key]``, blanks dropped."""
    where = at.key(key)
    out = []
    for i, value in enumerate(get_list(parent, key, at)):
        text = as_text(value, where.index(i))
        if text:
            out.append(text)
    return out


def get_bool(parent: JsonObject, key: str, at: At) -> bool | None:
    value = parent.get(key)
    if value is None or isinstance(value, bool):
        return value
    raise at.key(key).error("must be true or false")


def codings(concept: JsonObject | None, at: At) -> Iterator[tuple[str, str]]:
    """``(system, code)`` of each coding of a CodeableConcept."""
    if concept is None:
        return
    for coding, where in objects(concept, "coding", at):
        yield get_text(coding, "system", where), get_text(coding, "code", where)


def has_extension(element: Any) -> bool:
    """True for a primitive's ``_x`` sibling that carries an extension (e.g. data-absent-reason)."""
    return isinstance(element, dict) and isinstance(element.get("extension"), list) and bool(element["extension"])
