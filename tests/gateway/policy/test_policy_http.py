"""The suspension and rate-limit stages, their headers and the admin API inside the whole app: a real token service,
a SQLite registry, suspensions in the same SQLite file, a fake pmpdb. The app is assembled here as the lead's wiring
will assemble it (the stages in the pipeline, the header middleware outermost, the token service's client directory
suspension-aware, the admin routes)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, unused_port
from lxml import etree

from gateway.app import PIPELINE, SERVICES, create_app
from gateway.auth import scopes
from gateway.cursor import load_or_create_key
from gateway.pipeline import Pipeline
from gateway.pipeline.authenticate import Authenticate
from gateway.pipeline.authorize import Authorize
from gateway.pipeline.identify import Identify
from gateway.pipeline.minimum_necessary import MinimumNecessary
from gateway.pipeline.rate_limit import RateLimit, rate_limit_headers
from gateway.pipeline.search import Search
from gateway.pipeline.suspension import SuspensionCheck
from gateway.policy.ratelimit import LocalRateLimiter, QuotaBook, QuotaDefaults, registry_eds_quota
from gateway.policy.registry.model import Quota
from gateway.policy.registry.store.sqlite import SqliteRegistry
from gateway.policy.suspension import SqliteSuspensionStore, SuspendingClientDirectory, SuspensionSet
from gateway.routes import admin
from gateway.testing import FakeSearchBackend, Registration, register_client, settings_for_tests, token_form
from tests.adapters.fhir.fhir_test_data import EX1, example, found, valid_outcome

FHIR = {"Content-Type": "application/fhir+json", "Accept": "application/fhir+json"}
EX1_NPI = "1928340565"
ADMIN_NPI = "1665015602"
SAMPLES = Path(__file__).parents[2] / "adapters" / "ncpdp" / "samples"
NS = {"s": "http://www.ncpdp.org/schema/SCRIPT"}
DEFAULT_EDS = Quota(600, 60, 100)


@dataclass
class Gateway:
    http: TestClient
    base: str
    registry: SqliteRegistry
    clinical: Registration
    admin: Registration
    suspensions: SuspensionSet
    clock: list[float]
    actions: list[admin.AdminAction] = field(default_factory=list)

    async def token(self, who: Registration | None = None, scope: str = scopes.MEDICATION_DISPENSE_READ) -> str:
        body = await self.token_response(who, scope)
        assert "access_token" in body, body
        return str(body["access_token"])

    async def token_response(self, who: Registration | None = None, scope: str = "") -> dict[str, Any]:
        reg = who or self.clinical
        form = token_form(reg.key.assertion(reg.client_id, f"{self.base}/oauth/token"), scope or scopes.ADMIN)
        response = await self.http.post("/oauth/token", data=form)
        result: dict[str, Any] = await response.json()
        return result

    async def admin_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {await self.token(self.admin, scopes.ADMIN)}"}

    async def ncpdp(self, token: str) -> Any:
        request = (SAMPLES / "rxhistory-2017071-prescriber.xml").read_bytes().replace(b"1928340565", EX1_NPI.encode())
        headers = {"Content-Type": "application/xml", "Authorization": f"Bearer {token}"}
        return await self.http.post("/ncpdp/script", data=request, headers=headers)

    async def history(self, token: str) -> Any:
        return await self.http.post(
            "/fhir/Patient/$pdmp-history",
            data=orjson.dumps(example(EX1)),
            headers={**FHIR, "Authorization": f"Bearer {token}"},
        )


@pytest.fixture
async def gateway(aiohttp_client: Any, tmp_path: Path) -> Gateway:
    port = unused_port()
    base = f"http://127.0.0.1:{port}"
    registry = SqliteRegistry(tmp_path / "gateway.sqlite3")
    await registry.open()
    clinical = await register_client(registry, npi=EX1_NPI)
    admin_reg = await register_client(registry, scope=scopes.ADMIN, npi=ADMIN_NPI, first="DIV", last="ADMIN")
    backend = FakeSearchBackend(found(3))
    # The stages are off in the settings: this test puts its own (with a fake monotonic clock) in the pipeline, so it
    # means the same before and after the app factory wires them.
    app = create_app(
        settings_for_tests(tmp_path, suspension=False, rate_limit=False),
        "",
        cursor_key=load_or_create_key(tmp_path),
        issuer=base,
        backend=backend,
        registry=registry,
    )
    services = app[SERVICES]
    clock = [1000.0]
    store = SqliteSuspensionStore(tmp_path / "gateway.sqlite3")
    suspensions = SuspensionSet(store, check_seconds=0.05, monotonic=lambda: clock[0])
    quotas = QuotaBook(QuotaDefaults(eds=DEFAULT_EDS, client=None, user=None, state=None), registry_eds_quota(registry))
    services.tokens.clients = SuspendingClientDirectory(registry, suspensions)
    app[PIPELINE] = Pipeline(
        [
            Authenticate(services.tokens.verifier),
            Identify(services.registry),
            SuspensionCheck(suspensions),
            RateLimit(LocalRateLimiter(), quotas),
            Authorize(),
            Search(backend),
            MinimumNecessary(),
        ]
    )
    app.middlewares.insert(0, rate_limit_headers(quotas.default_policy_header()))

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        await store.open()
        await suspensions.start()
        yield
        await suspensions.aclose()
        await store.close()

    app.cleanup_ctx.append(lifecycle)
    actions: list[admin.AdminAction] = []

    async def record(action: admin.AdminAction) -> None:
        actions.append(action)

    if admin.SUSPENSIONS in app:  # the app factory added the admin routes: point them at this test's set
        app[admin.SUSPENSIONS] = suspensions
        app[admin.ACTION_HOOKS].append(record)
    else:
        admin.setup(app, suspensions, registry=registry, on_action=[record])
    http = await aiohttp_client(app, server_kwargs={"port": port})
    return Gateway(http, base, registry, clinical, admin_reg, suspensions, clock, actions)


async def _problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status == status, await response.text()
    assert response.content_type == "application/problem+json"
    body: dict[str, Any] = await response.json()
    assert body["status"] == status
    return body


async def test_the_admin_api_needs_an_admin_token(gateway: Gateway) -> None:
    body = {"kind": "eds", "target": gateway.clinical.eds_id, "reason": "x"}
    response = await gateway.http.post("/admin/suspensions", json=body)
    await _problem(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    clinical = {"Authorization": f"Bearer {await gateway.token()}"}
    await _problem(await gateway.http.post("/admin/suspensions", json=body, headers=clinical), 403)
    await _problem(await gateway.http.get("/admin/suspensions", headers=clinical), 403)
    assert gateway.suspensions.current() == []


async def test_an_eds_suspension_stops_its_tokens_at_once_and_reinstating_restores_them(gateway: Gateway) -> None:
    token = await gateway.token()
    ncpdp_token = await gateway.token(scope=scopes.NCPDP_HISTORY)
    assert (await gateway.history(token)).status == 200
    headers = await gateway.admin_headers()
    made = await gateway.http.post(
        "/admin/suspensions",
        json={"kind": "eds", "target": gateway.clinical.eds_id, "reason": "DUA breach", "until": "7d"},
        headers=headers,
    )
    assert made.status == 201, await made.text()
    record = await made.json()
    assert made.headers["Location"] == f"/admin/suspensions/{record['id']}"
    assert record["by"] == gateway.admin.client_id and record["reason"] == "DUA breach"
    assert record["status"] == "active" and record["until"]

    refused = await gateway.history(token)  # the unexpired token is refused at once
    assert refused.status == 403
    outcome = valid_outcome(await refused.read())
    assert outcome["issue"][0]["code"] == "suspended"
    assert outcome["issue"][0]["diagnostics"] == "the EDS is suspended"
    ncpdp = await gateway.ncpdp(ncpdp_token)
    assert ncpdp.status == 403
    error = etree.fromstring(await ncpdp.read())
    assert error.findtext("s:Body/s:Error/s:Code", namespaces=NS) == "900"
    new = await gateway.token_response(scope=scopes.MEDICATION_DISPENSE_READ)
    assert new.get("error") == "invalid_client"  # no new token either

    done = await gateway.http.delete(
        f"/admin/suspensions/{record['id']}", json={"reason": "agreement renewed"}, headers=headers
    )
    assert done.status == 200, await done.text()
    assert (await done.json())["reinstated_by"] == gateway.admin.client_id
    assert (await gateway.history(token)).status == 200
    listing = await (await gateway.http.get("/admin/suspensions", headers=headers)).json()
    assert listing["current"] == []
    assert [(r["id"], r["status"], r["reinstate_reason"]) for r in listing["history"]] == [
        (record["id"], "reinstated", "agreement renewed")
    ]
    shown = await gateway.http.get(f"/admin/suspensions/{record['id']}", headers=headers)
    assert (await shown.json())["status"] == "reinstated"
    assert [(a.action, a.actor, a.reason) for a in gateway.actions] == [
        ("suspend", gateway.admin.client_id, "DUA breach"),
        ("reinstate", gateway.admin.client_id, "agreement renewed"),
    ]
    assert all(a.request_id for a in gateway.actions)


@pytest.mark.parametrize("kind", ["client", "user", "state"])
async def test_client_user_and_state_suspensions(gateway: Gateway, kind: str) -> None:
    token = await gateway.token()
    target = {"client": gateway.clinical.client_id, "user": gateway.clinical.user_id, "state": "ut"}[kind]
    made = await gateway.http.post(
        "/admin/suspensions",
        json={"kind": kind, "target": target, "reason": "investigation"},
        headers=await gateway.admin_headers(),
    )
    assert made.status == 201, await made.text()
    assert (await made.json())["target"] == ("UT" if kind == "state" else target)
    if kind == "state":
        # a partner-state suspension concerns interstate requests (requester.state); this EDS query is unaffected
        assert gateway.suspensions.is_suspended(state="UT") is not None
        assert (await gateway.history(token)).status == 200
        return
    refused = await gateway.history(token)
    assert refused.status == 403
    noun = {"client": "OAuth client", "user": "end user"}[kind]
    assert valid_outcome(await refused.read())["issue"][0]["diagnostics"] == f"the {noun} is suspended"


async def test_admin_input_errors(gateway: Gateway) -> None:
    headers = await gateway.admin_headers()
    eds = gateway.clinical.eds_id
    for body, word in [
        ({"kind": "planet", "target": eds, "reason": "r"}, "kind"),
        ({"kind": "eds", "target": "eds_unknown", "reason": "r"}, "no registered EDS"),
        ({"kind": "user", "target": "usr_unknown", "reason": "r"}, "no registered end user"),
        ({"kind": "eds", "target": eds}, "reason"),
        ({"kind": "eds", "target": eds, "reason": "r", "until": "2001-01-01"}, "future"),
        ({"kind": "eds", "target": eds, "reason": "r", "until": "soon"}, "until"),
        ({"kind": "state", "target": "XX", "reason": "r"}, "USPS"),
        ([1, 2], "object"),
    ]:
        problem = await _problem(await gateway.http.post("/admin/suspensions", json=body, headers=headers), 400)
        assert word in problem["detail"], (body, problem)
    await _problem(
        await gateway.http.post(
            "/admin/suspensions", data=b"{", headers={**headers, "Content-Type": "application/json"}
        ),
        400,
    )
    await _problem(
        await gateway.http.post("/admin/suspensions", data=b"x", headers={**headers, "Content-Type": "text/plain"}), 415
    )
    await _problem(await gateway.http.delete("/admin/suspensions/sus_nope", json={"reason": "r"}, headers=headers), 404)
    await _problem(await gateway.http.get("/admin/suspensions/sus_nope", headers=headers), 404)
    await _problem(await gateway.http.get("/admin/suspensions?limit=0", headers=headers), 400)
    made = await (
        await gateway.http.post(
            "/admin/suspensions", json={"kind": "eds", "target": eds, "reason": "r"}, headers=headers
        )
    ).json()
    await _problem(await gateway.http.delete(f"/admin/suspensions/{made['id']}", headers=headers), 400)  # no reason
    done = await gateway.http.delete(f"/admin/suspensions/{made['id']}?reason=ok", headers=headers)
    assert done.status == 200
    await _problem(await gateway.http.delete(f"/admin/suspensions/{made['id']}?reason=ok", headers=headers), 409)
    assert [a.action for a in gateway.actions] == ["suspend", "reinstate"]


async def test_an_unconfirmed_suspension_list_refuses_with_503(gateway: Gateway) -> None:
    token = await gateway.token()
    gateway.clock[0] += gateway.suspensions.max_staleness_seconds + 1  # no confirmation for longer than the bound
    refused = await gateway.history(token)
    assert refused.status == 503
    assert refused.headers["Retry-After"] == "1"
    assert valid_outcome(await refused.read())["issue"][0]["code"] == "transient"
    assert (await gateway.token_response(scope=scopes.MEDICATION_DISPENSE_READ)).get("error") == "invalid_client"
    await gateway.suspensions.refresh()  # the store answers again: recovered, nothing restarted
    assert (await gateway.history(token)).status == 200


async def test_rate_limits_headers_and_429(gateway: Gateway) -> None:
    anonymous = await gateway.history("not-a-token")
    assert anonymous.status == 401
    assert anonymous.headers["RateLimit-Policy"] == '"eds";q=600;w=60'  # on every response, the defaults here
    assert "RateLimit" not in anonymous.headers
    other = await register_client(gateway.registry, npi="1234567893")  # a second EDS naming the same user
    await gateway.registry.link_user(gateway.clinical.user_id, other.eds_id)
    ok = await gateway.history(await gateway.token(other))
    assert ok.status == 200
    assert ok.headers["RateLimit-Policy"] == '"eds";q=600;w=60'
    assert ok.headers["RateLimit"] == '"eds";r=99;t=1'
    token = await gateway.token()
    await gateway.registry.set_eds_quota(gateway.clinical.eds_id, Quota(1, 3600, 2))  # the EDS's own quota
    first = await gateway.history(token)
    assert first.headers["RateLimit-Policy"] == '"eds";q=1;w=3600'
    assert first.headers["RateLimit"] == '"eds";r=1;t=3600'
    assert (await gateway.history(token)).status == 200
    limited = await gateway.history(token)
    assert limited.status == 429
    assert limited.headers["Retry-After"] == "3600"
    assert limited.headers["RateLimit"] == '"eds";r=0;t=3600'
    outcome = valid_outcome(await limited.read())
    assert outcome["issue"][0]["code"] == "throttled"
    ncpdp = await gateway.ncpdp(await gateway.token(scope=scopes.NCPDP_HISTORY))
    assert ncpdp.status == 429 and ncpdp.headers["Retry-After"] == "3600"
    assert etree.fromstring(await ncpdp.read()).findtext("s:Body/s:Error/s:Code", namespaces=NS) == "600"
    await gateway.registry.set_eds_quota(gateway.clinical.eds_id, Quota(1, 3600, 1, shadow=True))  # dark launch
    shadowed = await gateway.history(token)
    assert shadowed.status == 200
    assert "RateLimit" not in shadowed.headers and shadowed.headers["RateLimit-Policy"] == '"eds";q=600;w=60'
    metadata = await gateway.http.get("/fhir/metadata")
    assert metadata.headers["RateLimit-Policy"] == '"eds";q=600;w=60'
    assert "RateLimit-Policy" not in (await gateway.http.get("/healthz")).headers
