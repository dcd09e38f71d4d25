"""``pmp-gateway eds | clients | users`` as an operator runs them: the installed console script in a subprocess,
``--json`` read back, bad input refused with exit status 2 and one line, CSV import all or nothing."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from gateway.policy.registry import verify_secret
from gateway.policy.registry.resolve import resolve_end_user
from gateway.policy.registry.store.sqlite import SqliteRegistry
from protos.pmp.v1 import pmp_pb2 as pb
from tests.e2e.processes import ROOT, cli_env
from tests.gateway.registry.conftest import make_dea, make_npi
from tests.gateway.registry.keys import jwks, rsa_jwk

SCRIPT = Path(sys.executable).with_name("pmp-gateway")


def cli(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "pmpcli"]
    return subprocess.run(
        [*command, *args], env=cli_env(data_dir), capture_output=True, text=True, timeout=60, cwd=ROOT
    )


def ok_json(data_dir: Path, *args: str) -> Any:
    result = cli(data_dir, *args, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def refused(data_dir: Path, *args: str, status: int = 2) -> str:
    result = cli(data_dir, *args)
    assert result.returncode == status, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) <= 8, result.stderr  # argparse adds its usage lines
    return result.stderr


def test_register_an_eds_its_clients_and_users(tmp_path: Path) -> None:
    data = tmp_path / "data"
    eds = ok_json(data, "eds", "add", "--name", "Valley EHR", "--agreement", "DUA-7", "--state", "UT")
    assert eds["id"].startswith("eds_") and eds["status"] == "active"
    plain = cli(data, "eds", "add", "--name", "Hill HIE", "--pending")
    assert plain.returncode == 0 and plain.stdout.strip().startswith("eds_")
    listed = ok_json(data, "eds", "list")
    assert [(e["name"], e["status"]) for e in listed] == [("Valley EHR", "active"), ("Hill HIE", "pending")]

    keys = tmp_path / "jwks.json"
    keys.write_text(json.dumps(jwks()))
    scope = "system/MedicationDispense.rs pmp/ncpdp.history"
    by_keys = ok_json(data, "clients", "add", "--eds", eds["id"], "--jwks", str(keys), "--scope", scope)
    assert by_keys["auth_method"] == "private_key_jwt" and [k["kid"] for k in by_keys["jwks"]["keys"]] == [
        "rsa-1",
        "ec-1",
    ]
    by_url = ok_json(
        data, "clients", "add", "--eds", eds["id"], "--jwks-url", "http://127.0.0.1:9/jwks", "--scope", "pmp/interstate"
    )
    assert by_url["jwks_url"] == "http://127.0.0.1:9/jwks"

    secret_run = cli(data, "clients", "add", "--eds", eds["id"], "--secret", "--scope", "pmp/admin")
    assert secret_run.returncode == 0, secret_run.stderr
    client_id, secret = secret_run.stdout.split()
    shown = ok_json(data, "clients", "show", client_id)
    assert shown["auth_method"] == "client_secret_basic" and shown["has_secret"] is True
    assert secret not in json.dumps(shown)
    assert secret not in (data / "gateway.sqlite3").read_bytes().decode("latin-1")
    as_json = ok_json(data, "clients", "add", "--eds", eds["id"], "--secret", "--scope", "pmp/admin")
    assert len(as_json["client_secret"]) >= 43

    assert ok_json(data, "clients", "disable", client_id)["status"] == "disabled"
    assert {c["client_id"] for c in ok_json(data, "clients", "list", "--eds", eds["id"])} == {
        by_keys["client_id"],
        by_url["client_id"],
        client_id,
        as_json["client_id"],
    }

    npi, dea = make_npi(), make_dea("L")
    doctor = ok_json(
        data,
        *("users", "add", "--role", "prescriber", "--first", "Ann", "--last", "Lee", "--npi", npi, "--dea", dea),
        *("--license", "12345-1205", "--eds", eds["id"], "--expires", "2099-12-31"),
    )
    assert (doctor["npi"], doctor["dea"], doctor["license_state"], doctor["expires"]) == (
        npi,
        dea,
        "UT",
        "2099-12-31",
    )
    nurse = ok_json(
        data,
        *("users", "add", "--role", "licensed-delegate", "--first", "Kim", "--last", "Ray", "--npi", make_npi()),
        *("--eds", eds["id"], "--supervisor", npi),
    )
    assert nurse["supervisions"][0]["approved"] is False
    ok_json(data, "users", "approve", nurse["id"], "--by", "supervisor", "--actor", "dr.lee")
    approved = ok_json(data, "users", "approve", nurse["id"], "--by", "division", "--actor", "clerk")
    (supervision,) = approved["supervisions"]
    assert supervision["approved"] and supervision["supervisor_id"] == doctor["id"]
    assert (supervision["supervisor_approved_by"], supervision["division_approved_by"]) == ("dr.lee", "clerk")
    assert [u["id"] for u in ok_json(data, "users", "list", "--role", "licensed_delegate")] == [nurse["id"]]
    assert ok_json(data, "users", "show", nurse["id"]) == approved

    # What the CLI registered is what the identify stage finds, and the secret verifies.
    async def check() -> None:
        registry = SqliteRegistry(data / "gateway.sqlite3")
        await registry.open()
        try:
            requester = pb.Requester(practitioner=pb.Practitioner(npi=nurse["npi"]))
            resolved = await resolve_end_user(registry, eds_id=eds["id"], requester=requester, today=date.today())
            assert resolved.supervisor is not None and resolved.supervisor.id == doctor["id"]
            client = await registry.get_client(client_id)
            assert client is not None and verify_secret(secret, client.secret_hash)
        finally:
            await registry.close()

    asyncio.run(check())


def test_bad_input_is_refused_in_one_line(tmp_path: Path) -> None:
    data = tmp_path / "data"
    eds = ok_json(data, "eds", "add", "--name", "Valley EHR")["id"]
    bad_npi = "1234567890"
    err = refused(
        data, "users", "add", "--role", "prescriber", "--first", "A", "--last", "B", "--npi", bad_npi, "--eds", eds
    )
    assert "npi: not a valid NPI" in err and bad_npi not in err
    bad_dea = "AB1234564"
    err = refused(
        data, "users", "add", "--role", "prescriber", "--first", "A", "--last", "B", "--dea", bad_dea, "--eds", eds
    )
    assert "dea" in err and bad_dea not in err
    assert "no EDS" in refused(
        data,
        "users",
        "add",
        "--role",
        "pharmacist",
        "--first",
        "A",
        "--last",
        "B",
        "--npi",
        make_npi(),
        "--eds",
        "eds_nope",
    )
    assert "unknown role" in refused(
        data, "users", "add", "--role", "wizard", "--first", "A", "--last", "B", "--eds", eds
    )
    assert "no client" in refused(data, "clients", "show", "cli_nope")
    assert "no user" in refused(data, "users", "show", "usr_nope")
    assert "no EDS" in refused(data, "eds", "show", "eds_nope")
    add = ("clients", "add", "--eds", eds, "--scope", "pmp/interstate")
    private = tmp_path / "private.json"
    key = rsa_jwk()
    key["d"] = "AQAB"
    private.write_text(json.dumps({"keys": [key]}))
    assert "private key members" in refused(data, *add, "--jwks", str(private))
    assert "https" in refused(data, *add, "--jwks-url", "http://ehr.test/k")
    not_json = tmp_path / "k.json"
    not_json.write_text("{")
    assert "not JSON" in refused(data, *add, "--jwks", str(not_json))
    assert "one of the arguments" in refused(data, *add)
    unknown_scope = ("clients", "add", "--eds", eds, "--secret", "--scope", "x")
    assert "not a scope this gateway grants" in refused(data, *unknown_scope)
    result = cli(data, "clients", "show", "cli_nope", "--json")
    assert result.returncode == 2 and json.loads(result.stdout) == {"error": "no client with this id"}


def _write_csv(path: Path, rows: list[str]) -> Path:
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_csv_import_with_a_bad_row_imports_nothing(tmp_path: Path) -> None:
    data = tmp_path / "data"
    eds = ok_json(data, "eds", "add", "--name", "Valley EHR")["id"]
    doctor_npi, nurse_npi, bad_npi = make_npi(), make_npi(), "1234567890"
    header = "role,first_name,last_name,npi,dea,license,license_state,eds,supervisor,expires"
    good = [
        f"prescriber,Ann,Lee,{doctor_npi},,,,{eds},,2099-01-31",
        f"licensed_delegate,Kim,Ray,{nurse_npi},,,,{eds},{doctor_npi},",
        f"law-enforcement,Sam,Cole,,,B-123,UT,{eds},,",
    ]
    bad = [
        *good,
        f"prescriber,Bad,Npi,{bad_npi},,,,{eds},,",  # row 5
        f"wizard,Bad,Role,{make_npi()},,,,{eds},,",  # row 6
        f"pharmacist,Dup,Npi,{doctor_npi},,,,{eds},,",  # row 7
        f"pharmacist,Bad,Date,{make_npi()},,,,{eds},,31/01/2099",  # row 8
        f"pharmacist,No,Eds,{make_npi()},,,,eds_nope,,",  # row 9
    ]
    path = _write_csv(tmp_path / "users.csv", [header, *bad])
    result = cli(data, "users", "import", str(path), "--json")
    assert result.returncode == 2, result.stderr
    report = json.loads(result.stdout)
    assert report["status"] == "rejected" and report["imported"] == 0 and report["users"] == []
    reasons = {r["row"]: r["reason"] for r in report["rejected"]}
    assert sorted(reasons) == [5, 6, 7, 8, 9]
    assert reasons[5].startswith("npi: not a valid NPI")
    assert reasons[6].startswith("role:")
    assert reasons[7] == "npi: already registered to another user"
    assert reasons[8].startswith("expires:")
    assert reasons[9].startswith("eds:")
    assert bad_npi not in result.stdout and doctor_npi not in result.stdout and "wizard" not in result.stdout
    assert ok_json(data, "users", "list") == []

    human = cli(data, "users", "import", str(path))
    assert human.returncode == 2 and "row 5: npi" in human.stderr and bad_npi not in human.stderr

    path = _write_csv(tmp_path / "users.csv", [header, *good])
    report = ok_json(data, "users", "import", str(path))
    assert report["status"] == "imported" and report["imported"] == 3
    users = {u["role"]: u for u in ok_json(data, "users", "list")}
    assert users["licensed_delegate"]["supervisions"][0]["supervisor_id"] == users["prescriber"]["id"]
    assert users["law_enforcement"]["state_license"] == "B-123"


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("", "no header"),
        ("role,first_name,last_name\n", "header must name"),
        ("role,first_name,last_name,eds,colour\n", "header must name"),
        (b"role,first_name,last_name,eds\n\xff\xfe,A,B,C\n", "not UTF-8"),
    ],
)
def test_csv_that_cannot_be_read(tmp_path: Path, content: str | bytes, reason: str) -> None:
    path = tmp_path / "users.csv"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    assert reason in refused(tmp_path / "data", "users", "import", str(path))
    assert "cannot read" in refused(tmp_path / "data", "users", "import", str(tmp_path / "missing.csv"))


def test_an_unreachable_registry_exits_1(tmp_path: Path) -> None:
    blocker = tmp_path / "data"
    blocker.write_text("a file where the data directory should be")
    assert "cannot open" in refused(blocker, "eds", "list", status=1)
