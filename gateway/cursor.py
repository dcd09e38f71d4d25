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


class CursorCodec:
    def __init__(self, key: bytes, ttl_seconds: int) -> None:
        self._fernet = Fernet(key)
        self._ttl = ttl_seconds

    def seal(self, request: pb.SearchHistoryRequest) -> str:
        return self._fernet.encrypt(request.SerializeToString()).decode()

    def open(self, token: str) -> pb.SearchHistoryRequest:
        try:
            return pb.SearchHistoryRequest.FromString(self._fernet.decrypt(token, ttl=self._ttl))
        except (InvalidToken, ValueError):
            raise PmpError(
                pb.ERROR_CODE_INVALID_REQUEST, "the paging cursor is invalid or has expired", location=("_cursor",)
            ) from None


class PatientIds:
    """The FHIR ``Patient.id`` we hand out: the matched record's id, an expiry and an HMAC over both.

    A client can send it back as ``patient=<id>`` to search the same person again without the demographics, but
    cannot forge one for another record or use it after ``ttl_seconds``. It fits FHIR's id rule (≤ 64 characters
    of ``[A-Za-z0-9.-]``). The record id inside is itself a hash of normalised demographics, not a database key.
    """

    def __init__(self, key: bytes, ttl_seconds: int) -> None:
        self._key = hashlib.sha256(b"pmp-gateway patient id\0" + key).digest()
        self._ttl = ttl_seconds

    def _mac(self, body: str) -> str:
        return hmac.new(self._key, body.encode(), hashlib.sha256).hexdigest()[:24]

    def issue(self, record_id: str, now: float | None = None) -> str:
        if not record_id:
            return ""
        expires = int((now if now is not None else time.time()) + self._ttl)
        body = f"{int(record_id):x}-{expires:x}"
        return f"{body}-{self._mac(body)}"

    def open(self, token: str, now: float | None = None) -> str:
        """The record id, or INVALID_REQUEST for a forged, malformed or expired id."""
        body, _, mac = token.rpartition("-")
        record, _, expires = body.partition("-")
        try:
            valid = hmac.compare_digest(mac, self._mac(body)) and int(expires, 16) >= (now or time.time())
            record_id = str(int(record, 16))
        except ValueError:
            valid = False
        if not valid:
            raise PmpError(
                pb.ERROR_CODE_INVALID_REQUEST,
                "the patient id is not one this service issued, or it has expired",
                location=("patient",),
            )
        return record_id
