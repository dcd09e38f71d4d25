"""The SCRIPT envelope: which version a message speaks, its ``Header`` in, and the reply's envelope out.

**Version detection** reads the root's attributes only (standards.md §2.1): 10.6 is ``version="010"
release="006"`` [V]; 2017071 is ``TransactionVersion`` or ``StructuresVersion`` ``20170715`` [M], or — leniently,
because generators in the wild write it — ``version="2017071"`` (or ``20170715``). Anything else is UNSUPPORTED.
The body's shape is not used to guess: a 10.6-labelled message in 2017071 shape fails its schema instead.

``read_header`` is best-effort and never raises: an ``Error`` reply needs the sender's ``From``, ``To`` and
``MessageID`` even when the rest of the message is bad. A message whose version cannot be told is answered in
10.6, the version whose schema is public, so any receiver can check what it got.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from adapters.ncpdp._lxml import Element
from adapters.ncpdp._read import Node
from adapters.ncpdp._write import DECLARATION, MESSAGE_START, element, escape, fit
from adapters.ncpdp.codes import (
    MESSAGE,
    QUALIFIERS_10_6,
    V10_6,
    V2017071,
    VERSION_STAMP_2017071,
    Q,
    Version,
)
from protos.errors import PmpError
from protos.pmp.v1 import pmp_pb2 as pb

MAX_MESSAGE_ID: Final = 35  # [V] an..35
UNKNOWN_PARTY: Final = "UNKNOWN"
DEFAULT_RESPONDER: Final = "PMP"
_BEST_EFFORT_MAX: Final = 256
# [V] 10.6 MailAddressType; 2017071 (project schema): 1-70 characters, no control characters.
_MAILBOX_10_6: Final = re.compile(r"(mailto:)?[^.]{1,35}(\.[^@]{1,3})?(@[A-Za-z0-9]+\.[A-Za-z]{2,4})?")
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f]")
_QUALIFIER_2017071: Final = re.compile(r"[A-Z0-9]{1,3}")
_ID_10_6: Final = re.compile(r"[ !-~]*[!-~][ !-~]*")
_ROOT_ATTRIBUTES: Final = {
    V10_6: ' version="010" release="006"',
    V2017071: (
        f' DatatypesVersion="{VERSION_STAMP_2017071}" TransportVersion="{VERSION_STAMP_2017071}"'
        f' TransactionDomain="SCRIPT" TransactionVersion="{VERSION_STAMP_2017071}"'
        f' StructuresVersion="{VERSION_STAMP_2017071}" ECLVersion="{VERSION_STAMP_2017071}"'
    ),
}


@dataclass(frozen=True, slots=True)
class MessageHeader:
    """The envelope of a message: ``to``/``from_`` are (value, qualifier); ``qualifier`` may be ""."""

    to: tuple[str, str]
    from_: tuple[str, str]
    message_id: str
    sent_time: str
    version: Version


def message_version(root: Element) -> Version | None:
    """10.6, 2017071 or None, from the root's attributes."""
    if root.get("version") == "010" and root.get("release") == "006":
        return V10_6
    stamps = (root.get("TransactionVersion"), root.get("StructuresVersion"))
    if VERSION_STAMP_2017071 in stamps or root.get("version") in (V2017071, VERSION_STAMP_2017071):
        return V2017071
    return None


def require_version(root: Element) -> Version:
    version = message_version(root)
    if version is None:
        raise PmpError(
            pb.ERROR_CODE_UNSUPPORTED,
            "SCRIPT version not supported: send 10.6 or 2017071",
            location=("/Message",),
        )
    return version


def read_header(root: Element) -> MessageHeader | None:
    """The header as far as it can be read, for answering even a bad message; None when ``root`` is not a SCRIPT
    ``Message``. Missing parts are ""; values are not checked here (``message`` checks what it echoes)."""
    if root.tag != MESSAGE:
        return None
    header = root.find(Q + "Header")

    def value(name: str) -> tuple[str, str]:
        element = header.find(Q + name) if header is not None else None
        if element is None:
            return "", ""
        content = (element.text or "").strip()[:_BEST_EFFORT_MAX]
        return content, (element.get("Qualifier") or "").strip()[:_BEST_EFFORT_MAX]

    return MessageHeader(
        to=value("To"),
        from_=value("From"),
        message_id=value("MessageID")[0],
        sent_time=value("SentTime")[0],
        version=message_version(root) or V10_6,
    )


