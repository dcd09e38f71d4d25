"""The gateway's signing keys on disk: first-start generation, file modes, public-only JWKS, rotation by kid."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from gateway.auth.keys import KEY_DIR, KeyRing, KeyRingError

PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi"}


def test_first_start_generates_one_rs256_key(tmp_path: Path) -> None:
    ring = KeyRing.load_or_create(tmp_path)
    directory = tmp_path / KEY_DIR
    files = list(directory.glob("*.json"))
    assert [f.name for f in files] == [f"{ring.signing_key.kid}.json"]
    assert stat.S_IMODE(os.stat(files[0]).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(directory).st_mode) == 0o700
    assert ring.signing_key.alg == "RS256"
    assert ring.signing_key.key.is_private
    # the next start reads the same key
    assert KeyRing.load_or_create(tmp_path).signing_key.kid == ring.signing_key.kid


def test_jwks_publishes_public_keys_only(tmp_path: Path) -> None:
    ring = KeyRing.load_or_create(tmp_path)
    ring.rotate("ES256")
    published = ring.jwks()["keys"]
    assert len(published) == 2
    for jwk in published:
        assert not PRIVATE_MEMBERS & set(jwk)
        assert jwk["use"] == "sig"
        assert jwk["kid"]
    assert {j["alg"] for j in published} == {"RS256", "ES256"}
    assert json.dumps(ring.jwks())  # serialisable as is


def test_rotation_newest_signs_all_verify_until_retired(tmp_path: Path) -> None:
    ring = KeyRing.load_or_create(tmp_path)
    first = ring.signing_key.kid
    second = ring.rotate().kid
    assert ring.signing_key.kid == second
    assert ring.kids() == [first, second]
    assert ring.find(first) is not None
    with pytest.raises(KeyRingError):
        ring.retire(second)  # the signing key
    ring.retire(first)
    assert ring.kids() == [second]
    assert not (tmp_path / KEY_DIR / f"{first}.json").exists()


def test_a_corrupt_key_file_fails_loudly(tmp_path: Path) -> None:
    KeyRing.load_or_create(tmp_path)
    (tmp_path / KEY_DIR / "junk.json").write_text("{not json")
    with pytest.raises(KeyRingError):
        KeyRing.load_or_create(tmp_path)


def test_a_public_key_file_is_refused(tmp_path: Path) -> None:
    ring = KeyRing.load_or_create(tmp_path)
    kid = ring.signing_key.kid
    path = tmp_path / KEY_DIR / f"{kid}.json"
    record = json.loads(path.read_text())
    record["jwk"] = ring.signing_key.public_jwk()
    path.write_text(json.dumps(record))
    with pytest.raises(KeyRingError, match="private"):
        KeyRing.load_or_create(tmp_path)
