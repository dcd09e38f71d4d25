"""Partner states in the registry: the rules a partner's record follows, how it is stored, and its versions.

A partner (``gateway.interstate.partners.Partner``) is registered and changed by the division
(``pmp-gateway partners``); the store (``RegistryStore.add_partner`` / ``update_partner``) keeps every version in
``partner_history``, so the inbound policy in force when a partner's requester was answered can always be read back.

Rules (``checked_partner``), each refusal a ``RegistryInputError`` naming the field:

- ``state``: a USPS code; ``name``: required, printable, at most 200 characters.
- ``inbound.allowed_taxonomies``: NUCC health care provider taxonomy codes (the code list RxCheck's role settings use):
  ten characters, digits and capital letters, ending in ``X`` (``207R00000X``, ``1835P1200X``). None = no requester
  of that state is answered (an outbound-only partner).
- ``inbound.required_patient_fields``: among ``PATIENT_FIELDS``.
- ``default_for_roles``: ``pb.Role`` names (``ROLE_PRESCRIBER``; ``prescriber`` is accepted) of the roles whose
  queries ask that state by default — never ``ROLE_UNSPECIFIED`` or ``ROLE_PARTNER_STATE``.
- ``outbound``: ``endpoint`` and ``token_url`` https (http only on loopback, as for a client's JWKS URL), a
  ``client_id``, an absolute ``key_file`` path (the key stays in that file, never in the database), a ``scope`` of
  RFC 6749 scope tokens, ``0 < timeout_seconds <= 60``.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import orjson

from gateway.interstate.partners import InboundPolicy, Outbound, Partner, PartnerProtocol, PartnerStatus
from gateway.policy.registry.credentials import LOOPBACK_HOSTS
from gateway.policy.registry.errors import RegistryInputError
from gateway.policy.registry.identifiers import is_valid_state, normalize_state
from gateway.policy.registry.model import Json
from protos.pmp.v1 import pmp_pb2 as pb

PATIENT_FIELDS: tuple[str, ...] = ("family", "given", "birth_date", "gender", "postal_code", "address")
TAXONOMY = re.compile(r"[0-9A-Z]{9}X")
MAX_TIMEOUT_SECONDS = 60.0
MAX_TEXT = 200
MAX_PATH = 1000
_SCOPE_TOKEN = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")
_NOT_DEFAULT = frozenset({"ROLE_UNSPECIFIED", "ROLE_PARTNER_STATE"})
DEFAULT_ROLES: tuple[str, ...] = tuple(v.name for v in pb.Role.DESCRIPTOR.values if v.name not in _NOT_DEFAULT)


class PartnerAction(enum.StrEnum):
    """What a version of a partner's record records."""

    ADD = "add"
    SET = "set"
    DISABLE = "disable"
    ENABLE = "enable"


@dataclass(slots=True, frozen=True)
class PartnerRecord:
    """A partner as stored: its current version and who made it."""

    partner: Partner
    version: int
    created_at: str
    updated_at: str
    updated_by: str

    def as_json(self) -> Json:
        return {
            **partner_json(self.partner),
            "version": self.version,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "updated_by": self.updated_by,
        }


@dataclass(slots=True, frozen=True)
class PartnerVersion:
    """One version in a partner's history: the whole record as it was after the change."""

    state: str
    version: int
    changed_at: str
    changed_by: str
    action: str
    record: Json

    def as_json(self) -> Json:
        return {
            "version": self.version,
            "changed_at": self.changed_at,
            "changed_by": self.changed_by,
            "action": self.action,
            "record": self.record,
        }


def partner_json(partner: Partner) -> Json:
    """What the CLI shows and the history keeps (there is no secret in a partner's record: the key stays in its
    file)."""
    out = partner.outbound
    return {
        "state": partner.state,
        "name": partner.name,
        "status": partner.status.value,
        "eds_id": partner.eds_id,
        "inbound": {
            "allowed_taxonomies": sorted(partner.inbound.allowed_taxonomies),
            "required_patient_fields": [f for f in PATIENT_FIELDS if f in partner.inbound.required_patient_fields],
        },
        "outbound": None
        if out is None
        else {
            "endpoint": out.endpoint,
            "protocol": out.protocol.value,
            "token_url": out.token_url,
            "client_id": out.client_id,
            "key_file": str(out.key_file),
            "scope": out.scope,
            "timeout_seconds": out.timeout_seconds,
            "enabled": out.enabled,
        },
        "default_for_roles": sorted(partner.default_for_roles),
    }


# ---- rules


def _text(value: str, field: str, *, limit: int = MAX_TEXT) -> str:
    value = value.strip()
    if not value:
        raise RegistryInputError(f"{field}: required")
    if len(value) > limit or not value.isprintable():
        raise RegistryInputError(f"{field}: at most {limit} printable characters")
    return value


def partner_state(value: str) -> str:
    """A partner's USPS code, upper case; RegistryInputError when it is not one."""
    state = normalize_state(value)
    if not is_valid_state(state):
        raise RegistryInputError("state: not a US state code")
    return state


def taxonomy_code(value: str) -> str:
    code = value.strip().upper()
    if not TAXONOMY.fullmatch(code):
        raise RegistryInputError("taxonomy: a NUCC taxonomy code is ten letters and digits ending in X")
    return code


def patient_field(value: str) -> str:
    name = value.strip().lower().replace("-", "_")
    if name not in PATIENT_FIELDS:
        raise RegistryInputError(f"required patient field: one of {', '.join(PATIENT_FIELDS)}")
    return name


