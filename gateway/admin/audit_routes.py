"""Admin routes over the audit trail. Each needs a bearer access token with scope ``pmp/admin``; errors are
``application/problem+json`` (401 with a ``Bearer`` challenge, 403 without the scope, 400 bad parameters, 503 when
the audit database or the registry is unavailable).

- ``GET /admin/audit/accounting?last=&first=&dob=`` and/or ``&patient_id=``, optional ``from``, ``to``
  (YYYY-MM-DD), ``include_refused=true``, ``reason=`` → the accounting of disclosures for one individual
  (``gateway.audit.reports``). Reading it is recorded in the trail (the admin client, the reason, the individual)
  before the answer is sent: no audit, no data.
- ``GET /admin/reports/usage?from=&to=`` → requests and outcomes per user, EDS, partner state and day.

``record_admin_action(audit)`` is a hook for other admin routes (suspensions: ``gateway.routes.admin``'s
``on_action``) that records each admin action in the trail with who and why.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import date
from typing import Any, Protocol

import orjson
from aiohttp import web

from gateway.audit import AUDIT, AuditInputError, AuditService, AuditUnavailableError, Subject, accounting, usage
from gateway.audit.record import admin_record
from gateway.audit.reports import access_record
from gateway.auth.tokens import AccessToken
from gateway.policy.registry.store.base import RegistryStore
from gateway.problem import problem_response
from protos.errors import PmpError
from protos.pmp.v1 import pmp_pb2 as pb

log = logging.getLogger("pmp.admin")

AUDIT_REGISTRY = web.AppKey("audit_registry", RegistryStore)
MAX_PARAM = 200
_TRUE = frozenset({"1", "true", "yes"})

Handler = Callable[[web.Request], Awaitable[web.Response]]


def _json(body: object) -> web.Response:
    return web.Response(body=orjson.dumps(body), content_type="application/json")


def _problem(error: PmpError) -> web.Response:
    response = problem_response(error)
    if error.code == pb.ERROR_CODE_UNAUTHENTICATED:
        response.headers["WWW-Authenticate"] = 'Bearer realm="pmp-gateway"'
    return response


def _invalid(detail: str) -> PmpError:
    return PmpError(pb.ERROR_CODE_INVALID_REQUEST, detail)


def _param(request: web.Request, name: str) -> str:
    values = request.query.getall(name, [])
    if len(values) > 1:
        raise _invalid(f"{name}: given more than once")
    value = values[0].strip() if values else ""
    if len(value) > MAX_PARAM or not value.isprintable():
        raise _invalid(f"{name}: at most {MAX_PARAM} printable characters")
    return value


def _day(request: web.Request, name: str) -> date | None:
    value = _param(request, name)
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise _invalid(f"{name}: not a YYYY-MM-DD date") from None


def _admin(request: web.Request) -> AccessToken:
    """A verified ``pmp/admin`` token of a client that is not suspended (the suspension routes' own check)."""
    from gateway.routes.admin import admin_token

    return admin_token(request)


def _guarded(handler: Callable[[web.Request, AccessToken], Awaitable[web.Response]]) -> Handler:
    """Authenticate, run, and render every refusal as problem+json (whatever renderers the app has)."""

    async def run(request: web.Request) -> web.Response:
        try:
            return await handler(request, _admin(request))
        except PmpError as error:
            return _problem(error)
        except AuditInputError as exc:
            return _problem(_invalid(str(exc)))
        except AuditUnavailableError as exc:
            log.warning("audit report unavailable", extra={"error": str(exc)})
            return _problem(PmpError(pb.ERROR_CODE_AUDIT_UNAVAILABLE, "the audit trail is unavailable", retry_after=1))

    return run


async def _accounting(request: web.Request, token: AccessToken) -> web.Response:
    audit = request.app[AUDIT]
    subject = Subject(
        last=_param(request, "last"),
        first=_param(request, "first"),
        dob=_param(request, "dob"),
        patient_id=_param(request, "patient_id"),
    ).checked()
    found = await accounting(
        audit.store,
        subject,
        start=_day(request, "from"),
        end=_day(request, "to"),
        registry=request.app.get(AUDIT_REGISTRY),
        include_refused=_param(request, "include_refused").lower() in _TRUE,
    )
    actor = f"client:{token.client_id}"
    record = access_record(
        subject, actor=actor, reason=_param(request, "reason"), client_id=token.client_id, count=len(found.disclosures)
    )
    await audit.writer.record(record)  # no audit, no data: AuditUnavailableError → 503
    return _json(found.as_json())


async def _usage(request: web.Request, token: AccessToken) -> web.Response:
    report = await usage(request.app[AUDIT].store, start=_day(request, "from"), end=_day(request, "to"))
    return _json(report.as_json())


def setup_audit_routes(
    app: web.Application, *, audit: AuditService | None = None, registry: RegistryStore | None = None
) -> None:
    """Add the audit admin routes. Needs the OAuth routes' token service (``gateway.routes.oauth.setup``) and the
    audit service (``app[AUDIT]``, or ``audit`` here). ``registry`` names requesters and EDSs in accountings."""
    if audit is not None:
        app[AUDIT] = audit
    if registry is not None:
        app[AUDIT_REGISTRY] = registry
    app.router.add_get("/admin/audit/accounting", _guarded(_accounting))
    app.router.add_get("/admin/reports/usage", _guarded(_usage))


class AdminActionLike(Protocol):
    """What an admin route reports of one action (``gateway.routes.admin.AdminAction`` has these)."""

    @property
    def action(self) -> str: ...
    @property
    def actor(self) -> str: ...
    @property
    def actor_eds(self) -> str: ...
    @property
    def reason(self) -> str: ...
    @property
    def request_id(self) -> str: ...
    @property
    def suspension(self) -> Any: ...


def record_admin_action(audit: AuditService) -> Callable[[AdminActionLike], Awaitable[None]]:
    """A hook recording each admin action in the trail: who (the admin client and its EDS), what, why, on what."""

    async def hook(event: AdminActionLike) -> None:
        target = event.suspension
        detail = {
            "reason": event.reason,
            "suspension": {
                "id": getattr(target, "id", ""),
                "kind": str(getattr(target, "kind", "")),
                "target": getattr(target, "target", ""),
                "until": getattr(target, "until", ""),
            },
        }
        record = admin_record(f"suspension-{event.action}", actor=event.actor, client_id=event.actor, detail=detail)
        await audit.writer.record(replace(record, eds_id=event.actor_eds, request_id=event.request_id))

    return hook
