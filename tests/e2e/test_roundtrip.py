"""demo-data → ingest → SearchHistory over a real socket returns exactly the generated truth.

Everything runs as the user would run it: the CLI in child processes (same settings for every command), pmpdb as
its own process, a grpc.aio client over loopback. The ground truth comes from the generator, not from the store.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from protos.pmp.v1 import pmp_pb2 as pb
from protos.pmp.v1 import pmp_pb2_grpc as pb_grpc
from tests.conftest import POSTGRES_DSN, drop_schema
from tests.e2e.processes import NO_AUTH, cli_env, run_cli, running

GENDER = {"F": pb.GENDER_FEMALE, "M": pb.GENDER_MALE}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def env(request: pytest.FixtureRequest, tmp_path: Path, pg_schema: str) -> Iterator[dict[str, str]]:
    if request.param == "sqlite":
        yield cli_env(tmp_path / "data", **NO_AUTH)
        return
    postgres = {"PMP_STORE": "postgres", "PMP_POSTGRES_DSN": POSTGRES_DSN, "PMP_POSTGRES_SCHEMA": pg_schema}
    yield cli_env(tmp_path / "data", **NO_AUTH, **postgres)
    import asyncio

    asyncio.run(drop_schema(pg_schema))


def _query(person: dict[str, Any], *, with_zip: bool) -> pb.PatientQuery:
    q = person["query"]
    return pb.PatientQuery(
        name=pb.HumanName(family=q["last_name"], given=q["first_name"]),
        birth_date=q["birth_date"],
        gender=GENDER.get(q["gender"], pb.GENDER_UNSPECIFIED),
        address=pb.Address(postal_code=q["zip"] if with_zip else ""),
    )


async def _history(
    stub: pb_grpc.PrescriptionSearchStub, query: pb.PatientQuery, window: pb.DateRange
) -> tuple[int, list[pb.Dispensation]]:
    found: list[pb.Dispensation] = []
    token = ""
    while True:
        reply = await stub.SearchHistory(
            pb.SearchHistoryRequest(patient=query, date_range=window, page_size=50, page_token=token), timeout=10
        )
        found += reply.dispensations
        token = reply.next_page_token
        if not token:
            return reply.match_status, found


async def test_ingested_demo_data_answers_exactly_the_ground_truth(env: dict[str, str], tmp_path: Path) -> None:
    demo = tmp_path / "demo"
    made = run_cli("demo-data", "--out", str(demo), "--patients", "120", "--seed", "5", env=env)
    assert made.returncode == 0, made.stderr
    files = sorted(p for p in demo.iterdir() if p.suffix == ".asap")
    ingested = run_cli("ingest", "--json", *map(str, files), env=env)
    assert ingested.returncode == 0, ingested.stdout + ingested.stderr
    reports = [json.loads(line) for line in ingested.stdout.splitlines()]
    assert [r["status"] for r in reports] == ["accepted"] * len(files)
    truth = json.loads((demo / "ground-truth.json").read_text())
    assert sum(r["voided"] for r in reports) == truth["totals"]["voided"] > 0
    assert sum(r["revised"] for r in reports) == truth["totals"]["revised"] > 0
    assert sum(r["zero_reports"] for r in reports) == len(truth["zero_reports"]) > 0

    again = run_cli("ingest", "--json", str(files[0]), env=env)
    assert json.loads(again.stdout)["status"] == "already-ingested"

    assert len(truth["people"]) == 120
    window = pb.DateRange(start=truth["start"], end=truth["end"])
    revised = {(r["pharmacy"], r["rx_number"], r["refill_number"], r["date_filled"]) for r in truth["revisions"]}
    voided = {(v["pharmacy"], v["rx_number"], v["refill_number"], v["date_filled"]) for v in truth["voids"]}
    with running("pmpdb", "--listen", "127.0.0.1:0", env=env, ready=r"listening on port (\d+)") as (_, m):
        async with grpc.aio.insecure_channel(f"127.0.0.1:{m.group(1)}") as channel:
            stub = pb_grpc.PrescriptionSearchStub(channel)
            for person in truth["people"]:
                status, got = await _history(stub, _query(person, with_zip=True), window)
                assert status == pb.MATCH_STATUS_FOUND, person["id"]
                expected = {
                    (d["pharmacy"], d["rx_number"], d["refill_number"], d["date_filled"]): d
                    for d in person["dispensations"]
                }
                keys = [(_pharmacy_key(d), d.rx_number, d.refill_number, d.date_filled) for d in got]
                assert sorted(keys) == sorted(expected), person["id"]
                assert [d.date_filled for d in got] == sorted((d.date_filled for d in got), reverse=True)
                for key, d in zip(keys, got, strict=True):
                    want = expected[key]
                    assert (d.ndc, d.quantity, d.days_supply) == (
                        want["ndc"],
                        float(want["quantity"]),
                        want["days_supply"],
                    )
                    assert key not in voided
                    assert (d.status == "revised") == (key in revised)
                if person["ambiguous_without_zip"]:
                    status, got = await _history(stub, _query(person, with_zip=False), window)
                    assert status == pb.MATCH_STATUS_AMBIGUOUS and not got


def _pharmacy_key(d: pb.Dispensation) -> str:
    p = d.pharmacy
    return f"ncpdp:{p.ncpdp}" if p.ncpdp else (f"npi:{p.npi}" if p.npi else f"dea:{p.dea}")