def role_name(value: str) -> str:
    """``prescriber``, ``licensed-delegate`` or ``ROLE_PRESCRIBER`` → the ``pb.Role`` name."""
    name = value.strip().upper().replace("-", "_")
    name = name if name.startswith("ROLE_") else f"ROLE_{name}"
    if name not in DEFAULT_ROLES:
        shown = ", ".join(n.removeprefix("ROLE_").lower() for n in DEFAULT_ROLES)
        raise RegistryInputError(f"default role: one of {shown}")
    return name


def endpoint_url(value: str, field: str) -> str:
    """An absolute https URL (http only on loopback) without credentials or fragment."""
    from urllib.parse import urlsplit

    text = value.strip()
    try:
        parts = urlsplit(text)
        host = parts.hostname or ""
        _ = parts.port
    except ValueError:
        raise RegistryInputError(f"{field}: not a valid URL") from None
    if not host or parts.username or parts.password or parts.fragment or len(text) > MAX_PATH:
        raise RegistryInputError(f"{field}: an absolute URL without credentials or fragment")
    if parts.scheme == "https" or (parts.scheme == "http" and host in LOOPBACK_HOSTS):
        return text
    raise RegistryInputError(f"{field}: must use https (http only on 127.0.0.1 / localhost)")


def _scope(value: str) -> str:
    tokens = value.split()
    if not tokens or not all(_SCOPE_TOKEN.fullmatch(t) for t in tokens) or len(value) > MAX_TEXT:
        raise RegistryInputError("outbound scope: one or more RFC 6749 scope tokens")
    return " ".join(tokens)


def checked_outbound(out: Outbound) -> Outbound:
    try:
        protocol = PartnerProtocol(str(out.protocol).strip().lower())
    except ValueError:
        raise RegistryInputError("protocol: pmix or fhir") from None
    key_file = Path(out.key_file)
    if not key_file.is_absolute() or len(str(key_file)) > MAX_PATH:
        raise RegistryInputError("key_file: an absolute path")
    timeout = round(float(out.timeout_seconds), 3)  # stored in milliseconds
    if not 0 < timeout <= MAX_TIMEOUT_SECONDS:
        raise RegistryInputError(f"timeout: at least 0.001 and at most {MAX_TIMEOUT_SECONDS:g} seconds")
    return Outbound(
        endpoint=endpoint_url(out.endpoint, "endpoint").rstrip("/"),
        protocol=protocol,
        token_url=endpoint_url(out.token_url, "token_url"),
        client_id=_text(out.client_id, "client_id"),
        key_file=key_file,
        scope=_scope(out.scope),
        timeout_seconds=timeout,
        enabled=bool(out.enabled),
    )


def checked_partner(partner: Partner) -> Partner:
    """``partner`` normalised, or RegistryInputError naming the first rule it breaks (module docstring)."""
    return replace(
        partner,
        state=partner_state(partner.state),
        name=_text(partner.name, "name"),
        status=PartnerStatus(partner.status),
        inbound=InboundPolicy(
            allowed_taxonomies=frozenset(taxonomy_code(c) for c in partner.inbound.allowed_taxonomies),
            required_patient_fields=frozenset(patient_field(f) for f in partner.inbound.required_patient_fields),
        ),
        outbound=checked_outbound(partner.outbound) if partner.outbound is not None else None,
        default_for_roles=frozenset(role_name(r) for r in partner.default_for_roles),
    )


# ---- rows (schema.PARTNER_COLUMNS)


def _words(values: Iterable[str]) -> str:
    return " ".join(sorted(values))


def partner_values(partner: Partner) -> tuple[Any, ...]:
    """The values of ``PARTNER_COLUMNS`` from ``name`` to ``outbound_enabled`` (state and eds_id apart)."""
    out = partner.outbound
    return (
        partner.name,
        partner.status.value,
        _words(partner.inbound.allowed_taxonomies),
        _words(partner.inbound.required_patient_fields),
        _words(partner.default_for_roles),
        out.endpoint if out else "",
        out.protocol.value if out else "",
        out.token_url if out else "",
        out.client_id if out else "",
        str(out.key_file) if out else "",
        out.scope if out else "",
        round(out.timeout_seconds * 1000) if out else 0,
        int(out.enabled) if out else 0,
    )


def partner_record(row: Sequence[Any]) -> PartnerRecord:
    outbound = None
    if row[7]:
        outbound = Outbound(
            endpoint=row[7],
            protocol=PartnerProtocol(row[8]),
            token_url=row[9],
            client_id=row[10],
            key_file=Path(row[11]),
            scope=row[12],
            timeout_seconds=row[13] / 1000,
            enabled=bool(row[14]),
        )
    partner = Partner(
        state=row[0],
        name=row[1],
        status=PartnerStatus(row[2]),
        eds_id=row[3],
        inbound=InboundPolicy(frozenset(row[4].split()), frozenset(row[5].split())),
        outbound=outbound,
        default_for_roles=frozenset(row[6].split()),
    )
    return PartnerRecord(partner, version=row[15], created_at=row[16], updated_at=row[17], updated_by=row[18])


def history_record(partner: Partner) -> str:
    return orjson.dumps(partner_json(partner), option=orjson.OPT_SORT_KEYS).decode()


def partner_version(row: Sequence[Any]) -> PartnerVersion:
    return PartnerVersion(row[0], row[1], row[2], row[3], row[4], orjson.loads(row[5]))
