"""The division's admin API for suspensions (issue 6). JSON in and out; errors are ``application/problem+json``.

Every route needs a bearer access token with scope ``pmp/admin`` (``gateway.auth.scopes.ADMIN``); a suspended admin
client (or one of a suspended EDS) is refused like any other.

- ``POST /admin/suspensions`` ``{"kind": "eds"|"client"|"user"|"state", "target": ID, "reason": TEXT,
  "until": ISO-8601 | "12h" | "7d" (optional)}`` → 201 and the record (``Location`` names it). ``target``: the
  registry id of the EDS, client or user (it must be registered), or a USPS state code.
- ``DELETE /admin/suspensions/{id}`` with ``{"reason": TEXT}`` (or ``?reason=``) → 200 and the reinstated record;
  404 unknown id; 409 already reinstated.
- ``GET /admin/suspensions[?limit=N]`` → ``{"current": [in force], "history": [every record, newest first]}``;
  ``GET /admin/suspensions/{id}`` → one record. Records carry ``status``: active, expired or reinstated.

Who and why: each record keeps who suspended (the admin token's client id), when, why, until when, and who
reinstated, when and why. Each action is also logged (ids only) and handed to the ``on_action`` hooks — the seam for
the audit trail (issue 7): an ``AdminAction`` names the actor, the action, the reason, the record and the request.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from aiohttp import web

from gateway.app import ERROR_RENDERERS, REQUEST_ID
from gateway.auth import scopes
from gateway.auth.tokens import AccessToken
from gateway.pipeline.authenticate import authenticate
from gateway.policy.registry.errors import RegistryError
from gateway.policy.registry.store.base import RegistryStore
from gateway.policy.suspension.errors import (
    SuspensionConflictError,
    SuspensionInputError,
    SuspensionNotFoundError,
    SuspensionStateUnavailable,
    SuspensionUnavailableError,
)
from gateway.policy.suspension.live import SuspensionSet
from gateway.policy.suspension.model import Suspension, SuspensionKind, normalize_target, parse_until
from gateway.problem import problem_response
from gateway.routes.common import add_error_headers
from gateway.routes.oauth import TOKEN_SERVICE
from protos.errors import PmpError
from protos.pmp.v1 import pmp_pb2 as pb

log = logging.getLogger("pmp.admin")

MAX_BODY_BYTES = 16 * 1024
DEFAULT_LIMIT = 200
MAX_LIMIT = 1000


@dataclass(slots=True, frozen=True)
class AdminAction:
    """One admin action, for the audit trail: ``action`` is ``suspend`` or ``reinstate``."""

    action: str
    actor: str  # the admin token's client id
    actor_eds: str
    reason: str
    suspension: Suspension
    request_id: str
    at: str


AdminActionHook = Callable[[AdminAction], Awaitable[None]]

SUSPENSIONS = web.AppKey("admin_suspensions", SuspensionSet)
ADMIN_REGISTRY = web.AppKey("admin_registry", RegistryStore)
ACTION_HOOKS = web.AppKey("admin_action_hooks", list[AdminActionHook])


def _json(body: object, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=orjson.dumps(body), status=status, content_type="application/json", headers=headers)


def _problem(status: int, code: str, detail: str) -> web.Response:
    body = {
        "type": f"urn:pmp-gateway:error:{code}",
        "title": code.replace("_", " "),
        "status": status,
        "detail": detail,
    }
    return web.Response(body=orjson.dumps(body), status=status, content_type="application/problem+json")


def _invalid(detail: str) -> PmpError:
    return PmpError(pb.ERROR_CODE_INVALID_REQUEST, detail)


def _unavailable(exc: SuspensionUnavailableError) -> PmpError:
    return PmpError(pb.ERROR_CODE_BACKEND_UNAVAILABLE, str(exc), retry_after=1.0)


def admin_token(request: web.Request) -> AccessToken:
    """The caller's verified admin token; a suspended caller is refused (fail closed when unconfirmed)."""
    token = authenticate(request.app[TOKEN_SERVICE].verifier, request.headers.get("Authorization", ""), scopes.ADMIN)
    try:
        found = request.app[SUSPENSIONS].is_suspended(eds_id=token.eds_id, client_id=token.client_id)
    except SuspensionStateUnavailable:
        raise PmpError(
            pb.ERROR_CODE_BACKEND_UNAVAILABLE, "the suspension list cannot be confirmed", retry_after=1.0
        ) from None
    if found is not None:
        raise PmpError(pb.ERROR_CODE_SUSPENDED, f"the {found.kind.noun} is suspended")
    return token


async def _body(request: web.Request, *, required: bool) -> dict[str, Any]:
    if not request.can_read_body:
        if required:
            raise _invalid("a JSON object body is required")
        return {}
    if request.content_type != "application/json":
        raise PmpError(pb.ERROR_CODE_UNSUPPORTED_MEDIA_TYPE, "send application/json")
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise PmpError(pb.ERROR_CODE_PAYLOAD_TOO_LARGE, f"the body is larger than {MAX_BODY_BYTES} bytes")
    raw = await request.content.read(MAX_BODY_BYTES + 1)
    if len(raw) > MAX_BODY_BYTES:
        raise PmpError(pb.ERROR_CODE_PAYLOAD_TOO_LARGE, f"the body is larger than {MAX_BODY_BYTES} bytes")
    try:
        body = orjson.loads(raw) if raw else {}
    except orjson.JSONDecodeError:
        raise _invalid("the body is not JSON") from None
    if not isinstance(body, dict):
        raise _invalid("the body must be a JSON object")
    return body


