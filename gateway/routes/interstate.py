"""Interstate route: ``POST /interstate/pmix``, one ``pmix:PMPRequest`` from a partner state's hub per request.

The same pipeline as FHIR and NCPDP, with scope ``pmp/interstate``; the ``partner_policy`` stage holds the caller
to its partner's inbound policy (``gateway.pipeline.partner_policy``). The answer is a ``pmix:PMPPrescriptionReport``
(``adapters.pmix``): ``complete``, ``no-data`` or ``deferred`` with HTTP 200; a refusal is the same report with the
PMIX status of the error (``disallowed``, ``error``…) and the error's HTTP status, ``Retry-After`` when it says when
to retry, a ``WWW-Authenticate`` challenge with a 401. A patient not found is ``no-data`` with 200, the very answer
of a person without dispensations, so a reply never discloses whether the PMP knows the person. A hub cannot page:
the report carries up to ``search_max_page_size`` dispensations and says how many the period holds.

The exchange namespace (``pmix:``) is the setting ``pmix_exchange_ns``; errors before the route (404, 405, 413)
under ``/interstate`` are PMIX reports too.
"""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web

from adapters import pmix
from adapters.pmix.codes import exchange_namespace
from gateway.app import ERROR_RENDERERS, SETTINGS
from gateway.routes.common import add_error_headers, bearer, new_context, read_body, run_pipeline, today
from gateway.settings import Settings
from protos.errors import PmpError
from protos.pmp.v1 import pmp_pb2 as pb

XML = "application/xml"
PATH = "/interstate/pmix"
_READABLE = frozenset({"application/xml", "text/xml"})
_ACCEPTABLE = ("application/xml", "text/xml", "application/*", "text/*", "*/*")
_ANSWERS = frozenset({pmix.NO_DATA, pmix.DEFERRED})  # refusals that are answers about the person: HTTP 200


def xml_response(body: bytes, status: int = 200) -> web.Response:
    return web.Response(body=body, status=status, content_type=XML, charset="utf-8")


def _check_media(request: web.Request) -> None:
    if request.content_type.lower() not in _READABLE:
        raise PmpError(pb.ERROR_CODE_UNSUPPORTED_MEDIA_TYPE, "send the pmix:PMPRequest as application/xml")
    accept = request.headers.get("Accept", "*/*").lower()
    if not any(media in accept for media in _ACCEPTABLE):
        raise PmpError(pb.ERROR_CODE_NOT_ACCEPTABLE, "only application/xml is offered")


def _check_addressed_to_us(query: pmix.PmixQuery, settings: Settings) -> None:
    if query.disclosing_state and query.disclosing_state != settings.state_code.upper():
        raise PmpError(
            pb.ERROR_CODE_INVALID_REQUEST,
            "the request is addressed to another state's PMP",
            location=("/pmix:PMPRequest/pmix:DisclosingState",),
        )


def _refusal(settings: Settings, error: PmpError, query: pmix.PmixQuery | None, body: bytes) -> web.Response:
    namespace = settings.pmix_exchange_ns
    salvaged = pmix.read_request_id(body, exchange_ns=namespace) if query is None and body else ""
    reply = pmix.encode_refusal(
        error,
        query=query,
        disclosing_state=settings.state_code.upper(),
        now=datetime.now(UTC),
        exchange_ns=namespace,
        request_id=salvaged,
    )
    status = 200 if pmix.pmix_status(error.code) in _ANSWERS else error.http_status
    return add_error_headers(xml_response(reply, status), error)


async def pmix_request(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    query: pmix.PmixQuery | None = None
    body = b""
    try:
        _check_media(request)
        body = await read_body(request)
        query = pmix.parse_request(
            body,
            exchange_ns=settings.pmix_exchange_ns,
            today=today(),
            default_lookback_days=settings.history_lookback_days,
            max_lookback_days=settings.history_max_days,
        )
        _check_addressed_to_us(query, settings)
        query.request.page_size = settings.search_max_page_size  # a hub cannot page: one report, as full as allowed
        ctx = new_context(request, "pmix", "pmp-request", query.request)
        ctx.authorization = bearer(request)
        ctx.requester_taxonomy = query.requester_taxonomy
        ctx.requesting_state = query.requesting_state  # a claim, until the partner_policy stage has judged it
        query.request.requester.ClearField("state")
        answer = await run_pipeline(request, ctx)
    except PmpError as error:
        return _refusal(settings, error, query, body)
    reply = pmix.encode_report(
        answer,
        query=query,
        disclosing_state=settings.state_code.upper(),
        now=datetime.now(UTC),
        exchange_ns=settings.pmix_exchange_ns,
    )
    return xml_response(reply)


def setup(app: web.Application) -> None:
    settings = app[SETTINGS]
    exchange_namespace(settings.pmix_exchange_ns)  # a bad setting fails at start-up, not on a request

    def render_error(error: PmpError) -> web.Response:
        """Errors raised before the route runs (404, 405, 413): a refusal report relating to no request."""
        return _refusal(settings, error, None, b"")

    app[ERROR_RENDERERS].append(("/interstate", render_error))
    app.router.add_post(PATH, pmix_request)
