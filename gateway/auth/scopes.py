"""OAuth scopes: the vocabulary, what a token request is granted, and which scope each route needs.

Vocabulary (``SCOPES_SUPPORTED``):

- ``system/MedicationDispense.rs`` — FHIR ``$pdmp-history`` and ``MedicationDispense`` search (SMART v2).
  ``system/*.rs`` (all resources) covers it. SMART v1 ``.read`` is honoured as ``.rs`` (so the server advertises
  ``permission-v1`` too); other v2 permission subsets of read/search (``.r``, ``.s``) are understood but grant only what
  they say. Write permissions (c, u, d) are never granted: the gateway is read-only.
- ``pmp/ncpdp.history`` — NCPDP SCRIPT RxHistoryRequest; ``pmp/interstate`` — partner states' hubs: PMIX, and FHIR
  ``$pdmp-history`` for hubs that speak FHIR (``PARTNER_ALTERNATIVE``; nothing else); ``pmp/admin`` — the
  division's admin API (and revoking or introspecting any client's tokens). The registry grants ``pmp/interstate``
  to partner hubs' clients only, and the ``partner_policy`` stage refuses it from anyone else.

Grant rule (RFC 6749 §3.3, SMART Backend Services): the ``scope`` parameter is required (SMART), so an absent or
blank one is ``invalid_scope``; a malformed one (characters outside RFC 6749's scope-token) is ``invalid_scope``. Each
requested scope is granted when it is in the vocabulary and one of the client's allowed scopes covers it; the others are
dropped silently (the response's ``scope`` says what was granted, as SMART permits). Nothing left → ``invalid_scope``.
Granted scopes keep the client's own spelling (a v1 client gets ``.read`` back); checks use their meaning.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

MEDICATION_DISPENSE_READ = "system/MedicationDispense.rs"
ALL_RESOURCES_READ = "system/*.rs"
NCPDP_HISTORY = "pmp/ncpdp.history"
INTERSTATE = "pmp/interstate"
ADMIN = "pmp/admin"

SCOPES_SUPPORTED: tuple[str, ...] = (
    MEDICATION_DISPENSE_READ,
    ALL_RESOURCES_READ,
    "system/MedicationDispense.read",
    "system/*.read",
    NCPDP_HISTORY,
    INTERSTATE,
    ADMIN,
)

# Which scope each protocol's routes need (RequestContext.protocol → scope). Admin routes are not pipeline routes:
# they call ``gateway.pipeline.authenticate.authenticate(…, ADMIN)`` themselves.
REQUIRED_SCOPE: dict[str, str] = {
    "fhir": MEDICATION_DISPENSE_READ,
    "ncpdp": NCPDP_HISTORY,
    "pmix": INTERSTATE,
    "admin": ADMIN,
}

# (protocol, operation) → a scope that stands in for the protocol's: a partner hub that speaks FHIR asks
# $pdmp-history with its pmp/interstate token. Its other FHIR, NCPDP and admin routes stay closed to that scope.
PARTNER_ALTERNATIVE: dict[tuple[str, str], str] = {("fhir", "pdmp-history"): INTERSTATE}

_PMP_SCOPES = frozenset({NCPDP_HISTORY, INTERSTATE, ADMIN})
_READ_ONLY = frozenset("rs")
_READ_RESOURCES = frozenset({"MedicationDispense", "*"})
_SCOPE_TOKEN = re.compile(r"^[\x21\x23-\x5b\x5d-\x7e]+$")  # RFC 6749 §3.3 scope-token
_SMART = re.compile(r"^(system)/([A-Za-z]+|\*)\.(c?r?u?d?s?|read|write|\*)$")
_V1_PERMS = {"read": frozenset("rs"), "write": frozenset("cud"), "*": frozenset("cruds")}
_MAX_SCOPES = 32


class ScopeSyntaxError(ValueError):
    """The ``scope`` parameter is not a space-separated list of RFC 6749 scope-tokens (or has far too many)."""


@dataclass(frozen=True, slots=True)
class SmartScope:
    """A parsed SMART scope such as ``system/MedicationDispense.rs``."""

    context: str  # "system"
    resource: str  # a FHIR resource type, or "*"
    permissions: frozenset[str]  # subset of "cruds"

    def covers(self, other: SmartScope) -> bool:
        return (
            self.context == other.context
            and self.resource in (other.resource, "*")
            and self.permissions >= other.permissions
        )


def parse_smart(scope: str) -> SmartScope | None:
    """The SMART scope, or ``None`` when ``scope`` is not one (v1 ``.read`` reads as v2 ``.rs``)."""
    m = _SMART.match(scope)
    if m is None or not m.group(3):
        return None
    context, resource, perms = m.groups()
    return SmartScope(context, resource, _V1_PERMS.get(perms) or frozenset(perms))


def covers(granted: str, required: str) -> bool:
    """Whether the granted scope ``granted`` allows what ``required`` names."""
    if granted == required:
        return True
    g, r = parse_smart(granted), parse_smart(required)
    return g is not None and r is not None and g.covers(r)


def is_supported(scope: str) -> bool:
    """Whether ``scope`` is in the gateway's vocabulary (what a registry may allow and a token may carry)."""
    if scope in _PMP_SCOPES:
        return True
    smart = parse_smart(scope)
    return smart is not None and smart.resource in _READ_RESOURCES and smart.permissions <= _READ_ONLY


def split(scope: str | None) -> list[str]:
    """The scope parameter's tokens, deduplicated in order. Raises ``ScopeSyntaxError`` when malformed."""
    if scope is None:
        return []
    tokens = scope.split(" ")
    if len(tokens) > _MAX_SCOPES:
        raise ScopeSyntaxError("too many scopes")
    out: list[str] = []
    for token in tokens:
        if not token:
            continue  # tolerate doubled spaces
        if not _SCOPE_TOKEN.match(token):
            raise ScopeSyntaxError("malformed scope")
        if token not in out:
            out.append(token)
    return out


def grant(requested: str | None, allowed: Iterable[str]) -> tuple[str, ...]:
    """The scopes to grant: each requested scope in the vocabulary that an allowed scope covers (may be empty)."""
    allowed = tuple(allowed)
    return tuple(s for s in split(requested) if is_supported(s) and any(covers(a, s) for a in allowed))


def effective(granted: Iterable[str]) -> frozenset[str]:
    """The route scopes (``REQUIRED_SCOPE`` values) that ``granted`` satisfies: the hot path's set lookup."""
    granted = tuple(granted)
    return frozenset(req for req in REQUIRED_SCOPE.values() if any(covers(g, req) for g in granted))
