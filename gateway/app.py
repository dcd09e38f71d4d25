"""The aiohttp application factory: typed app state, resources opened in ``cleanup_ctx``.

The pmpdb channel is created inside the running loop of the process that serves (never before a fork —
``shared/reference/platform.md`` §3.7). The protocol routes (FHIR, NCPDP, PMIX) and the request pipeline are
added by their own modules; this factory holds what every deployment has: liveness and readiness.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import orjson
from aiohttp import web
from grpc_health.v1 import health_pb2, health_pb2_grpc

from gateway.settings import Settings

SETTINGS = web.AppKey("settings", Settings)
PMPDB_CHANNEL = web.AppKey("pmpdb_channel", grpc.aio.Channel)
PMPDB_SERVICE = "pmp.v1.PrescriptionSearch"
READINESS_TIMEOUT_S = 1.0


def _json(body: object, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(body), status=status, content_type="application/json")


async def healthz(request: web.Request) -> web.Response:
    """Alive: the process answers. Says nothing about dependencies (that is /readyz)."""
    return _json({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """Ready: pmpdb answers its health check with SERVING."""
    stub = health_pb2_grpc.HealthStub(request.app[PMPDB_CHANNEL])
    checks: dict[str, str] = {}
    try:
        reply = await stub.Check(health_pb2.HealthCheckRequest(service=PMPDB_SERVICE), timeout=READINESS_TIMEOUT_S)
        checks["pmpdb"] = health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status).lower()
    except grpc.aio.AioRpcError as exc:
        checks["pmpdb"] = f"unreachable ({exc.code().name.lower()})"
    ready = checks["pmpdb"] == "serving"
    return _json({"status": "ready" if ready else "not-ready", "checks": checks}, 200 if ready else 503)


def create_app(settings: Settings, pmpdb_target: str) -> web.Application:
    """The gateway for one process, talking to pmpdb at ``pmpdb_target`` (host:port)."""
    app = web.Application(client_max_size=1 << 20)
    app[SETTINGS] = settings

    async def pmpdb_channel(app: web.Application) -> AsyncIterator[None]:
        channel = grpc.aio.insecure_channel(
            pmpdb_target,
            options=[
                ("grpc.keepalive_time_ms", 30_000),
                ("grpc.keepalive_permit_without_calls", 1),
            ],
        )
        app[PMPDB_CHANNEL] = channel
        yield
        await channel.close()

    app.cleanup_ctx.append(pmpdb_channel)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    return app
