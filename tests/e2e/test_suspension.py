"""Issue 6 end to end, over real processes and sockets.

- Two ``pmp-gateway serve`` processes (``--workers 1`` each, different ports) on one Redis and one data directory act
  as one gateway: a suspension made through one — with the admin API, or with the CLI — is enforced by the other
  within 1 s (measured from the moment the change was acknowledged, by polling with a bound); reinstating likewise;
  one EDS quota is shared by both.
- Redis stopped during a run (a private ``redis-server`` this test starts, stops and starts again): requests keep
  being answered within the staleness bound with rate limits degraded to in-process (counted in /metrics), then
  suspension fails closed (503); when Redis returns — empty, no persistence — the gateway recovers by itself and
  the suspensions are rebuilt from the gateway database, with no restart.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from gateway.auth import scopes
from gateway.testing import ClientKey, token_form
from tests.adapters.fhir.fhir_test_data import valid_outcome
from tests.e2e.demo_queries import history_parameters
from tests.e2e.processes import cli_env, cli_json, run_cli, running
from tests.gateway.policy.conftest import PrivateRedis

pytestmark = [pytest.mark.redis, pytest.mark.slow]

READY = r"listening on http://([\d.]+):(\d+)"
NPI = "1928340565"
PUBLIC = "http://127.0.0.1"  # one issuer (and token audience) for both processes: they are one gateway
FHIR = {"Content-Type": "application/fhir+json", "Accept": "application/fhir+json"}
QUOTA_BURST = 4


@dataclass
class Client:
    client_id: str
    eds_id: str
    key: ClientKey


@dataclass
class Deployment:
    bases: tuple[str, ...]
    env: dict[str, str]
    clinical: Client
    quota: Client
    admin: Client
    truth: dict[str, Any]


def _register(data: Path, env: dict[str, str]) -> tuple[Client, Client, Client]:
    """Three EDSs with one client each (clinical, quota, the division's admin client); the prescriber is linked to
    the first two. The quota EDS gets a small quota of its own."""
    key = ClientKey.generate(kid="e2e-key-1")
    (data / "jwks.json").write_text(json.dumps(key.jwks()))
    clients = []
    for name, scope in [
        ("Valley EHR", scopes.MEDICATION_DISPENSE_READ),
        ("Quota EHR", scopes.MEDICATION_DISPENSE_READ),
        ("Division console", scopes.ADMIN),
    ]:
        eds = cli_json(env, "eds", "add", "--name", name, "--agreement", "DUA-1", "--state", "UT")["id"]
        client = cli_json(env, "clients", "add", "--eds", eds, "--jwks", str(data / "jwks.json"), "--scope", scope)
        clients.append(Client(client["client_id"], eds, key))
    clinical, quota, admin = clients
    cli_json(
        env,
        *("users", "add", "--role", "prescriber", "--first", "ADAM", "--last", "AMSTER", "--npi", NPI),
        *("--eds", clinical.eds_id, "--eds", quota.eds_id),
    )
    cli_json(env, "eds", "set-quota", quota.eds_id, "--rate", "1", "--per", "3600", "--burst", str(QUOTA_BURST))
    return clinical, quota, admin


def _env(data: Path, redis_url: str, **extra: str) -> dict[str, str]:
    if redis_url:
        extra = {"PMP_REDIS_URL": redis_url, "PMP_REDIS_PREFIX": f"test-{uuid.uuid4().hex}:", **extra}
    return cli_env(
        data,
        PMP_OAUTH_ISSUER=PUBLIC,
        PMP_SUSPENSION="true",
        PMP_RATE_LIMIT="true",
        PMP_RATE_LIMIT_USER="off",  # polling below sends many queries for one prescriber
        **extra,
    )


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    data = tmp_path_factory.mktemp("data")
    env = _env(data, "redis://127.0.0.1:6379/0")
    clinical, quota, admin = _register(data, env)
    serve = ("serve", "--port", "0", "--workers", "1")
    with running(*serve, env=env, ready=READY) as (_, a), running(*serve, env=env, ready=READY) as (_, b):
        assert a.group(2) != b.group(2)
        truth = json.loads((data / "demo" / "ground-truth.json").read_text())
        yield Deployment(
            (f"http://{a.group(1)}:{a.group(2)}", f"http://{b.group(1)}:{b.group(2)}"),
            env,
            clinical,
            quota,
            admin,
            truth,
        )


async def _token(
    http: httpx.AsyncClient, base: str, client: Client, scope: str = scopes.MEDICATION_DISPENSE_READ
) -> str:
    form = token_form(client.key.assertion(client.client_id, f"{PUBLIC}/oauth/token"), scope)
    response = await http.post(f"{base}/oauth/token", data=form)
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _query(http: httpx.AsyncClient, base: str, token: str, truth: dict[str, Any]) -> Awaitable[httpx.Response]:
    person = next(p for p in truth["people"] if 3 <= len(p["dispensations"]) <= 40)
    body = orjson.dumps(history_parameters(person, truth))
    return http.post(f"{base}/fhir/Patient/$pdmp-history", content=body, headers={**FHIR, **_bearer(token)})


def _asker(
    http: httpx.AsyncClient, base: str, token: str, truth: dict[str, Any]
) -> Callable[[], Awaitable[httpx.Response]]:
    return lambda: _query(http, base, token, truth)


async def _until(
    ask: Callable[[], Awaitable[httpx.Response]], status: int, *, within: float, since: float
) -> tuple[float, httpx.Response]:
    """Ask until the answer has ``status``; seconds from ``since`` (monotonic) to that answer. Bounded: no sleeps
    beyond a short pause between polls."""
    while True:
        response = await ask()
        elapsed = time.monotonic() - since
        if response.status_code == status:
            return elapsed, response
        assert elapsed <= within, f"still {response.status_code} after {elapsed:.2f} s (wanted {status})"
        await asyncio.sleep(0.02)


async def test_a_suspension_through_one_gateway_is_enforced_by_the_other_within_a_second(
    deployment: Deployment,
) -> None:
    d = deployment
    a, b = d.bases
    async with httpx.AsyncClient(trust_env=False, timeout=30) as http:
        token = await _token(http, a, d.clinical)  # issued by A, good on B (one issuer, one key ring, one Redis)
        assert (await _query(http, b, token, d.truth)).status_code == 200
        admin = _bearer(await _token(http, a, d.admin, scopes.ADMIN))

        made = await http.post(
            f"{a}/admin/suspensions",
            json={"kind": "eds", "target": d.clinical.eds_id, "reason": "DUA breach under review"},
            headers=admin,
        )
        acknowledged = time.monotonic()
        assert made.status_code == 201, made.text
        suspension = made.json()
        delay, refused = await _until(lambda: _query(http, b, token, d.truth), 403, within=3.0, since=acknowledged)
        assert delay <= 1.0, f"B enforced the suspension after {delay:.3f} s"
        outcome = valid_outcome(refused.content)
        assert outcome["issue"][0]["code"] == "suspended"
        assert (await _query(http, a, token, d.truth)).status_code == 403
        form = token_form(d.clinical.key.assertion(d.clinical.client_id, f"{PUBLIC}/oauth/token"), "system/*.rs")
        assert (await http.post(f"{b}/oauth/token", data=form)).json()["error"] == "invalid_client"  # no new token

        listing = (await http.get(f"{b}/admin/suspensions", headers=admin)).json()  # the other replica's view
        assert [s["id"] for s in listing["current"]] == [suspension["id"]]

        # reinstated with the CLI (it writes the gateway database, then Redis): both answer again within 1 s
        result = run_cli("reinstate", suspension["id"], "--reason", "agreement renewed", "--by", "e2e", env=d.env)
        acknowledged = time.monotonic()
        assert result.returncode == 0, result.stderr
        delays = await asyncio.gather(
            *(_until(_asker(http, base, token, d.truth), 200, within=3.0, since=acknowledged) for base in (a, b))
        )
        assert max(delay for delay, _ in delays) <= 1.0, f"lifted after {[round(x, 3) for x, _ in delays]} s"

        # suspended with the CLI (the client only): enforced by both within 1 s
        result = run_cli("suspend", "client", d.clinical.client_id, "--reason", "key leaked", "--json", env=d.env)
        acknowledged = time.monotonic()
        assert result.returncode == 0, result.stderr
        delays = await asyncio.gather(
            *(_until(_asker(http, base, token, d.truth), 403, within=3.0, since=acknowledged) for base in (a, b))
        )
        assert max(delay for delay, _ in delays) <= 1.0, f"enforced after {[round(x, 3) for x, _ in delays]} s"
        history = (await http.get(f"{a}/admin/suspensions", headers=admin)).json()["history"]
        assert [(h["kind"], h["status"]) for h in history] == [("client", "active"), ("eds", "reinstated")]
        assert history[1]["by"] == d.admin.client_id and history[1]["reinstated_by"] == "e2e"


async def test_one_quota_is_shared_by_both_gateways(deployment: Deployment) -> None:
    d = deployment
    async with httpx.AsyncClient(trust_env=False, timeout=30) as http:
        token = await _token(http, d.bases[0], d.quota)
        answers = [await _query(http, d.bases[i % 2], token, d.truth) for i in range(QUOTA_BURST + 2)]
    assert [r.status_code for r in answers] == [200] * QUOTA_BURST + [429, 429]
    for r in answers:
        assert '"eds";q=1;w=3600' in r.headers["RateLimit-Policy"]
    assert '"eds";r=0;' in answers[QUOTA_BURST - 1].headers["RateLimit"]
    limited = answers[-1]
    assert int(limited.headers["Retry-After"]) > 3000
    assert '"eds";r=0;' in limited.headers["RateLimit"]
    assert valid_outcome(limited.content)["issue"][0]["code"] == "throttled"


def _degraded_count(metrics_text: str) -> float:
    match = re.search(r"^pmp_gateway_rate_limit_degraded_total (\S+)$", metrics_text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


async def test_redis_outage_fails_closed_degrades_limits_and_recovers(tmp_path: Path) -> None:
    bound = 2.0
    redis = PrivateRedis(tmp_path)
    redis.start()
    try:
        data = tmp_path / "data"
        data.mkdir()
        env = _env(
            data,
            redis.url,
            PMP_SUSPENSION_MAX_STALENESS_SECONDS=str(bound),
            PMP_RATE_LIMIT_REDIS_RETRY_SECONDS="0.2",
        )
        clinical, _, admin_client = _register(data, env)
        with running("serve", "--port", "0", "--workers", "1", env=env, ready=READY) as (_, m):
            base = f"http://{m.group(1)}:{m.group(2)}"
            truth = json.loads((data / "demo" / "ground-truth.json").read_text())
            async with httpx.AsyncClient(trust_env=False, timeout=30) as http:
                token = await _token(http, base, clinical)
                admin = _bearer(await _token(http, base, admin_client, scopes.ADMIN))
                kept = await http.post(
                    f"{base}/admin/suspensions",
                    json={"kind": "state", "target": "NV", "reason": "MOU lapsed"},
                    headers=admin,
                )
                assert kept.status_code == 201
                ok = await _query(http, base, token, truth)
                assert ok.status_code == 200 and "RateLimit" in ok.headers
                degraded = _degraded_count((await http.get(f"{base}/metrics")).text)

                redis.stop()
                stopped = time.monotonic()
                still = await _query(http, base, token, truth)  # within the bound: answered, limits in-process
                assert still.status_code == 200, still.text
                assert "RateLimit" in still.headers
                assert _degraded_count((await http.get(f"{base}/metrics")).text) > degraded
                took, refused = await _until(
                    lambda: _query(http, base, token, truth), 503, within=bound + 3, since=stopped
                )
                assert took >= bound - 0.5, f"refused after {took:.2f} s, before the {bound} s bound"
                assert refused.headers["Retry-After"] == "1"
                assert valid_outcome(refused.content)["issue"][0]["code"] == "transient"

                redis.start()  # back, empty
                restarted = time.monotonic()
                took, _ = await _until(lambda: _query(http, base, token, truth), 200, within=10.0, since=restarted)
                current = (await http.get(f"{base}/admin/suspensions", headers=admin)).json()["current"]
                assert [s["target"] for s in current] == ["NV"]  # rebuilt from the gateway database
                # the limiter is back on Redis: degraded decisions stop being counted
                settled = time.monotonic()
                while True:
                    before = _degraded_count((await http.get(f"{base}/metrics")).text)
                    await asyncio.sleep(0.3)  # longer than the limiter's retry period
                    assert (await _query(http, base, token, truth)).status_code == 200
                    if _degraded_count((await http.get(f"{base}/metrics")).text) == before:
                        break
                    assert time.monotonic() - settled < 10, "rate limits did not return to Redis"
    finally:
        redis.stop()


async def test_embedded_default_a_cli_suspension_reaches_serve_within_a_second_and_survives_a_restart(
    tmp_path: Path,
) -> None:
    """No Redis: the CLI writes gateway.sqlite3, the running ``serve`` sees it at its next version check."""
    env = _env(tmp_path, "")
    clinical, _, _ = _register(tmp_path, env)
    serve = ("serve", "--port", "0", "--workers", "1")
    async with httpx.AsyncClient(trust_env=False, timeout=30) as http:
        with running(*serve, env=env, ready=READY) as (_, m):
            base = f"http://{m.group(1)}:{m.group(2)}"
            truth = json.loads((tmp_path / "demo" / "ground-truth.json").read_text())
            token = await _token(http, base, clinical)
            assert (await _query(http, base, token, truth)).status_code == 200
            result = run_cli("suspend", "eds", clinical.eds_id, "--reason", "DUA breach", env=env)
            acknowledged = time.monotonic()
            assert result.returncode == 0, result.stderr
            delay, _ = await _until(_asker(http, base, token, truth), 403, within=3.0, since=acknowledged)
            assert delay <= 1.0, f"serve enforced the CLI suspension after {delay:.3f} s"
        with running(*serve, env=env, ready=READY) as (_, m):  # restarted: the suspension is still there
            base = f"http://{m.group(1)}:{m.group(2)}"
            refused = await _query(http, base, token, truth)  # same data dir: same keys, the token is still good
            assert refused.status_code == 403
            assert valid_outcome(refused.content)["issue"][0]["code"] == "suspended"
            form = token_form(clinical.key.assertion(clinical.client_id, f"{PUBLIC}/oauth/token"), "system/*.rs")
            assert (await http.post(f"{base}/oauth/token", data=form)).json()["error"] == "invalid_client"