async def _check_registered(registry: RegistryStore | None, kind: SuspensionKind, target: str) -> None:
    if registry is None or kind is SuspensionKind.STATE:
        return
    try:
        if kind is SuspensionKind.EDS:
            found: object = await registry.get_eds(target)
        elif kind is SuspensionKind.CLIENT:
            found = await registry.get_client(target)
        else:
            found = await registry.get_user(target)
    except RegistryError:
        raise PmpError(pb.ERROR_CODE_BACKEND_UNAVAILABLE, "the registry cannot be reached", retry_after=1.0) from None
    if found is None:
        raise _invalid(f"target: no registered {kind.noun} with this id")


async def _announce(request: web.Request, action: str, token: AccessToken, reason: str, record: Suspension) -> None:
    event = AdminAction(
        action=action,
        actor=token.client_id,
        actor_eds=token.eds_id,
        reason=reason,
        suspension=record,
        request_id=request.get(REQUEST_ID, ""),
        at=record.reinstated_at if action == "reinstate" else record.at,
    )
    log.info(
        f"admin {action}",
        extra={
            "request_id": event.request_id,
            "client_id": token.client_id,
            "suspension": record.id,
            "kind": record.kind.value,
        },
    )
    for hook in request.app[ACTION_HOOKS]:
        try:
            await hook(event)
        except Exception:  # the change is made and recorded in its history; a hook failure must not hide that
            log.exception("admin action hook failed", extra={"request_id": event.request_id, "suspension": record.id})


async def suspend(request: web.Request) -> web.Response:
    token = admin_token(request)
    body = await _body(request, required=True)
    try:
        kind = SuspensionKind.parse(body.get("kind", ""))
        target = normalize_target(kind, body.get("target"))
        until = body.get("until")
        if until is not None and not isinstance(until, str):
            raise SuspensionInputError("until: text (ISO-8601 or a duration such as 12h)")
        end = parse_until(until, datetime.now(UTC)) if until else None
        await _check_registered(request.app.get(ADMIN_REGISTRY), kind, target)
        record = await request.app[SUSPENSIONS].suspend(
            kind, target, reason=body.get("reason", ""), by=token.client_id, until=end
        )
    except SuspensionInputError as exc:
        raise _invalid(str(exc)) from None
    except SuspensionUnavailableError as exc:
        raise _unavailable(exc) from None
    await _announce(request, "suspend", token, record.reason, record)
    location = f"/admin/suspensions/{record.id}"
    return _json(record.as_json(datetime.now(UTC).timestamp()), 201, {"Location": location})


async def reinstate(request: web.Request) -> web.Response:
    token = admin_token(request)
    body = await _body(request, required=False)
    reason = body.get("reason", request.query.get("reason", ""))
    try:
        record = await request.app[SUSPENSIONS].reinstate(request.match_info["id"], by=token.client_id, reason=reason)
    except SuspensionNotFoundError as exc:
        return _problem(404, "not_found", str(exc))
    except SuspensionConflictError as exc:
        return _problem(409, "conflict", str(exc))
    except SuspensionInputError as exc:
        raise _invalid(str(exc)) from None
    except SuspensionUnavailableError as exc:
        raise _unavailable(exc) from None
    await _announce(request, "reinstate", token, record.reinstate_reason, record)
    return _json(record.as_json(datetime.now(UTC).timestamp()))


def _limit(request: web.Request) -> int:
    text = request.query.get("limit", str(DEFAULT_LIMIT))
    if not text.isdigit() or not 1 <= int(text) <= MAX_LIMIT:
        raise _invalid(f"limit: a number from 1 to {MAX_LIMIT}")
    return int(text)


async def list_suspensions(request: web.Request) -> web.Response:
    admin_token(request)
    limit = _limit(request)
    suspensions = request.app[SUSPENSIONS]
    try:
        snapshot = await suspensions.store.snapshot()
        history = await suspensions.history(limit)
    except SuspensionUnavailableError as exc:
        raise _unavailable(exc) from None
    now = datetime.now(UTC).timestamp()
    current = sorted((r for r in snapshot.suspensions if r.in_force(now)), key=lambda r: (r.at, r.id), reverse=True)
    return _json({"current": [r.as_json(now) for r in current], "history": [r.as_json(now) for r in history]})


async def show_suspension(request: web.Request) -> web.Response:
    admin_token(request)
    try:
        record = await request.app[SUSPENSIONS].store.get(request.match_info["id"])
    except SuspensionUnavailableError as exc:
        raise _unavailable(exc) from None
    if record is None:
        return _problem(404, "not_found", "no suspension with this id")
    return _json(record.as_json(datetime.now(UTC).timestamp()))


def _render(error: PmpError) -> web.Response:
    return add_error_headers(problem_response(error), error)


def setup(
    app: web.Application,
    suspensions: SuspensionSet,
    *,
    registry: RegistryStore | None = None,
    on_action: Sequence[AdminActionHook] = (),
) -> None:
    """Add the admin routes. Needs the OAuth routes' token service (``gateway.routes.oauth.setup`` first).
    ``registry``: targets of EDS, client and user suspensions must be registered there (not checked without it)."""
    app[SUSPENSIONS] = suspensions
    if registry is not None:
        app[ADMIN_REGISTRY] = registry
    app[ACTION_HOOKS] = list(on_action)
    app[ERROR_RENDERERS].append(("/admin", _render))
    app.router.add_post("/admin/suspensions", suspend)
    app.router.add_get("/admin/suspensions", list_suspensions)
    app.router.add_get("/admin/suspensions/{id}", show_suspension)
    app.router.add_delete("/admin/suspensions/{id}", reinstate)
