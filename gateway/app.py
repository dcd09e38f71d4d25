"""The aiohttp application factory: typed app state, resources opened in ``cleanup_ctx``, one middleware that
gives every request an id, metrics, an access log line and a protocol-correct error whatever happens.

The pmpdb channel is created inside the running loop of the process that serves (never before a fork —
``shared/reference/platform.md`` §3.7).
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import grpc
import orjson
from aiohttp import web
from aiohttp.typedefs import Middleware
from grpc_health.v1 import health_pb2, health_pb2_grpc

from gateway import metrics
from gateway.audit import AUDIT
from gateway.backend import GrpcSearchBackend, SearchBackend
from gateway.cursor import CursorCodec, PatientIds
from gateway.pipeline import Pipeline, build_pipeline
from gateway.policy.registry.store.base import RegistryStore
from gateway.problem import problem_response
from gateway.services import Services
from gateway.settings import Settings
from protos.errors import PmpError
from protos.pmp.v1 import pmp_pb2 as pb

ErrorRenderer = Callable[[PmpError], web.Response]

SETTINGS = web.AppKey("settings", Settings)
PMPDB_CHANNEL = web.AppKey("pmpdb_channel", grpc.aio.Channel)
PIPELINE = web.AppKey("pipeline", Pipeline)
CURSORS = web.AppKey("cursors", CursorCodec)
PATIENT_IDS = web.AppKey("patient_ids", PatientIds)
ERROR_RENDERERS = web.AppKey("error_renderers", list[tuple[str, ErrorRenderer]])
SERVICES = web.AppKey("services", Services)
REQUEST_ID = web.RequestKey("request_id", str)

PMPDB_SERVICE = "pmp.v1.PrescriptionSearch"
READINESS_TIMEOUT_S = 1.0
_CLIENT_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")

access_log = logging.getLogger("pmp.access")
error_log = logging.getLogger("pmp.gateway")


def json_response(body: object, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(body), status=status, content_type="application/json")


def _route_name(request: web.Request) -> str:
    """The router's pattern (never the raw path: it may carry identifiers)."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


def render_error(request: web.Request, error: PmpError) -> web.Response:
    """The error in the protocol of the route it happened on (problem+json if that renderer itself fails)."""
    for prefix, renderer in request.app[ERROR_RENDERERS]:
        if request.path.startswith(prefix):
            try:
                return renderer(error)
            except Exception:
                error_log.exception("error renderer failed", extra={"request_id": request.get(REQUEST_ID, "")})
                break
    return problem_response(error)


def _as_pmp_error(exc: web.HTTPException) -> PmpError:
    codes = {404: pb.ERROR_CODE_INVALID_REQUEST, 405: pb.ERROR_CODE_UNSUPPORTED, 413: pb.ERROR_CODE_PAYLOAD_TOO_LARGE}
    return PmpError(codes.get(exc.status, pb.ERROR_CODE_INVALID_REQUEST), exc.reason)


