"""``pmp-gateway suspend | reinstate | suspensions`` and ``eds set-quota``, run in-process: output, exit status (0 done,
2 bad input, 1 unreachable), and where the change lands (the gateway database; with PMP_REDIS_URL also Redis)."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from gateway.policy.suspension import RedisSuspensionStore, SqliteSuspensionStore
from tests.gateway.cli_runner import Cli, in_process_cli
from tests.gateway.policy.conftest import REDIS_URL, drop_prefix


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Cli:
    return in_process_cli(tmp_path, monkeypatch, capsys)


def test_suspend_list_reinstate(cli: Any, tmp_path: Path) -> None:
    code, eds, _ = cli("eds", "add", "--name", "Valley EHR", "--state", "UT", "--json")
    assert code == 0
    code, made, _ = cli(
        "suspend", "eds", eds["id"], "--reason", "DUA breach", "--until", "7d", "--by", "inspector", "--json"
    )
    assert code == 0
    assert (made["kind"], made["target"], made["by"], made["status"]) == ("eds", eds["id"], "inspector", "active")
    code, out, _ = cli("suspend", "state", "nv", "--reason", "MOU lapsed")
    assert code == 0 and out.strip().startswith("sus_")
    code, current, _ = cli("suspensions", "--json")
    assert [s["target"] for s in current] == ["NV", eds["id"]]
    code, done, _ = cli("reinstate", made["id"], "--reason", "renewed", "--json")
    assert code == 0 and done["status"] == "reinstated" and done["reinstate_reason"] == "renewed"
    code, current, _ = cli("suspensions", "--json")
    assert [s["target"] for s in current] == ["NV"]
    code, history, _ = cli("suspensions", "--all")
    assert code == 0 and len(history.strip().splitlines()) == 2 and "reinstated" in history

    store = SqliteSuspensionStore(tmp_path / "gateway.sqlite3")  # where serve (no Redis) reads them

    async def stored() -> list[str]:
        await store.open()
        try:
            return [r.target for r in (await store.snapshot()).suspensions]
        finally:
            await store.close()

    assert asyncio.run(stored()) == ["NV"]


def test_bad_input_exits_2_and_changes_nothing(cli: Any) -> None:
    code, eds, _ = cli("eds", "add", "--name", "Valley EHR", "--json")
    for args, message in [
        (("suspend", "eds", "eds_unknown", "--reason", "r"), "no registered eds"),
        (("suspend", "user", "usr_unknown", "--reason", "r"), "no registered user"),
        (("suspend", "state", "XX", "--reason", "r"), "USPS"),
        (("suspend", "eds", eds["id"], "--reason", " "), "reason"),
        (("suspend", "eds", eds["id"], "--reason", "r", "--until", "2001-01-01"), "future"),
        (("suspend", "eds", eds["id"], "--reason", "r", "--until", "whenever"), "until"),
        (("reinstate", "sus_unknown", "--reason", "r"), "no suspension"),
        (("eds", "set-quota", eds["id"], "--rate", "5"), "--burst"),
        (("eds", "set-quota", eds["id"], "--rate", "0", "--per", "1", "--burst", "1"), "positive"),
        (("eds", "set-quota", "eds_unknown", "--rate", "1", "--per", "1", "--burst", "1"), "no EDS"),
    ]:
        code, out, err = cli(*args, "--json")
        assert code == 2, (args, out, err)
        assert message in out["error"], (args, out)
    assert cli("suspensions", "--all", "--json")[1] == []


def test_set_quota(cli: Any) -> None:
    _, eds, _ = cli("eds", "add", "--name", "Valley EHR", "--json")
    code, out, _ = cli("eds", "set-quota", eds["id"], "--rate", "600", "--per", "60", "--burst", "100", "--shadow")
    assert code == 0 and out.strip() == f"{eds['id']}\t600/60,burst=100,shadow"
    code, shown, _ = cli("eds", "show", eds["id"], "--json")
    assert shown["quota"] == {"rate": 600, "per_seconds": 60, "burst": 100, "shadow": True}
    code, cleared, _ = cli("eds", "set-quota", eds["id"], "--clear", "--json")
    assert code == 0 and cleared["quota"] is None


def test_redis_unreachable_exits_1(cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PMP_REDIS_URL", "redis://127.0.0.1:1/0")
    code, out, _ = cli("suspend", "state", "NV", "--reason", "r", "--json")
    assert code == 1
    assert "recorded in the gateway database" in out["error"]  # kept, and pushed once Redis is back


@pytest.mark.redis
def test_with_redis_the_change_goes_to_redis_and_the_journal(
    cli: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    prefix = f"test:{uuid.uuid4().hex}:"
    monkeypatch.setenv("PMP_REDIS_URL", REDIS_URL)
    monkeypatch.setenv("PMP_REDIS_PREFIX", prefix)
    code, made, _ = cli("suspend", "state", "NV", "--reason", "MOU lapsed", "--json")
    assert code == 0

    async def check() -> None:
        client = aioredis.Redis.from_url(REDIS_URL)
        store = RedisSuspensionStore(client, prefix)  # no journal: Redis alone
        journal = SqliteSuspensionStore(tmp_path / "gateway.sqlite3")
        await journal.open()
        try:
            assert [r.id for r in (await store.snapshot()).suspensions] == [made["id"]]
            assert [r.id for r in (await journal.snapshot()).suspensions] == [made["id"]]
        finally:
            await journal.close()
            await drop_prefix(client, prefix)
            await client.aclose()

    asyncio.run(check())
