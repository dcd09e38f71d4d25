"""The ``$pdmp-history`` input Parameters: its named parameters, and the resources they carry or point to.

Every IG example carries each input inline in ``parameter.resource``, while the profile says
``value[x] only Reference(...)`` (standards.md §1.11 #3), so both are accepted. A ``valueReference`` is resolved
against the resources carried in the same Parameters — in any top-level ``parameter.resource``, whatever that
parameter's name (Parameters has no ``contained``). Reference forms:

* ``Type/id`` — the carried resource of that type with that id;
* ``#id`` and ``urn:uuid:id`` — the carried resource with that id (of the expected type);
* anything else (an absolute URL, an identifier-only reference) cannot be resolved: the codec does no I/O.

Zero or several matches, or a match of the wrong type, is an INVALID_REQUEST at the reference.
Parameters the IG does not name are ignored (the request profile's slicing is open); a named one may appear once.
"""

from __future__ import annotations

from typing import Final

from adapters.fhir._json import At, JsonObject, as_object, get_list, get_text, objects
from protos.errors import PmpError
from protos.pmp.v1 import pmp_pb2 as pb

MAX_PARAMETERS: Final = 100
RESOURCE_PARAMETERS: Final = {
    "patient": "Patient",
    "animal-owner": "RelatedPerson",
    "authorized-practitioner": "Practitioner",
    "authorized-practitioner-role": "PractitionerRole",
    "authorized-practitioner-organization": "Organization",
    "delegate-practitioner": "Practitioner",
    "delegate-practitioner-role": "PractitionerRole",
    "delegate-organization": "Organization",
}
VALUE_PARAMETERS: Final = {"pre-stage-only": "valueBoolean", "pre-stage-retrieval-key": "valueString"}
ROOT: Final = At("Parameters", "Parameters")
PARAMETER: Final = ROOT.key("parameter")


class InputParameters:
    """The named parameters of one request, with the carried resources indexed by id for references."""

    __slots__ = ("_by_id", "_named", "all")

    def __init__(self, root: JsonObject) -> None:
        parameters = get_list(root, "parameter", ROOT)
        if len(parameters) > MAX_PARAMETERS:
            raise PARAMETER.error(f"has more than {MAX_PARAMETERS} entries")
        self.all: list[tuple[JsonObject, At]] = []
        self._named: dict[str, tuple[JsonObject, At]] = {}
        self._by_id: dict[str, list[tuple[JsonObject, At]]] = {}
        for parameter, at in objects(root, "parameter", ROOT):
            name = get_text(parameter, "name", at)
            if not name:
                raise at.key("name").error("is required")
            if name in RESOURCE_PARAMETERS or name in VALUE_PARAMETERS:
                if name in self._named:
                    raise _named_at(at, name).error("is repeated")
                self._named[name] = (parameter, at)
            self.all.append((parameter, at))
            if "resource" in parameter:
                self._carry(as_object(parameter["resource"], at.key("resource")), at.key("resource"))

    def _carry(self, resource: JsonObject, at: At) -> None:
        kind = resource.get("resourceType")
        if not isinstance(kind, str) or not kind:
            raise at.key("resourceType").error("is required")
        rid = resource.get("id")
        if rid is None:
            return
        if not isinstance(rid, str):
            raise at.child("id", f"{kind}.id").error("must be a string")
        self._by_id.setdefault(rid, []).append((resource, at.relabel(kind)))

    def require(self, name: str, kind: str) -> tuple[JsonObject, At]:
        """Like ``resource``, for a parameter the operation requires."""
        found = self.resource(name, kind)
        if found is None:
            raise _named_at(PARAMETER, name).error("is required")
        return found

    def resource(self, name: str, kind: str) -> tuple[JsonObject, At] | None:
        """The ``kind`` resource the parameter ``name`` carries inline or references; labels name the resource."""
        found = self._named.get(name)
        if found is None:
            return None
        parameter, at = found
        has_resource = "resource" in parameter
        has_reference = "valueReference" in parameter
        if has_resource and has_reference:
            raise _named_at(at, name).error("has both a resource and a valueReference")
        if has_resource:
            resource = as_object(parameter["resource"], at.key("resource"))
            if resource.get("resourceType") != kind:
                raise _named_at(at.key("resource"), name).error(f"must be a {kind} resource")
            return resource, at.child("resource", kind)
        if has_reference:
            return self._resolve(parameter, at, name, kind)
        raise _named_at(at, name).error(f"must carry a {kind} resource (resource or valueReference)")

    def _resolve(self, parameter: JsonObject, at: At, name: str, kind: str) -> tuple[JsonObject, At]:
        where = at.key("valueReference")
        reference = get_text(as_object(parameter["valueReference"], where), "reference", where, max_len=300)
        target = _named_at(where, name)
        if not reference:
            raise target.error("has no reference to a resource in this Parameters")
        ref_kind = ""
        if reference.startswith("#"):
            rid = reference[1:]
        elif reference.startswith("urn:uuid:"):
            rid = reference[9:]
        elif "/" in reference and ":" not in reference:
            ref_kind, _, rid = reference.partition("/")
        else:
            raise target.error("must reference a resource carried in this Parameters")
        matches = [(r, a) for r, a in self._by_id.get(rid, ()) if not ref_kind or a.label == ref_kind]
        if not matches:
            raise target.error("references no resource carried in this Parameters")
        if len(matches) > 1:
            raise target.error("references more than one resource in this Parameters")
        resource, resource_at = matches[0]
        if resource_at.label != kind:
            raise target.error(f"must reference a {kind} resource")
        return resource, resource_at

    def at(self, name: str) -> At | None:
        """Where the parameter ``name`` is, labelled by its name (for errors about it as a whole)."""
        found = self._named.get(name)
        return None if found is None else _named_at(found[1], name)

    def value(self, name: str) -> tuple[object, At] | None:
        """The ``value[x]`` of a value parameter (``pre-stage-only``…), type-checked."""
        found = self._named.get(name)
        if found is None:
            return None
        parameter, at = found
        key = VALUE_PARAMETERS[name]
        value = parameter.get(key)
        expected = bool if key == "valueBoolean" else str
        if not isinstance(value, expected):
            raise _named_at(at, name).error(f"must carry a {key}")
        return value, at


def _named_at(at: At, name: str) -> At:
    return at.relabel(f"The {name} parameter")


def unsupported(at: At, detail: str) -> PmpError:
    return PmpError(pb.ERROR_CODE_UNSUPPORTED, detail, location=(at.path,))
