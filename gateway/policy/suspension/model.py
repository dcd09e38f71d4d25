"""A suspension: the division withdraws an EDS's, an OAuth client's, an end user's or a partner state's access at
once (Utah R156-37f-303(3)), says why and who did it, optionally until when; and may reinstate it.

A record is immutable except for one change: its reinstatement (who, when, why). History is the set of records,
reinstated or not. Timestamps are ISO-8601 UTC text with microseconds (``2026-05-01T12:00:00.000000Z``, as the
registry writes them), so they sort as text. ``until`` empty = until reinstated; once ``until`` has passed the
suspension stops applying by itself (no write).
"""

from __future__ import annotations

import enum
import re
import secrets
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeAlias

from gateway.policy.registry.identifiers import is_valid_state, normalize_state
from gateway.policy.suspension.errors import SuspensionInputError

Json: TypeAlias = dict[str, Any]

TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
MAX_TARGET = 200
MAX_REASON = 1000
MAX_BY = 200


class SuspensionKind(enum.StrEnum):
    EDS = "eds"
    CLIENT = "client"
    USER = "user"
    STATE = "state"

    @property
    def noun(self) -> str:
        """What the refusal says is suspended (never the id)."""
        return _NOUNS[self]

    @classmethod
    def parse(cls, text: object) -> SuspensionKind:
        try:
            return cls(str(text).strip().lower())
        except ValueError:
            raise SuspensionInputError("kind: one of eds, client, user, state") from None


_NOUNS = {
    SuspensionKind.EDS: "EDS",
    SuspensionKind.CLIENT: "OAuth client",
    SuspensionKind.USER: "end user",
    SuspensionKind.STATE: "partner state",
}


def utc_text(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(TIME_FORMAT)


def parse_utc_text(text: str) -> datetime:
    return datetime.strptime(text, TIME_FORMAT).replace(tzinfo=UTC)


def _epoch(text: str) -> float:
    return parse_utc_text(text).timestamp() if text else float("inf")


@dataclass(slots=True, frozen=True)
class Suspension:
    """One suspension record. ``by`` / ``reinstated_by``: the admin client id (admin API) or the operator (CLI)."""

    id: str
    kind: SuspensionKind
    target: str
    reason: str
    by: str
    at: str
    until: str = ""
    reinstated_at: str = ""
    reinstated_by: str = ""
    reinstate_reason: str = ""
    until_epoch: float = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "until_epoch", _epoch(self.until))

    @property
    def reinstated(self) -> bool:
        return bool(self.reinstated_at)

    def in_force(self, now: float) -> bool:
        """Applies at ``now`` (epoch seconds): not reinstated and its end time, if any, not reached."""
        return not self.reinstated_at and now < self.until_epoch

    def status(self, now: float) -> str:
        if self.reinstated_at:
            return "reinstated"
        return "active" if now < self.until_epoch else "expired"

    def reinstate(self, *, by: object, reason: object, at: datetime) -> Suspension:
        return replace(
            self,
            reinstated_at=utc_text(at),
            reinstated_by=_text(by, "by", MAX_BY),
            reinstate_reason=_text(reason, "reason", MAX_REASON),
        )

    def as_json(self, now: float | None = None) -> Json:
        """What the admin API and the CLI show (and what Redis stores: ``now`` None leaves ``status`` out)."""
        body: Json = {
            "id": self.id,
            "kind": self.kind.value,
            "target": self.target,
            "reason": self.reason,
            "by": self.by,
            "at": self.at,
            "until": self.until or None,
            "reinstated_at": self.reinstated_at or None,
            "reinstated_by": self.reinstated_by or None,
            "reinstate_reason": self.reinstate_reason or None,
        }
        if now is not None:
            body["status"] = self.status(now)
        return body

    @classmethod
    def from_json(cls, body: Json) -> Suspension:
        return cls(
            id=str(body["id"]),
            kind=SuspensionKind(body["kind"]),
            target=str(body["target"]),
            reason=str(body["reason"]),
            by=str(body["by"]),
            at=str(body["at"]),
            until=body.get("until") or "",
            reinstated_at=body.get("reinstated_at") or "",
            reinstated_by=body.get("reinstated_by") or "",
            reinstate_reason=body.get("reinstate_reason") or "",
        )


def _text(value: object, name: str, limit: int) -> str:
    if not isinstance(value, str):
        raise SuspensionInputError(f"{name}: text required")
    value = value.strip()
    if not value:
        raise SuspensionInputError(f"{name}: required")
    if len(value) > limit or not value.isprintable():
        raise SuspensionInputError(f"{name}: at most {limit} printable characters")
    return value


def normalize_target(kind: SuspensionKind, target: object) -> str:
    """The id a suspension of ``kind`` names: a registry id (EDS, client, user) or a USPS state code."""
    if kind is SuspensionKind.STATE:
        code = normalize_state(target) if isinstance(target, str) else ""
        if not is_valid_state(code):
            raise SuspensionInputError("target: a state is named by its USPS code")
        return code
    value = _text(target, "target", MAX_TARGET)
    if any(c.isspace() for c in value):
        raise SuspensionInputError("target: an id has no spaces")
    return value


def new_suspension(
    kind: SuspensionKind, target: object, *, reason: object, by: object, now: datetime, until: datetime | None = None
) -> Suspension:
    """A new record, validated (an end time must be in the future)."""
    if until is not None and until <= now:
        raise SuspensionInputError("until: must be in the future")
    return Suspension(
        id=f"sus_{secrets.token_hex(8)}",
        kind=kind,
        target=normalize_target(kind, target),
        reason=_text(reason, "reason", MAX_REASON),
        by=_text(by, "by", MAX_BY),
        at=utc_text(now),
        until=utc_text(until) if until is not None else "",
    )


_RELATIVE = re.compile(r"^\+?(\d{1,6})\s*([smhdw])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_until(text: str, now: datetime) -> datetime:
    """An end time: ISO-8601 (``2026-06-01T17:00:00Z``, an offset, or naive = UTC), a date (its midnight UTC), or a
    duration from ``now`` (``90s``, ``30m``, ``12h``, ``7d``, ``2w``)."""
    text = text.strip()
    relative = _RELATIVE.match(text.lower())
    if relative:
        return now + timedelta(seconds=int(relative.group(1)) * _UNITS[relative.group(2)])
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise SuspensionInputError("until: an ISO-8601 time, a date, or a duration such as 12h or 7d") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
