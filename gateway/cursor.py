"""Stateless paging cursors for FHIR search: the next page's whole query, encrypted and authenticated.

The cursor travels in a URL, so it must not reveal the demographics inside it (PHI) nor let a client alter the
query: Fernet (AES-CBC + HMAC-SHA256, from ``cryptography``) gives both, with an expiry. Every worker reads the
same key file, created once under ``PMP_DATA_DIR/keys``.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import time
from collections.abc import Callable
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from protos.errors import PmpError
from protos.pmp.v1 import pmp_pb2 as pb

KEY_FILE = "cursor.key"


def load_or_create_key(data_dir: Path) -> bytes:
    """The cursor key, generated on first start (file mode 0600)."""
    path = data_dir / "keys" / KEY_FILE
    if path.exists():
        return path.read_bytes().strip()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = Fernet.generate_key()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key)
    return key


_NOT_YOURS = "the paging cursor or patient id was issued to another EDS"


class CursorCodec:
    """Paging cursors: the query and page position, encrypted and authenticated (Fernet), expiring, and issued to
    one EDS — ``open`` returns a check that the pipeline runs once the caller's EDS is known (``RequestContext.
    issued_to``), so another EDS cannot replay a cursor it picked up."""

    def __init__(self, key: bytes, ttl_seconds: int) -> None:
        self._fernet = Fernet(key)
        self._ttl = ttl_seconds

    def seal(self, request: pb.SearchHistoryRequest, *, eds_id: str) -> str:
        return self._fernet.encrypt(eds_id.encode() + b"\n" + request.SerializeToString()).decode()

    def open(self, token: str) -> tuple[pb.SearchHistoryRequest, IssuedTo]:
        try:
            eds, _, body = self._fernet.decrypt(token, ttl=self._ttl).partition(b"\n")
            return pb.SearchHistoryRequest.FromString(body), _same_eds(eds.decode())
        except (InvalidToken, ValueError):
            raise PmpError(
                pb.ERROR_CODE_INVALID_REQUEST, "the paging cursor is invalid or has expired", location=("_cursor",)
            ) from None


IssuedTo = Callable[[str], None]
"""Given the caller's EDS id, raises ``PmpError`` unless the cursor or patient id was issued to that EDS."""


def _same_eds(issued: str) -> IssuedTo:
    def check(caller: str) -> None:
        if not hmac.compare_digest(issued, caller):
            raise PmpError(pb.ERROR_CODE_INVALID_REQUEST, _NOT_YOURS)

    return check


class PatientIds:
    """The FHIR ``Patient.id`` we hand out: the matched record's id, an expiry and an HMAC over both.

    A client can send it back as ``patient=<id>`` to search the same person again without the demographics, but
    cannot forge one for another record or use it after ``ttl_seconds``. It fits FHIR's id rule (≤ 64 characters
    of ``[A-Za-z0-9.-]``). The record id inside is itself a hash of normalised demographics, not a database key.
    """

    def __init__(self, key: bytes, ttl_seconds: int) -> None:
        self._key = hashlib.sha256(b"pmp-gateway patient id\0" + key).digest()
        self._ttl = ttl_seconds

    def _mac(self, body: str, eds_id: str) -> str:
        return hmac.new(self._key, f"{body}|{eds_id}".encode(), hashlib.sha256).hexdigest()[:24]

    def issue(self, record_id: str, *, eds_id: str, now: float | None = None) -> str:
        if not record_id:
            return ""
        expires = int((now if now is not None else time.time()) + self._ttl)
        body = f"{int(record_id):x}-{expires:x}"
        return f"{body}-{self._mac(body, eds_id)}"

    def open(self, token: str, now: float | None = None) -> tuple[str, IssuedTo]:
        """The record id and the check of the EDS it was issued to (the MAC covers the EDS id, which only the
        authenticated caller supplies); INVALID_REQUEST for a malformed or expired id."""
        body, _, mac = token.rpartition("-")
        record, _, expires = body.partition("-")
        try:
            valid = len(mac) == 24 and int(expires, 16) >= (now or time.time())
            record_id = str(int(record, 16))
        except ValueError:
            valid = False
        if not valid:
            raise PmpError(
                pb.ERROR_CODE_INVALID_REQUEST,
                "the patient id is not one this service issued, or it has expired",
                location=("patient",),
            )

        def check(caller: str) -> None:
            if not hmac.compare_digest(mac, self._mac(body, caller)):
                raise PmpError(
                    pb.ERROR_CODE_INVALID_REQUEST,
                    "the patient id is not one this service issued to this EDS",
                    location=("patient",),
                )

        return record_id, check
