"""The registry's records: EDSs, their OAuth clients, end users and the supervision of delegates.

Values are frozen; a change is a store call that returns the new record. Timestamps are ISO-8601 UTC text
(``2026-05-01T12:00:00.000000Z``: microseconds, so listings keep insertion order), dates ``YYYY-MM-DD``.
``as_json`` gives what the CLI and the admin API show: never a secret hash.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, TypeAlias

from protos.pmp.v1 import pmp_pb2 as pb

Json: TypeAlias = dict[str, Any]


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class EdsStatus(enum.StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    SUSPENDED = "suspended"
    REVOKED = "revoked"


class EdsKind(enum.StrEnum):
    """What a registered system is: an in-state EDS (EHR, pharmacy system, HIE) whose clients name registered end
    users, or a partner state's hub (``pmp-gateway partners``) whose requesters are out-of-state and held to that
    partner's inbound policy instead."""

    EDS = "eds"
    PARTNER = "partner"


class ClientStatus(enum.StrEnum):
    ACTIVE = "active"
    DISABLED = "disabled"


class UserStatus(enum.StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    SUSPENDED = "suspended"
    REVOKED = "revoked"


class AuthMethod(enum.StrEnum):
    """How a client authenticates at the token endpoint (RFC 7591 names)."""

    PRIVATE_KEY_JWT = "private_key_jwt"
    CLIENT_SECRET_BASIC = "client_secret_basic"  # noqa: S105 - a method name, not a secret


class UserRole(enum.StrEnum):
    """The roles a registered end user can hold (the registry's names; ``pb`` gives the proto's)."""

    PRESCRIBER = "prescriber"
    PHARMACIST = "pharmacist"
    LICENSED_DELEGATE = "licensed_delegate"
    UNLICENSED_DELEGATE = "unlicensed_delegate"
    LAW_ENFORCEMENT = "law_enforcement"
    REGULATOR = "regulator"
    ADMINISTRATOR = "administrator"

    @property
    def pb(self) -> pb.Role.ValueType:
        return _PB_ROLE[self]

    @property
    def is_delegate(self) -> bool:
        return self in DELEGATE_ROLES

    @classmethod
    def parse(cls, text: str) -> UserRole:
        """``licensed-delegate`` and ``Licensed_Delegate`` both name ``LICENSED_DELEGATE``; ValueError otherwise."""
        return cls(text.strip().lower().replace("-", "_"))


_PB_ROLE: dict[UserRole, pb.Role.ValueType] = {
    UserRole.PRESCRIBER: pb.ROLE_PRESCRIBER,
    UserRole.PHARMACIST: pb.ROLE_PHARMACIST,
    UserRole.LICENSED_DELEGATE: pb.ROLE_LICENSED_DELEGATE,
    UserRole.UNLICENSED_DELEGATE: pb.ROLE_UNLICENSED_DELEGATE,
    UserRole.LAW_ENFORCEMENT: pb.ROLE_LAW_ENFORCEMENT,
    UserRole.REGULATOR: pb.ROLE_REGULATOR,
    UserRole.ADMINISTRATOR: pb.ROLE_ADMINISTRATOR,
}
DELEGATE_ROLES = frozenset({UserRole.LICENSED_DELEGATE, UserRole.UNLICENSED_DELEGATE})
# Who may supervise a delegate: prescribers (nurses, medical assistants) and pharmacists (pharmacy technicians).
SUPERVISOR_ROLES = frozenset({UserRole.PRESCRIBER, UserRole.PHARMACIST})


class ApprovalSide(enum.StrEnum):
    """The two approvals a delegate's supervision needs."""

    SUPERVISOR = "supervisor"
    DIVISION = "division"


@dataclass(slots=True, frozen=True)
class Quota:
    """An EDS's request quota: ``rate`` requests per ``per_seconds``, bursts up to ``burst``; ``shadow`` = count and
    report but do not refuse. Stored here, enforced by the rate-limit stage (issue 6)."""

    rate: int
    per_seconds: int
    burst: int
    shadow: bool = False

    def as_json(self) -> Json:
        return {"rate": self.rate, "per_seconds": self.per_seconds, "burst": self.burst, "shadow": self.shadow}


_QUOTA = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*s?\s*((?:,\s*(?:burst\s*=\s*\d+|shadow)\s*)*)$", re.IGNORECASE)


class QuotaSyntaxError(ValueError):
    """A quota text that is not ``RATE/SECONDS[,burst=N][,shadow]`` or ``off``, or has a zero."""


def parse_quota(text: str) -> Quota | None:
    """``"600/60,burst=100,shadow"`` → Quota(600, 60, 100, shadow=True); ``"off"`` or ``""`` → None."""
    if text.strip().lower() in {"", "off", "none"}:
        return None
    match = _QUOTA.match(text)
    if match is None:
        raise QuotaSyntaxError("a quota is RATE/SECONDS[,burst=N][,shadow] or off")
    rate, per = int(match.group(1)), int(match.group(2))
    burst, shadow = rate, False
    for option in (o.strip().lower().replace(" ", "") for o in match.group(3).split(",") if o.strip()):
        if option == "shadow":
            shadow = True
        else:
            burst = int(option.removeprefix("burst="))
    if rate < 1 or per < 1 or burst < 1:
        raise QuotaSyntaxError("a quota's rate, seconds and burst are positive")
    return Quota(rate, per, burst, shadow)


def quota_text(quota: Quota | None) -> str:
    if quota is None:
        return "off"
    return f"{quota.rate}/{quota.per_seconds},burst={quota.burst}" + (",shadow" if quota.shadow else "")


@dataclass(slots=True, frozen=True)
class Eds:
    """An electronic data system (EHR, pharmacy system, HIE) under an agreement with the division."""

    id: str
    name: str
    agreement: str
    state: str
    contact: str
    status: EdsStatus
    created_at: str
    quota: Quota | None = None
    kind: EdsKind = EdsKind.EDS

    @property
    def is_partner(self) -> bool:
        return self.kind is EdsKind.PARTNER

    def as_json(self) -> Json:
        return {
            "id": self.id,
            "kind": self.kind.value,
            "name": self.name,
            "agreement": self.agreement,
            "state": self.state,
            "contact": self.contact,
            "status": self.status.value,
            "created_at": self.created_at,
            "quota": self.quota.as_json() if self.quota else None,
        }


@dataclass(slots=True, frozen=True)
class EdsClient:
    """One OAuth client of an EDS. ``jwks`` (a public JWK Set) or ``jwks_url`` for ``private_key_jwt``;
    ``secret_hash`` (a KDF hash, see ``credentials``) for ``client_secret_basic``."""

    client_id: str
    eds_id: str
    auth_method: AuthMethod
    scopes: frozenset[str]
    status: ClientStatus
    created_at: str
    jwks: Mapping[str, Any] | None = None
    jwks_url: str = ""
    secret_hash: str = field(default="", repr=False)

    @property
    def active(self) -> bool:
        return self.status is ClientStatus.ACTIVE

    def as_json(self) -> Json:
        return {
            "client_id": self.client_id,
            "eds_id": self.eds_id,
            "auth_method": self.auth_method.value,
            "scope": " ".join(sorted(self.scopes)),
            "status": self.status.value,
            "created_at": self.created_at,
            "jwks": dict(self.jwks) if self.jwks is not None else None,
            "jwks_url": self.jwks_url or None,
            "has_secret": bool(self.secret_hash),
        }


@dataclass(slots=True, frozen=True)
class Supervision:
    """A delegate acting for a supervisor. Approved only once both the supervisor and the division approved."""

    delegate_id: str
    supervisor_id: str
    created_at: str
    supervisor_approved_by: str = ""
    supervisor_approved_at: str = ""
    division_approved_by: str = ""
    division_approved_at: str = ""

    @property
    def approved(self) -> bool:
        return bool(self.supervisor_approved_at and self.division_approved_at)

    def as_json(self) -> Json:
        return {
            "supervisor_id": self.supervisor_id,
            "created_at": self.created_at,
            "approved": self.approved,
            "supervisor_approved_by": self.supervisor_approved_by or None,
            "supervisor_approved_at": self.supervisor_approved_at or None,
            "division_approved_by": self.division_approved_by or None,
            "division_approved_at": self.division_approved_at or None,
        }


@dataclass(slots=True, frozen=True)
class EndUser:
    """A registered PMP user. Identifiers absent are ``""``; ``expires`` None = no expiry recorded."""

    id: str
    role: UserRole
    first_name: str
    last_name: str
    npi: str
    dea: str
    state_license: str
    license_state: str
    status: UserStatus
    created_at: str
    expires: date | None = None
    eds_ids: frozenset[str] = frozenset()
    supervisions: tuple[Supervision, ...] = ()

    def expired(self, today: date) -> bool:
        return self.expires is not None and self.expires < today

    def usable(self, today: date) -> bool:
        """Active and not expired (a delegate also needs an approved supervision: see ``resolve``)."""
        return self.status is UserStatus.ACTIVE and not self.expired(today)

    def as_practitioner(self) -> pb.Practitioner:
        return pb.Practitioner(
            name=pb.HumanName(family=self.last_name, given=self.first_name),
            npi=self.npi,
            dea=self.dea,
            state_license=self.state_license,
            license_state=self.license_state,
        )

    def as_json(self) -> Json:
        return {
            "id": self.id,
            "role": self.role.value,
            "first_name": self.first_name,
            "last_name": self.last_name,
            "npi": self.npi or None,
            "dea": self.dea or None,
            "state_license": self.state_license or None,
            "license_state": self.license_state or None,
            "status": self.status.value,
            "expires": self.expires.isoformat() if self.expires else None,
            "created_at": self.created_at,
            "eds_ids": sorted(self.eds_ids),
            "supervisions": [s.as_json() for s in self.supervisions],
        }


@dataclass(slots=True, frozen=True)
class NewUser:
    """What registering a user takes (validated by ``RegistryStore.add_user``)."""

    role: UserRole
    first_name: str
    last_name: str
    eds_ids: tuple[str, ...]
    npi: str = ""
    dea: str = ""
    state_license: str = ""
    license_state: str = ""
    supervisor_ids: tuple[str, ...] = ()
    expires: date | None = None
    status: UserStatus = UserStatus.ACTIVE
