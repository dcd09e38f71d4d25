"""``GET /admin/audit/accounting`` and ``GET /admin/reports/usage`` on the gateway app (real token service and SQLite
registry, real SQLite audit trail): admin scope required, problem+json refusals, the accounting read recorded before
it is answered."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, unused_port

from gateway.admin.audit_routes import record_admin_action, setup_audit_routes
from gateway.app import create_app
from gateway.audit import AuditConfig, AuditService, Kind
from gateway.auth import scopes
from gateway.cursor import load_or_create_key
from gateway.policy.registry.store.sqlite import SqliteRegistry
from gateway.testing import FakeSearchBackend, Registration, register_client, settings_for_tests, token_form
from protos.pmp.v1 import pmp_pb2 as pb
from tests.gateway.audit.conftest import make_record

ADMIN_NPI = "1245319599"


@dataclass
class Admin:
    http: TestClient[web.Request, web.Application]
    audit: AuditService
    admin: Registration
    user: Registration
    base: str

    async def token(self, registration: Registration, scope: str) -> str:
        form = token_form(registration.key.assertion(registration.client_id, f"{self.base}/oauth/token"), scope)
        response = await self.http.post("/oauth/token", data=form)
        body = await response.json()
        assert response.status == 200, body
        return str(body["access_token"])

    async def get(self, path: str, token: str | None, **params: str) -> tuple[int, dict[str, Any], Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = await self.http.get(path, params=params, headers=headers)
        return response.status, dict(response.headers), await response.json(content_type=None)


@pytest.fixture
async def admin(aiohttp_client: Any, tmp_path: Path) -> Admin:
    port = unused_port()
    base = f"http://127.0.0.1:{port}"
    registry = SqliteRegistry(tmp_path / "gateway.sqlite3")
    await registry.open()
    user = await register_client(registry)
    admin_reg = await register_client(registry, scope=scopes.ADMIN, npi=ADMIN_NPI, first="DIV", last="ISION")
    settings = settings_for_tests(tmp_path)
    app = create_app(
        settings,
        "",
        cursor_key=load_or_create_key(tmp_path),
        issuer=base,
        backend=FakeSearchBackend(pb.SearchHistoryResponse()),
        registry=registry,
    )
    audit = AuditService.build(AuditConfig.from_settings(settings))
    app.cleanup_ctx.append(audit.lifecycle)
    setup_audit_routes(app, audit=audit, registry=registry)
    http = await aiohttp_client(app, server_kwargs={"port": port})
    await audit.store.append(
        [
            make_record(1, time="2026-03-01T10:00:00.000000Z", user_id=user.user_id, eds_id=user.eds_id),
            make_record(2, time="2026-03-02T10:00:00.000000Z", outcome="denied", user_id=""),
        ]
    )
    return Admin(http, audit, admin_reg, user, base)


async def test_accounting_answers_an_admin_and_records_the_read(admin: Admin) -> None:
    token = await admin.token(admin.admin, scopes.ADMIN)
    status, headers, body = await admin.get(
        "/admin/audit/accounting", token, last="Smith", first="Jane", dob="1980-01-02", reason="patient request #12"
    )
    assert status == 200, body
    assert headers["Content-Type"].startswith("application/json")
    (d,) = body["disclosures"]
    assert (d["requester"], d["eds"], d["role"], d["outcome"]) == ("AMSTER, ADAM", "Test EHR", "prescriber", "provided")
    assert body["withheld"] is False
    records = await admin.audit.store.records()
    read = records[-1].record
    assert (read.kind, read.operation, read.client_id, read.q_last) == (
        Kind.ADMIN,
        "audit-accounting",
        admin.admin.client_id,
        "SMITH",
    )
    assert read.details == {"actor": f"client:{admin.admin.client_id}", "reason": "patient request #12"}


async def test_usage_answers_an_admin(admin: Admin) -> None:
    token = await admin.token(admin.admin, scopes.ADMIN)
    status, _, body = await admin.get("/admin/reports/usage", token, **{"from": "2026-03-01", "to": "2026-03-31"})
    assert status == 200
    assert body["total"] == 2 and body["outcomes"] == {"denied": 1, "provided": 1}
    assert [r["key"] for r in body["by_day"]] == ["2026-03-01", "2026-03-02"]


@pytest.mark.parametrize("path", ["/admin/audit/accounting", "/admin/reports/usage"])
async def test_a_token_is_required_with_the_admin_scope(admin: Admin, path: str) -> None:
    status, headers, body = await admin.get(path, None, patient_id="p1")
    assert status == 401 and headers["WWW-Authenticate"].startswith("Bearer")
    assert headers["Content-Type"].startswith("application/problem+json")
    assert body["type"] == "urn:pmp-gateway:error:unauthenticated"
    not_admin = await admin.token(admin.user, scopes.MEDICATION_DISPENSE_READ)
    status, _, body = await admin.get(path, not_admin, patient_id="p1")
    assert status == 403 and body["type"] == "urn:pmp-gateway:error:insufficient_scope"


@pytest.mark.parametrize(
    "params",
    [
        {"last": "Smith"},
        {"last": "Smith", "dob": "1980-02-30"},
        {"patient_id": "p1", "from": "March"},
        {"patient_id": "p1", "from": "2026-03-02", "to": "2026-03-01"},
        {"patient_id": "x" * 201},
    ],
)
async def test_bad_parameters_are_400(admin: Admin, params: dict[str, str]) -> None:
    token = await admin.token(admin.admin, scopes.ADMIN)
    status, headers, body = await admin.get("/admin/audit/accounting", token, **params)
    assert status == 400 and body["type"] == "urn:pmp-gateway:error:invalid_request"
    assert headers["Content-Type"].startswith("application/problem+json")


async def test_no_audit_no_accounting(admin: Admin) -> None:
    token = await admin.token(admin.admin, scopes.ADMIN)
    await admin.audit.store.close()
    status, _, body = await admin.get("/admin/audit/accounting", token, patient_id="p1")
    assert status == 503 and body["type"] == "urn:pmp-gateway:error:audit_unavailable"
    status, _, body = await admin.get("/admin/reports/usage", token)
    assert status == 503


async def test_admin_actions_are_recorded_through_the_hook(admin: Admin) -> None:
    @dataclass(frozen=True)
    class Suspension:
        id: str = "sus_1"
        kind: str = "user"
        target: str = "usr_9"
        until: str = ""

    @dataclass
    class Action:
        action: str = "suspend"
        actor: str = "cli_admin"
        actor_eds: str = "eds_admin"
        reason: str = "licence revoked"
        request_id: str = "rid-9"
        suspension: Suspension = field(default_factory=Suspension)

    await record_admin_action(admin.audit)(Action())
    rec = (await admin.audit.store.records())[-1].record
    assert (rec.kind, rec.operation, rec.client_id, rec.eds_id, rec.request_id) == (
        "admin",
        "suspension-suspend",
        "cli_admin",
        "eds_admin",
        "rid-9",
    )
    assert rec.details["reason"] == "licence revoked" and rec.details["suspension"]["target"] == "usr_9"
