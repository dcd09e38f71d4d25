"""What every protocol route does around the pipeline: read the body within limits, hold the time budget."""

from __future__ import annotations

import asyncio
from datetime import date

from aiohttp import web

from gateway.app import PIPELINE, REQUEST_ID, SETTINGS
from gateway.audit import AUDIT
from gateway.budget import Deadline
from gateway.pipeline import RequestContext
from gateway.pipeline.audit import audited
from protos.errors import PmpError
from protos.pmp.v1 import pmp_pb2 as pb


async def read_body(request: web.Request) -> bytes:
    """The request body, or PAYLOAD_TOO_LARGE past ``max_body_bytes`` (aiohttp stops reading there)."""
    try:
        return await request.read()
    except web.HTTPRequestEntityTooLarge:
        limit = request.app[SETTINGS].max_body_bytes
        raise PmpError(pb.ERROR_CODE_PAYLOAD_TOO_LARGE, f"the request body is larger than {limit} bytes") from None


def new_context(request: web.Request, protocol: str, operation: str, search: pb.SearchHistoryRequest) -> RequestContext:
    budget = request.app[SETTINGS].request_budget_seconds
    return RequestContext(request[REQUEST_ID], protocol, operation, Deadline.after(budget), search)


async def run_pipeline(request: web.Request, ctx: RequestContext) -> pb.SearchHistoryResponse:
    """Run the pipeline inside the request's remaining budget; an overrun is TIMEOUT (504 in every protocol).
    With the audit trail on, the run is audited: one record per request, an answer's committed before it returns."""
    pipeline = request.app[PIPELINE]

    async def run() -> None:
        try:
            async with asyncio.timeout(ctx.deadline.remaining()):
                await pipeline.run(ctx)
        except TimeoutError:
            raise PmpError(pb.ERROR_CODE_TIMEOUT, "the request's time budget ran out") from None

    audit = request.app.get(AUDIT)
    if audit is None:
        await run()
    else:
        await audited(ctx, run, audit.writer)
    if ctx.response is None:  # pragma: no cover - the search stage always sets it or raises
        raise PmpError(pb.ERROR_CODE_INTERNAL, "the search produced no answer")
    return ctx.response


def bearer(request: web.Request) -> str:
    """The Authorization header as sent ("" when absent); the authenticate stage judges it."""
    return request.headers.get("Authorization", "")


def add_error_headers(response: web.Response, error: PmpError) -> web.Response:
    """``Retry-After`` for errors that say when to retry; the RFC 6750 ``Bearer`` challenge with a 401."""
    if error.retry_after is not None:
        response.headers["Retry-After"] = str(max(1, round(error.retry_after)))
    if error.code == pb.ERROR_CODE_UNAUTHENTICATED:
        response.headers["WWW-Authenticate"] = 'Bearer realm="pmp-gateway"'
    return response


def today() -> date:
    return date.today()


def base_url(request: web.Request) -> str:
    configured = request.app[SETTINGS].public_base_url
    return configured.rstrip("/") if configured else f"{request.scheme}://{request.host}"
