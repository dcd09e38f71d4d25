"""Stateless paging cursors for FHIR search: the next page's whole query, encrypted and authenticated.

The cursor travels in a URL, so it must not reveal the demographics inside it (PHI) nor let a client alter the
query: Fernet (AES-CBC + HMAC-SHA256, from ``cryptography``) gives both, with an expiry. Every worker reads the
same key file, created once under ``PMP_DATA_DIR/keys``.
"""

from __future__ import annotations

import os
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
