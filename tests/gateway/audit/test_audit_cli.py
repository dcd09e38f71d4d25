"""``pmp-gateway audit …`` in-process against a real SQLite trail: verify (and its exit status when tampered),
usage, accounting with holds, purge with retention; 2 for bad input, 1 when the database is down, no traceback."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import socket
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from gateway.audit import AuditRecord, verify
from gateway.audit.store.sqlite import SqliteAuditStore
from pmpcli.main import main
from tests.gateway.audit.conftest import make_record, raw_execute


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    import os

    for name in [n for n in os.environ if n.startswith("PMP_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("PMP_DATA_DIR", str(tmp_path))
    return tmp_path


def write(data_dir: Path, records: Sequence[AuditRecord]) -> None:
    async def go() -> None:
        store = SqliteAuditStore(data_dir / "audit.sqlite3")
        await store.open()
        try:
            await store.append(records)
        finally:
            await store.close()

    asyncio.run(go())


def tamper(data_dir: Path, statement: str) -> None:
    async def go() -> None:
        store = SqliteAuditStore(data_dir / "audit.sqlite3")
        await raw_execute(store, statement)

    asyncio.run(go())


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["audit", *args])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def recent(days_ago: int) -> str:
    return (datetime.now(UTC) - timedelta(days=days_ago)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def test_verify_an_empty_and_a_tampered_trail(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(capsys, "verify")[0] == 0
    write(data_dir, [make_record(i) for i in range(5)])
    code, out, _ = cli(capsys, "verify")
    assert code == 0 and "5 checked" in out
    tamper(data_dir, "UPDATE audit_record SET user_id = 'usr_x' WHERE seq = 3")
    code, _, err = cli(capsys, "verify")
    assert code == 3 and "record 3" in err and "changed" in err
    code, out, _ = cli(capsys, "verify", "--json")
    assert code == 3
    assert json.loads(out)["bad_seq"] == 3 and json.loads(out)["problem"] == "changed"


def test_usage_as_json_and_csv(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(
        data_dir,
        [
            make_record(1, time="2026-03-01T10:00:00.000000Z"),
            make_record(2, time="2026-03-01T11:00:00.000000Z", outcome="denied", user_id=""),
            make_record(3, time="2026-03-05T11:00:00.000000Z"),
        ],
    )
    code, out, _ = cli(capsys, "usage", "--from", "2026-03-01", "--to", "2026-03-01")
    assert code == 0
    report = json.loads(out)
    assert report["total"] == 2 and report["outcomes"] == {"denied": 1, "provided": 1}
    code, out, _ = cli(capsys, "usage", "--format", "csv")
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == ["dimension", "key", "outcome", "count"]
    assert ["all", "", "provided", "2"] in rows and ["day", "2026-03-05", "provided", "1"] in rows


def test_accounting_holds_and_the_record_of_reading_it(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(
        data_dir,
        [make_record(1, time=recent(3)), make_record(2, time=recent(2), case_number="LE-7", role="law_enforcement")],
    )
    args = ("accounting", "--last", "Smith", "--first", "Jane", "--dob", "1980-01-02", "--json")
    code, out, _ = cli(capsys, *args)
    assert code == 0
    assert [d["seq"] for d in json.loads(out)["disclosures"]] == [1, 2]

    until = (date.today() + timedelta(days=30)).isoformat()
    code, out, _ = cli(capsys, "hold", "add", "--case-number", "LE-7", "--until", until, "--reason", "open case")
    assert code == 0 and out.strip().startswith("hold_")
    hold_id = out.strip()
    code, out, _ = cli(capsys, "hold", "list", "--active", "--json")
    assert [h["id"] for h in json.loads(out)] == [hold_id]

    code, out, _ = cli(capsys, *args)
    answer = json.loads(out)
    assert [d["seq"] for d in answer["disclosures"]] == [1] and answer["withheld"] is True
    code, out, _ = cli(capsys, *args[:-1])  # as text
    assert "Some disclosures are not listed" in out and "LE-7" not in out

    assert cli(capsys, "hold", "remove", hold_id)[0] == 0
    assert cli(capsys, "hold", "remove", hold_id)[0] == 2  # no such hold any more

    async def kinds() -> list[tuple[str, str]]:
        store = SqliteAuditStore(data_dir / "audit.sqlite3")
        await store.open()
        try:
            assert (await verify(store)).ok
            return [(r.record.kind, r.record.operation) for r in await store.records()]
        finally:
            await store.close()

    assert asyncio.run(kinds())[2:] == [
        ("admin", "audit-accounting"),
        ("admin", "hold-add"),
        ("admin", "audit-accounting"),
        ("admin", "audit-accounting"),
        ("admin", "hold-remove"),
    ]


def test_purge_keeps_the_retention_period(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(
        data_dir,
        [
            make_record(1, time="2015-01-01T00:00:00.000000Z"),
            make_record(2, time="2016-06-01T00:00:00.000000Z"),
            make_record(3, time=recent(400)),
        ],
    )
    code, _, err = cli(capsys, "purge", "--before", date.today().isoformat())
    assert code == 2 and "kept 6 years" in err
    code, out, _ = cli(capsys, "purge", "--json")
    assert code == 0
    assert json.loads(out) | {"before": None} == {
        "before": None,
        "purged": 2,
        "purged_through_seq": 2,
        "checkpoint_seq": 4,
        "kept_for_hold": False,
    }
    code, out, _ = cli(capsys, "verify")
    assert code == 0 and "2 checked" in out
    assert "nothing to purge" in cli(capsys, "purge")[1]


def test_purge_refuses_a_broken_chain(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(data_dir, [make_record(1, time="2015-01-01T00:00:00.000000Z"), make_record(2, time=recent(1))])
    tamper(data_dir, "DELETE FROM audit_record WHERE seq = 2")
    code, _, err = cli(capsys, "purge")
    assert code == 3 and "nothing purged" in err


@pytest.mark.parametrize(
    "args",
    [
        ("accounting", "--last", "Smith"),
        ("accounting", "--last", "Smith", "--dob", "1980-13-01"),
        ("hold", "add", "--case-number", "C", "--until", "2001-01-01"),
    ],
)
def test_bad_input_is_exit_2(data_dir: Path, capsys: pytest.CaptureFixture[str], args: tuple[str, ...]) -> None:
    code, _, err = cli(capsys, *args)
    assert code == 2 and err.startswith("pmp-gateway audit")


def test_a_malformed_date_is_refused_by_the_parser(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["audit", "usage", "--from", "yesterday"])
    assert exited.value.code == 2


def test_a_database_that_cannot_be_reached_is_exit_1(
    data_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed once the block ends: nothing listens there
    monkeypatch.setenv("PMP_GATEWAY_STORE", "postgres")
    monkeypatch.setenv("PMP_GATEWAY_POSTGRES_DSN", f"postgresql://postgres@127.0.0.1:{port}/test")
    code, out, err = cli(capsys, "verify", "--json")
    assert code == 1 and "cannot open" in err
    assert "error" in json.loads(out)
