"""``application/problem+json`` (RFC 9457) for the routes that speak no clinical protocol (ops, admin)."""

from __future__ import annotations

import orjson
from aiohttp import web

from protos.errors import PmpError


def problem_response(error: PmpError) -> web.Response:
    body = {
        "type": f"urn:pmp-gateway:error:{error.code_name}",
        "title": error.code_name.replace("_", " "),
        "status": error.http_status,
        "detail": error.detail,
    }
    response = web.Response(body=orjson.dumps(body), status=error.http_status, content_type="application/problem+json")
    if error.retry_after is not None:
        response.headers["Retry-After"] = str(max(1, round(error.retry_after)))
    return response