def decode_header(message: Node, version: Version) -> MessageHeader:
    """The header of a message being decoded: To, From, MessageID and SentTime are required."""
    header = message.need("Header")

    def party(name: str) -> tuple[str, str]:
        node = header.need(name)
        value = node.text(80)
        if not value:
            raise node.error("is required and must not be blank")
        return value, (node.element.get("Qualifier") or "").strip()

    to, from_ = party("To"), party("From")
    message_id = header.text_of("MessageID", MAX_MESSAGE_ID, required=True)
    sent_time = header.text_of("SentTime", 64, required=True)
    return MessageHeader(to=to, from_=from_, message_id=message_id, sent_time=sent_time, version=version)


def _party_ok(value: str, qualifier: str, version: Version) -> tuple[bool, bool]:
    if version == V10_6:
        return bool(_MAILBOX_10_6.fullmatch(value)), qualifier in QUALIFIERS_10_6
    return (
        0 < len(value) <= 70 and not value.isspace() and _CONTROL.search(value) is None,
        bool(_QUALIFIER_2017071.fullmatch(qualifier)),
    )


def _safe_party(party: tuple[str, str], fallback: str, version: Version) -> tuple[str, str]:
    value, qualifier = party
    value_ok, qualifier_ok = _party_ok(value, qualifier, version)
    if not value_ok:
        return fallback, ""
    return value, qualifier if qualifier_ok else ""


def relates_to(header: MessageHeader | None) -> str:
    """The request's MessageID when it can be echoed as RelatesToMessageID, else ""."""
    if header is None:
        return ""
    message_id = header.message_id
    if not 0 < len(message_id) <= MAX_MESSAGE_ID:
        return ""
    if header.version == V10_6 and not _ID_10_6.fullmatch(message_id):
        return ""
    if _CONTROL.search(message_id) or message_id.isspace():
        return ""
    return message_id


def sent_time(now: datetime) -> str:
    """``SentTime``: UTC with milliseconds and ``Z``; a naive ``now`` is taken as UTC."""
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    now = now.astimezone(UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


def message(
    version: Version,
    body: str,
    *,
    request: MessageHeader | None,
    message_id: str,
    now: datetime,
    responder: str = DEFAULT_RESPONDER,
) -> bytes:
    """A whole reply: declaration, ``Message`` in the SCRIPT namespace with ``version``'s attributes, the
    ``Header``, and ``body`` (the already written content of ``Body``).

    ``To``/``From`` are the request's ``From``/``To`` swapped, with their qualifiers; a party that cannot be echoed
    validly (a bad or missing header) becomes ``UNKNOWN`` (``To``) or ``responder`` (``From``). ``message_id`` is
    cut to the 35 characters of the schema.
    """
    empty = ("", "")
    responder = _safe_party((responder, ""), DEFAULT_RESPONDER, version)[0]
    to = _safe_party(request.from_ if request else empty, UNKNOWN_PARTY, version)
    from_ = _safe_party(request.to if request else empty, responder, version)
    relates = relates_to(request)
    parts = [DECLARATION, MESSAGE_START, _ROOT_ATTRIBUTES[version], "><Header>"]
    for name, (value, qualifier) in (("To", to), ("From", from_)):
        attribute = f' Qualifier="{escape(qualifier)}"' if qualifier else ""
        parts.append(f"<{name}{attribute}>{escape(value)}</{name}>")
    parts.append(element("MessageID", fit(message_id, MAX_MESSAGE_ID, ascii_only=True) or UNKNOWN_PARTY))
    if relates:
        parts.append(element("RelatesToMessageID", escape(relates)))
    parts += ("<SentTime>", sent_time(now), "</SentTime></Header><Body>", body, "</Body></Message>")
    return "".join(parts).encode("utf-8")
