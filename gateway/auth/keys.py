"""The gateway's own token-signing keys: kept under ``<data_dir>/keys/oauth/``, generated on first start, rotated
by ``kid``.

One file per key, ``<kid>.json`` (mode 0600, directory 0700) holding ``{"created": <epoch s>, "jwk": <private JWK>}``;
the ``kid`` is the key's RFC 7638 thumbprint. The newest key signs; every key on disk verifies until its file is
removed (``retire``), so a token signed before a rotation stays valid for its (≤ 5 min) life. ``jwks()`` publishes the
public halves only. Every worker process reads the same directory (creation is serialised by a lock file); a worker
that meets an unknown ``kid`` re-reads the directory (rate-limited by the verifier), so a key added by another worker or
by an operator is picked up without a restart. Replicas on different machines must share the directory.

Algorithm: **RS256** (RSA 2048) by default, ES256 on request. Both are in joserfc's recommended set and any resource
library verifies them; what decides is the hot path's cache-miss cost — RS256 verifies in ~47 µs against ~93 µs for
ES256 (``shared/reference/perf-budget.md`` §5). Signing is slower with RSA (~1 ms) but happens once per token (one per
client per five minutes). The algorithm is recorded per key, so moving to ES256 later is just a rotation.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from joserfc.errors import JoseError
from joserfc.jwk import ECKey, KeyParameters, KeySet, RSAKey, import_key

log = logging.getLogger("pmp.auth")

SigningAlgorithm = Literal["RS256", "ES256"]
SIGNING_ALGORITHMS: tuple[SigningAlgorithm, ...] = ("RS256", "ES256")
DEFAULT_ALGORITHM: SigningAlgorithm = "RS256"
KEY_DIR = Path("keys") / "oauth"
_RSA_BITS = 2048


class KeyRingError(ValueError):
    """A key file is unreadable or not a private signing key of an allowed algorithm; or a rotation misuse."""


@dataclass(frozen=True, slots=True)
class SigningKey:
    kid: str
    alg: SigningAlgorithm
    created: int
    key: RSAKey | ECKey  # the private key

    def public_jwk(self) -> dict[str, Any]:
        jwk: dict[str, Any] = dict(self.key.as_dict(private=False))
        jwk.update(kid=self.kid, alg=self.alg, use="sig")
        return jwk


def _generate(alg: SigningAlgorithm) -> RSAKey | ECKey:
    parameters: KeyParameters = {"alg": alg, "use": "sig"}
    key: RSAKey | ECKey
    if alg == "RS256":
        key = RSAKey.generate_key(_RSA_BITS, parameters=parameters)
    else:
        key = ECKey.generate_key("P-256", parameters=parameters)
    key.ensure_kid()
    return key


def _load_file(path: Path) -> SigningKey:
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        key = import_key(record["jwk"])
        created = int(record["created"])
    except (OSError, ValueError, KeyError, TypeError, JoseError) as exc:
        raise KeyRingError(f"unreadable signing key file {path.name}") from exc
    alg: SigningAlgorithm | None = "RS256" if key.alg == "RS256" else "ES256" if key.alg == "ES256" else None
    if not isinstance(key, RSAKey | ECKey) or not key.is_private or alg is None:
        raise KeyRingError(f"{path.name} is not a private RS256/ES256 signing key")
    kid = key.kid or key.thumbprint()
    if path.name != f"{kid}.json":
        raise KeyRingError(f"{path.name} does not hold the key its name says")
    return SigningKey(kid, alg, created, key)


def _write_private(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


class KeyRing:
    """The signing keys of one directory. ``signing_key`` is the newest; ``key_set`` verifies with all of them."""

    def __init__(self, directory: Path, keys: Sequence[SigningKey]) -> None:
        if not keys:
            raise KeyRingError("a key ring needs at least one key")
        self.directory = directory
        self._set(keys)

    def _set(self, keys: Sequence[SigningKey]) -> None:
        ordered = sorted(keys, key=lambda k: (k.created, k.kid))
        self._keys = {k.kid: k for k in ordered}
        self._signing = ordered[-1]
        self._key_set = KeySet([import_key(k.public_jwk()) for k in ordered])
        self._algorithms = frozenset(k.alg for k in ordered)

    # -- reading ------------------------------------------------------------------------------------------------

    @classmethod
    def load_or_create(cls, data_dir: Path, *, alg: SigningAlgorithm = DEFAULT_ALGORITHM) -> KeyRing:
        """The key ring under ``data_dir/keys/oauth``, with a first key of ``alg`` generated if there is none."""
        directory = data_dir / KEY_DIR
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        with _locked(directory):
            keys = _read_dir(directory)
            if not keys:
                keys = [_create(directory, alg)]
        return cls(directory, keys)

    def reload(self) -> None:
        """Re-read the directory (keys added or retired by another process)."""
        with _locked(self.directory):
            keys = _read_dir(self.directory)
        if keys:
            self._set(keys)

    @property
    def signing_key(self) -> SigningKey:
        return self._signing

    @property
    def key_set(self) -> KeySet:
        """Public keys of every key on the ring (for joserfc's ``kid`` lookup)."""
        return self._key_set

    @property
    def algorithms(self) -> frozenset[str]:
        return self._algorithms

    def find(self, kid: str) -> SigningKey | None:
        return self._keys.get(kid)

    def kids(self) -> list[str]:
        """Oldest first."""
        return list(self._keys)

    def jwks(self) -> dict[str, Any]:
        """The JWK Set to publish: public halves only."""
        return {"keys": [k.public_jwk() for k in self._keys.values()]}

    # -- rotation -----------------------------------------------------------------------------------------------

    def rotate(self, alg: SigningAlgorithm | None = None) -> SigningKey:
        """Add a new key (it signs from now on; the older ones keep verifying until retired)."""
        with _locked(self.directory):
            new = _create(self.directory, alg or self._signing.alg, after=self._signing.created)
            keys = _read_dir(self.directory)
        self._set(keys)
        return new

    def retire(self, kid: str) -> None:
        """Remove an old key: tokens it signed stop verifying. The newest (signing) key cannot be retired."""
        if kid == self._signing.kid:
            raise KeyRingError("the signing key cannot be retired; rotate first")
        if kid not in self._keys:
            raise KeyRingError("no such key")
        with _locked(self.directory):
            (self.directory / f"{kid}.json").unlink(missing_ok=True)
            keys = _read_dir(self.directory)
        self._set(keys)


@contextmanager
def _locked(directory: Path) -> Iterator[None]:
    fd = os.open(directory / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _read_dir(directory: Path) -> list[SigningKey]:
    return [_load_file(p) for p in sorted(directory.glob("*.json"))]


def _create(directory: Path, alg: SigningAlgorithm, after: int = 0) -> SigningKey:
    if alg not in SIGNING_ALGORITHMS:
        raise KeyRingError(f"unsupported signing algorithm {alg!r}")
    key = _generate(alg)
    created = max(int(time.time()), after + 1)  # strictly newer than the key it replaces
    kid = str(key.kid)
    record = {"created": created, "jwk": key.as_dict(private=True)}
    _write_private(directory / f"{kid}.json", json.dumps(record).encode("utf-8"))
    log.info("generated signing key", extra={"kid": kid, "alg": alg})
    return SigningKey(kid, alg, created, key)
