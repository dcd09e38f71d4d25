"""HTTP face of the authorization server: ``/oauth/token``, ``/oauth/introspect``, ``/oauth/revoke`` and the
discovery documents. Bodies are ``application/x-www-form-urlencoded``, capped at ``max_form_bytes``, each parameter at
most once (RFC 6749 §3.2); anything else is an RFC 6749 ``invalid_request`` — never a 500 for a client's input.

All the OAuth logic is in ``gateway.auth.service.TokenService``; these handlers only read forms and copy responses.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import parse_qsl

import orjson
from aiohttp import web

from gateway.auth.service import NO_STORE, OAuthResponse, TokenService

TOKEN_SERVICE = web.AppKey("token_service", TokenService)
FORM_LIMIT = web.AppKey("oauth_form_limit", int)
MAX_FORM_BYTES = 16 * 1024
_MAX_FIELDS = 20
_DISCOVERY_CACHE = "public, max-age=300"


def _oauth_error(status: int, description: str) -> web.Response:
    body = orjson.dumps({"error": "invalid_request", "error_description": description})
    return web.Response(body=body, status=status, content_type="application/json", headers=dict(NO_STORE))


def _respond(result: OAuthResponse) -> web.Response:
    response = web.Response(body=orjson.dumps(result.body), status=result.status)
    for name, value in result.headers:
        response.headers[name] = value
    response.headers.setdefault("Content-Type", "application/json")
    return response


async def read_form(request: web.Request, limit: int) -> dict[str, str] | web.Response:
    """The form's parameters, or the ``invalid_request`` response that refuses it."""
    if request.content_type != "application/x-www-form-urlencoded":
        return _oauth_error(400, "The body must be application/x-www-form-urlencoded.")
    if request.content_length is not None and request.content_length > limit:
        return _oauth_error(413, f"The body is larger than {limit} bytes.")
    body = bytearray()
    while True:
        chunk = await request.content.read(limit + 1 - len(body))
        if not chunk:
            break
        body += chunk
        if len(body) > limit:
            return _oauth_error(413, f"The body is larger than {limit} bytes.")
    try:
        pairs = parse_qsl(
            body.decode("ascii"), keep_blank_values=True, encoding="utf-8", errors="strict", max_num_fields=_MAX_FIELDS
        )
    except (UnicodeDecodeError, ValueError):
        return _oauth_error(400, "The form is malformed.")
    form: dict[str, str] = {}
    for name, value in pairs:
        if name in form:
            return _oauth_error(400, "A parameter is repeated.")
        form[name] = value
    return form


def _headers(request: web.Request) -> Mapping[str, str]:
    return {"Authorization": request.headers["Authorization"]} if "Authorization" in request.headers else {}


async def token(request: web.Request) -> web.Response:
    form = await read_form(request, request.app[FORM_LIMIT])
    if isinstance(form, web.Response):
        return form
    return _respond(await request.app[TOKEN_SERVICE].token(form, _headers(request)))


async def introspect(request: web.Request) -> web.Response:
    form = await read_form(request, request.app[FORM_LIMIT])
    if isinstance(form, web.Response):
        return form
    return _respond(await request.app[TOKEN_SERVICE].introspect(form, _headers(request)))


async def revoke(request: web.Request) -> web.Response:
    form = await read_form(request, request.app[FORM_LIMIT])
    if isinstance(form, web.Response):
        return form
    return _respond(await request.app[TOKEN_SERVICE].revoke(form, _headers(request)))


def _document(body: object) -> web.Response:
    return web.Response(
        body=orjson.dumps(body), content_type="application/json", headers={"Cache-Control": _DISCOVERY_CACHE}
    )


async def jwks(request: web.Request) -> web.Response:
    return _document(request.app[TOKEN_SERVICE].jwks())


async def smart_configuration(request: web.Request) -> web.Response:
    return _document(request.app[TOKEN_SERVICE].smart_configuration())


async def authorization_server_metadata(request: web.Request) -> web.Response:
    return _document(request.app[TOKEN_SERVICE].authorization_server_metadata())


def setup(app: web.Application, service: TokenService, *, max_form_bytes: int = MAX_FORM_BYTES) -> None:
    """Add the OAuth routes. The service's JWKS-fetching HTTP session is closed when the app cleans up."""
    app[TOKEN_SERVICE] = service
    app[FORM_LIMIT] = max_form_bytes
    app.router.add_post("/oauth/token", token)
    app.router.add_post("/oauth/introspect", introspect)
    app.router.add_post("/oauth/revoke", revoke)
    app.router.add_get("/.well-known/jwks.json", jwks)
    app.router.add_get("/.well-known/smart-configuration", smart_configuration)
    app.router.add_get("/fhir/.well-known/smart-configuration", smart_configuration)  # SMART: relative to FHIR base
    app.router.add_get("/.well-known/oauth-authorization-server", authorization_server_metadata)

    async def close(app: web.Application) -> None:
        await service.aclose()

    app.on_cleanup.append(close)