@web.middleware
async def observe(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Request id, in-flight gauge, latency, access log, and errors rendered in the route's protocol — never a
    traceback, never PHI."""
    supplied = request.headers.get("X-Request-ID", "")
    request_id = supplied if _CLIENT_REQUEST_ID.match(supplied) else uuid.uuid4().hex
    request[REQUEST_ID] = request_id
    route = _route_name(request)
    started = time.perf_counter()
    metrics.IN_FLIGHT.inc()
    outcome = "ok"
    response: web.StreamResponse | None = None
    try:
        response = await handler(request)
    except PmpError as error:
        outcome = error.code_name
        response = render_error(request, error)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        http_error = _as_pmp_error(exc)
        outcome = http_error.code_name
        response = render_error(request, http_error)
        response.set_status(exc.status, exc.reason)
        if "Allow" in exc.headers:  # a 405 must say which methods the resource has
            response.headers["Allow"] = exc.headers["Allow"]
    except Exception:
        outcome = "internal"
        error_log.exception("unhandled error", extra={"request_id": request_id, "route": route})
        response = render_error(request, PmpError(pb.ERROR_CODE_INTERNAL, "internal error"))
    finally:
        elapsed = time.perf_counter() - started
        metrics.IN_FLIGHT.dec()
        if response is None:
            outcome = "cancelled"
        metrics.REQUESTS.labels(route, outcome).inc()
        metrics.REQUEST_SECONDS.labels(route).observe(elapsed)
        access_log.info(
            "request",
            extra={
                "request_id": request_id,
                "method": request.method,
                "route": route,
                "status": response.status if response is not None else 499,
                "outcome": outcome,
                "ms": round(elapsed * 1000, 2),
            },
        )
    response.headers["X-Request-ID"] = request_id
    return response


async def healthz(request: web.Request) -> web.Response:
    """Alive: the process answers. Says nothing about dependencies (that is /readyz)."""
    return json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """Ready: pmpdb answers SERVING and the registry answers. Also lists every pipeline stage's state, disabled
    ones included."""
    checks: dict[str, str] = {}
    channel = request.app.get(PMPDB_CHANNEL)
    if channel is None:
        checks["pmpdb"] = "in-process test backend"
    else:
        try:
            reply = await health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=PMPDB_SERVICE), timeout=READINESS_TIMEOUT_S
            )
            checks["pmpdb"] = health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status).lower()
        except grpc.aio.AioRpcError as exc:
            checks["pmpdb"] = f"unreachable ({exc.code().name.lower()})"
    try:
        await request.app[SERVICES].registry.ping()
        checks["registry"] = "ok"
    except Exception as exc:  # any failure of the store means not ready; the kind is enough for an operator
        checks["registry"] = f"unavailable ({type(exc).__name__})"
    audit = request.app.get(AUDIT)
    if audit is not None:  # no audit, no data: a trail that cannot be written makes the gateway not ready
        try:
            await audit.store.ping()
            checks["audit"] = "ok" if audit.writer.running else "writer stopped"
        except Exception as exc:
            checks["audit"] = f"unavailable ({type(exc).__name__})"
    ready = (
        checks["pmpdb"] in {"serving", "in-process test backend"}
        and checks["registry"] == "ok"
        and checks.get("audit", "ok") == "ok"
    )
    body = {"status": "ready" if ready else "not-ready", "checks": checks, "stages": request.app[PIPELINE].describe()}
    return json_response(body, 200 if ready else 503)


async def metrics_endpoint(request: web.Request) -> web.Response:
    response = web.Response(body=metrics.render())
    response.headers["Content-Type"] = metrics.CONTENT_TYPE
    return response


def create_app(
    settings: Settings,
    pmpdb_target: str,
    *,
    cursor_key: bytes,
    issuer: str,
    backend: SearchBackend | None = None,
    registry: RegistryStore | None = None,
) -> web.Application:
    """The gateway for one process. ``issuer`` is the OAuth issuer and token audience (see
    ``gateway.services.default_issuer``). ``backend`` replaces the gRPC backend in tests (then ``pmpdb_target`` is
    unused); otherwise one grpc.aio channel to ``pmpdb_target`` is opened when the app starts. ``registry`` (an
    unopened store) replaces the one the settings name."""
    from gateway.admin.audit_routes import record_admin_action, setup_audit_routes
    from gateway.audit import AuditConfig, AuditService
    from gateway.interstate.build import make_interstate
    from gateway.pipeline.audit import Audit
    from gateway.pipeline.authenticate import Authenticate
    from gateway.pipeline.identify import Identify
    from gateway.pipeline.partner_policy import PartnerPolicy
    from gateway.pipeline.rate_limit import RateLimit, rate_limit_headers
    from gateway.pipeline.suspension import SuspensionCheck
    from gateway.routes import admin, fhir, interstate, ncpdp, oauth

    services = Services.build(settings, issuer=issuer, registry=registry)
    middlewares: list[Middleware] = [observe]
    if settings.rate_limit:  # outside observe: it must see the error responses observe renders
        middlewares.insert(0, rate_limit_headers(services.quotas.default_policy_header()))
    app = web.Application(client_max_size=settings.max_body_bytes, middlewares=middlewares)
    app[SETTINGS] = settings
    app[CURSORS] = CursorCodec(cursor_key, settings.token_ttl_seconds)
    app[PATIENT_IDS] = PatientIds(cursor_key, settings.token_ttl_seconds)
    app[ERROR_RENDERERS] = []
    app[SERVICES] = services
    app.cleanup_ctx.append(services.lifecycle)
    authenticate, identify = Authenticate(services.tokens.verifier), Identify(services.registry)
    partner_policy = PartnerPolicy(services.registry, services.partners)
    outbound = (  # fan-out to partners; a suspended partner state is not asked
        make_interstate(settings, services.partners, suspensions=services.suspensions if settings.suspension else None)
        if settings.interstate
        else None
    )
    if outbound is not None:
        app.cleanup_ctx.append(outbound.clients.lifecycle)  # after services: the partner directory is read
    suspension, rate_limit = SuspensionCheck(services.suspensions), RateLimit(services.limiter, services.quotas)
    audit_stage: Audit | None = None
    if settings.audit:
        audit = AuditService.build(AuditConfig.from_settings(settings))
        app[AUDIT] = audit
        app.cleanup_ctx.append(audit.lifecycle)
        audit_stage = Audit()
    if backend is not None:
        app[PIPELINE] = build_pipeline(
            settings,
            backend,
            authenticate=authenticate,
            identify=identify,
            suspension=suspension,
            rate_limit=rate_limit,
            audit=audit_stage,
            partner_policy=partner_policy,
            interstate=outbound,
        )
    else:

        async def pmpdb_channel(app: web.Application) -> AsyncIterator[None]:
            channel = grpc.aio.insecure_channel(
                pmpdb_target,
                options=[("grpc.keepalive_time_ms", 30_000), ("grpc.keepalive_permit_without_calls", 1)],
            )
            app[PMPDB_CHANNEL] = channel
            app[PIPELINE] = build_pipeline(
                settings,
                GrpcSearchBackend(channel),
                authenticate=authenticate,
                identify=identify,
                suspension=suspension,
                rate_limit=rate_limit,
                audit=audit_stage,
                partner_policy=partner_policy,
                interstate=outbound,
            )
            yield
            await channel.close()

        app.cleanup_ctx.append(pmpdb_channel)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics_endpoint)
    oauth.setup(app, services.tokens)
    hooks = [record_admin_action(app[AUDIT])] if settings.audit else []  # every admin action is audited
    admin.setup(app, services.suspensions, registry=services.registry, on_action=hooks)  # after oauth: verifier
    fhir.setup(app)
    ncpdp.setup(app)
    interstate.setup(app)
    if settings.audit:
        setup_audit_routes(app, registry=services.registry)
    return app
