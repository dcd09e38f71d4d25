"""NCPDP SCRIPT route: ``POST /ncpdp/script``, one ``Message`` per request (RxHistoryRequest, 2017071 or 10.6).

The same pipeline as FHIR. The reply is in the version asked: ``RxHistoryResponse`` (Approved, or Denied for no
match, an ambiguous match or a disallowed role — a clinical answer, HTTP 200) or ``Error`` (600 try later,
601 unable to process, 602 system error, 900 rejected) with the HTTP status of DESIGN §4.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from aiohttp import web

from adapters import ncpdp
from adapters.ncpdp.response import MAX_DISPENSED
from gateway.app import ERROR_RENDERERS, SETTINGS
from gateway.routes.common import add_error_headers, bearer, new_context, read_body, run_pipeline, today
from protos.errors import PmpError
from protos.pmp.v1 import pmp_pb2 as pb

XML = "application/xml"
_READABLE = frozenset({"application/xml", "text/xml"})
_ACCEPTABLE = ("application/xml", "text/xml", "application/*", "text/*", "*/*")
_DENIED_STATUS = 200  # a Denied RxHistoryResponse is an answer, not a transport failure


def xml_response(body: bytes, status: int = 200) -> web.Response:
    return web.Response(body=body, status=status, content_type=XML, charset="utf-8")


def _message_id() -> str:
    return uuid.uuid4().hex  # an..35


def _responder(request: web.Request) -> str:
    return f"{request.app[SETTINGS].state_code}PMP"


def _refusal(
    request: web.Request,
    error: PmpError,
    query: ncpdp.RxHistoryQuery | None,
    header: ncpdp.MessageHeader | None,
) -> web.Response:
    body = ncpdp.encode_refusal(
        error,
        query=query,
        header=header,
        message_id=_message_id(),
        now=datetime.now(UTC),
        responder=_responder(request),
    )
    denied = query is not None and error.code in ncpdp.DENIED_CODES
    return add_error_headers(xml_response(body, _DENIED_STATUS if denied else error.http_status), error)


def _check_media(request: web.Request) -> None:
    if request.content_type.lower() not in _READABLE:
        raise PmpError(pb.ERROR_CODE_UNSUPPORTED_MEDIA_TYPE, "send the SCRIPT Message as application/xml")
    accept = request.headers.get("Accept", "*/*").lower()
    if not any(media in accept for media in _ACCEPTABLE):
        raise PmpError(pb.ERROR_CODE_NOT_ACCEPTABLE, "only application/xml is offered")


async def script(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    header: ncpdp.MessageHeader | None = None
    query: ncpdp.RxHistoryQuery | None = None
    try:
        _check_media(request)
        root = ncpdp.parse_message(await read_body(request))
        header = ncpdp.read_header(root)
        query = ncpdp.decode_rx_history_request(
            root,
            today=today(),
            default_lookback_days=settings.history_lookback_days,
            max_lookback_days=settings.history_max_days,
        )
        query.request.page_size = MAX_DISPENSED  # one message carries up to 300; more is said in a Note
        ctx = new_context(request, "ncpdp", "rx-history", query.request)
        ctx.authorization = bearer(request)
        answer = await run_pipeline(request, ctx)
    except PmpError as error:
        return _refusal(request, error, query, header)
    body = ncpdp.encode_rx_history_response(answer, query=query, message_id=_message_id(), now=datetime.now(UTC))
    return xml_response(body)


def _render_error(error: PmpError) -> web.Response:
    """Errors raised before the route runs (404, 405, 413): an ``Error`` with no request header to relate to."""
    body = ncpdp.encode_error(error, header=None, message_id=_message_id(), now=datetime.now(UTC))
    return add_error_headers(xml_response(body, error.http_status), error)


def setup(app: web.Application) -> None:
    app[ERROR_RENDERERS].append(("/ncpdp", _render_error))
    app.router.add_post("/ncpdp/script", script)
