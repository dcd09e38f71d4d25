"""``pmp-gateway serve`` on the embedded default, as a user starts it: a real process on real sockets."""

from __future__ import annotations

import json
import signal
import sqlite3
from pathlib import Path

import aiohttp

from tests.e2e.processes import NO_AUTH, ROOT, cli_env, run_cli, running

READY = r"listening on http://([\d.]+):(\d+)"


def dispensations(data_dir: Path) -> int:
    return int(sqlite3.connect(data_dir / "pmpdb.sqlite3").execute("SELECT count(*) FROM dispensation").fetchone()[0])


async def test_serve_loads_demo_into_an_empty_store_and_is_ready(tmp_path: Path) -> None:
    env = cli_env(tmp_path)
    with running("serve", "--port", "0", env=env, ready=READY) as (proc, m):
        base = f"http://{m.group(1)}:{m.group(2)}"
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{base}/healthz") as r:
                assert r.status == 200 and (await r.json())["status"] == "ok"
            async with http.get(f"{base}/readyz") as r:
                body = await r.json()
                assert r.status == 200, body
                assert body["checks"]["pmpdb"] == "serving"
                assert body["checks"]["registry"] == "ok"
                assert body["stages"]["authenticate"] == body["stages"]["identify"] == "enabled"
        loaded = dispensations(tmp_path)
        assert loaded > 0
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
    # a second start on the same data directory does not load the demo again
    with running("serve", "--port", "0", env=env, ready=READY):
        assert dispensations(tmp_path) == loaded


async def test_serve_no_demo_keeps_the_store_empty(tmp_path: Path) -> None:
    with running("serve", "--port", "0", "--no-demo", env=cli_env(tmp_path, **NO_AUTH), ready=READY):
        assert dispensations(tmp_path) == 0


async def test_the_demo_client_gets_a_token_and_runs_the_ig_example(tmp_path: Path) -> None:
    """``./scripts/serve``'s first start: tokens are required, so the demo registers a client and the IG examples'
    prescriber; ``pmp-gateway token`` gets an access token with the client's key file."""
    env = cli_env(tmp_path)
    with running("serve", "--port", "0", env=env, ready=READY) as (_, m):
        base = f"http://{m.group(1)}:{m.group(2)}"
        client_file = tmp_path / "demo" / "client.json"
        assert client_file.stat().st_mode & 0o777 == 0o600
        got = run_cli("token", "--url", base, env=env, timeout=60)
        assert got.returncode == 0, got.stderr
        token = json.loads(got.stdout)["access_token"]
        example = ROOT / "tests/adapters/fhir/ig_examples/stu1/Parameters-pdmp-history-input-parameters-1.json"
        async with aiohttp.ClientSession() as http:
            headers = {"Content-Type": "application/fhir+json"}
            async with http.post(f"{base}/fhir/Patient/$pdmp-history", data=example.read_bytes(), headers=headers) as r:
                assert r.status == 401
            headers["Authorization"] = f"Bearer {token}"
            async with http.post(f"{base}/fhir/Patient/$pdmp-history", data=example.read_bytes(), headers=headers) as r:
                assert r.status == 200, await r.text()
    refused = run_cli("token", "--url", "file:///etc/passwd", env=env, timeout=60)
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
