"""``pmp-gateway partners``, run in-process: a partner and its hub's EDS registered in one command, the hub's client
registered with ``clients add``, changes as versions, every change in the audit trail, and bad input refused with
exit status 2 and nothing written."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from gateway.audit import AuditConfig
from gateway.auth.client_key import ClientKey
from gateway.settings import load_settings
from tests.gateway.cli_runner import Cli, in_process_cli
from tests.gateway.registry.keys import jwks


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Cli:
    return in_process_cli(tmp_path, monkeypatch, capsys, PMP_STATE_CODE="UT")


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "keys" / "ut-at-nv.json"
    path.parent.mkdir()
    path.write_text(json.dumps({"client_id": "ut-hub", "key": ClientKey.generate(kid="ut-1").private_jwk()}))
    return path


def _outbound(key_file: Path) -> tuple[str, ...]:
    return (
        "--endpoint",
        "https://nv.example.gov/interstate/pmix",
        "--protocol",
        "pmix",
        "--token-url",
        "https://nv.example.gov/oauth/token",
        "--client-id",
        "ut-hub",
        "--key-file",
        str(key_file),
    )


def _audit_operations(data_dir: Path) -> list[tuple[str, str, dict[str, Any]]]:
    async def read() -> list[tuple[str, str, dict[str, Any]]]:
        store = AuditConfig.from_settings(load_settings(data_dir=data_dir)).make_store()
        await store.open()
        try:
            found = await store.records()
        finally:
            await store.close()
        return [(r.record.operation, r.record.details["actor"], r.record.details) for r in found]

    return asyncio.run(read())


def test_add_a_partner_and_register_its_hub(cli: Any, tmp_path: Path, key_file: Path) -> None:
    code, added, err = cli(
        "partners",
        "add",
        "nv",
        "--name",
        "Nevada PMP",
        "--taxonomy",
        "207R00000X",
        "--taxonomy",
        "183500000x",
        "--require",
        "birth_date",
        "--require",
        "family",
        "--default-for",
        "prescriber",
        *_outbound(key_file),
        "--timeout",
        "1.5",
        "--agreement",
        "MOU-7",
        "--by",
        "alice",
        "--reason",
        "MOU signed",
        "--json",
    )
    assert code == 0, err
    assert (added["state"], added["status"], added["version"], added["updated_by"]) == ("NV", "active", 1, "alice")
    assert added["inbound"] == {
        "allowed_taxonomies": ["183500000X", "207R00000X"],
        "required_patient_fields": ["family", "birth_date"],
    }
    assert added["outbound"]["key_file"] == str(key_file) and added["outbound"]["timeout_seconds"] == 1.5
    assert added["default_for_roles"] == ["ROLE_PRESCRIBER"]
    code, eds, _ = cli("eds", "show", added["eds_id"], "--json")
    assert code == 0 and (eds["kind"], eds["state"], eds["agreement"]) == ("partner", "NV", "MOU-7")

    (tmp_path / "hub.jwks").write_text(json.dumps(jwks()))
    code, client, err = cli(
        "clients", "add", "--eds", added["eds_id"], "--jwks", str(tmp_path / "hub.jwks"), "--scope", "pmp/interstate"
    )
    assert code == 0 and client.strip().startswith("cli_"), err
    code, _, err = cli(
        "clients", "add", "--eds", added["eds_id"], "--jwks", str(tmp_path / "hub.jwks"), "--scope", "pmp/admin"
    )
    assert code == 2 and "pmp/interstate only" in err

    code, out, _ = cli("partners", "list")
    assert code == 0 and out.split("\t")[:3] == ["NV", "active", added["eds_id"]]
    [(operation, actor, detail)] = _audit_operations(tmp_path)
    assert (operation, actor, detail["reason"], detail["version"]) == ("partner-add", "cli:alice", "MOU signed", 1)
    assert detail["partner"]["state"] == "NV"


def test_plain_add_says_what_comes_next(cli: Any) -> None:
    code, out, err = cli("partners", "add", "AZ", "--name", "Arizona PMP")
    assert code == 0
    state, eds_id = out.split()
    assert state == "AZ" and eds_id.startswith("eds_")
    assert f"clients add --eds {eds_id}" in err and "none of that state's requesters" in err


def test_set_disable_enable_and_history(cli: Any, tmp_path: Path, key_file: Path) -> None:
    assert cli("partners", "add", "NV", "--name", "Nevada PMP", "--taxonomy", "207R00000X", "--by", "a")[0] == 0
    code, changed, err = cli(
        "partners", "set", "NV", *_outbound(key_file), "--require", "gender", "--by", "b", "--json"
    )
    assert code == 0, err
    assert changed["version"] == 2 and changed["outbound"]["endpoint"] == "https://nv.example.gov/interstate/pmix"
    assert changed["inbound"]["allowed_taxonomies"] == ["207R00000X"]  # untouched
    code, changed, _ = cli("partners", "set", "NV", "--timeout", "3", "--outbound-off", "--no-taxonomies", "--json")
    assert (changed["outbound"]["timeout_seconds"], changed["outbound"]["enabled"]) == (3.0, False)
    assert changed["outbound"]["client_id"] == "ut-hub" and changed["inbound"]["allowed_taxonomies"] == []
    code, changed, _ = cli("partners", "set", "NV", "--no-outbound", "--default-for", "pharmacist", "--json")
    assert changed["outbound"] is None and changed["default_for_roles"] == ["ROLE_PHARMACIST"]
    code, out, _ = cli("partners", "disable", "NV", "--by", "c", "--reason", "MOU lapsed")
    assert code == 0 and out.split() == ["NV", "disabled", "version", "5"]
    assert cli("partners", "enable", "NV")[0] == 0
    code, shown, _ = cli("partners", "show", "nv", "--history", "--json")
    assert code == 0 and shown["status"] == "active"
    assert [(v["version"], v["action"]) for v in shown["history"]] == [
        (1, "add"),
        (2, "set"),
        (3, "set"),
        (4, "set"),
        (5, "disable"),
        (6, "enable"),
    ]
    operations = _audit_operations(tmp_path)
    assert [o for o, _, _ in operations] == [
        "partner-add",
        "partner-set",
        "partner-set",
        "partner-set",
        "partner-disable",
        "partner-enable",
    ]
    assert operations[4][2]["reason"] == "MOU lapsed" and operations[4][1] == "cli:c"
    code, text, _ = cli("partners", "show", "NV")
    assert code == 0 and "status: active" in text and "version: 6" in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("add", "UT", "--name", "Us"), "own state"),
        (("add", "XX", "--name", "Nowhere"), "not a US state code"),
        (("add", "NV"), "--name is required"),
        (("add", "NV", "--name", "N", "--taxonomy", "207R"), "taxonomy"),
        (("add", "NV", "--name", "N", "--require", "ssn"), "required patient field"),
        (("add", "NV", "--name", "N", "--default-for", "wizard"), "default role"),
        (("add", "NV", "--name", "N", "--endpoint", "https://nv.example.gov/x"), "--protocol, --token-url"),
        (("set", "AZ", "--name", "Arizona"), "not a registered partner"),
        (("show", "AZ"), "not a registered partner"),
        (("disable", "AZ"), "not a registered partner"),
    ],
)
def test_bad_input_is_refused_and_writes_nothing(cli: Any, tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    code, out, err = cli("partners", *args, "--json")
    assert code == 2 and message in out["error"] and message in err
    assert cli("partners", "list", "--json")[1] == []
    assert not (tmp_path / "audit.sqlite3").exists() or _audit_operations(tmp_path) == []


def test_contradictions_and_bad_key_files(cli: Any, tmp_path: Path, key_file: Path) -> None:
    assert cli("partners", "add", "NV", "--name", "Nevada PMP")[0] == 0
    for args, message in (
        (("--taxonomy", "207R00000X", "--no-taxonomies"), "contradict"),
        (("--no-outbound", "--timeout", "2"), "--no-outbound takes no other"),
        (("--outbound-on",), "no outbound configuration"),
        (("--endpoint", "http://nv.example.gov/x", *_outbound(key_file)[2:]), "https"),
    ):
        code, _, err = cli("partners", "set", "NV", *args)
        assert code == 2 and message in err, (args, err)
    not_a_key = tmp_path / "keys" / "public.json"
    not_a_key.write_text(json.dumps(jwks()))
    for path in (not_a_key, tmp_path / "missing.json"):
        code, _, err = cli("partners", "set", "NV", *_outbound(key_file)[:-1], str(path))
        assert code == 2 and "--key-file" in err and str(path) not in err
    code, shown, _ = cli("partners", "show", "NV", "--history", "--json")
    assert shown["version"] == 1 and shown["outbound"] is None and len(shown["history"]) == 1
    assert [o for o, _, _ in _audit_operations(tmp_path)] == ["partner-add"]


def test_a_change_the_audit_trail_cannot_record_says_so(cli: Any, tmp_path: Path) -> None:
    (tmp_path / "audit.sqlite3").mkdir()  # the trail cannot be opened
    code, _, err = cli("partners", "add", "NV", "--name", "Nevada PMP")
    assert code == 1 and "the change is made but the audit trail could not record it" in err
    code, shown, _ = cli("partners", "show", "NV", "--json")
    assert code == 0 and shown["version"] == 1  # made, and its version kept in the partner's history
