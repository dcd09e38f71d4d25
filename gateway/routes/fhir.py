"""FHIR R4 routes (US PDMP IG): ``$pdmp-history`` at both levels the IG names, MedicationDispense search,
``metadata`` and the OperationDefinition. JSON only: ``application/fhir+json`` or ``application/json``."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import quote

import orjson
from aiohttp import web

from adapters import fhir
from gateway.app import CURSORS, ERROR_RENDERERS, PATIENT_IDS, SETTINGS
from gateway.routes import end_user
from gateway.routes.common import add_error_headers, base_url, bearer, new_context, read_body, run_pipeline, today
from protos.errors import PmpError
from protos.pmp.v1 import pmp_pb2 as pb

FHIR_JSON = "application/fhir+json"
_ACCEPTABLE = frozenset({"application/fhir+json", "application/json", "application/json+fhir", "*/*", "application/*"})
_READABLE = frozenset({"application/fhir+json", "application/json", "application/json+fhir"})


def fhir_response(body: bytes, status: int = 200) -> web.Response:
    return web.Response(body=body, status=status, content_type=FHIR_JSON, charset="utf-8")


def error_response(error: PmpError) -> web.Response:
    return add_error_headers(fhir_response(fhir.encode_outcome(error), error.http_status), error)


_FORMAT_ALIASES = {"json": "application/fhir+json", "fhir+json": "application/fhir+json"}


def _accepts_fhir_json(header: str) -> bool:
    for part in header.split(","):
        media, *params = (p.strip() for p in part.split(";"))
        quality = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        media = _FORMAT_ALIASES.get(media.lower(), media.lower())
        if quality > 0 and media in _ACCEPTABLE:
            return True
    return False


def _negotiate(request: web.Request) -> None:
    """406 unless the client accepts FHIR JSON (``_format`` overrides Accept, as FHIR says)."""
    wanted = request.query.get("_format") or request.headers.get("Accept") or "*/*"
    if not _accepts_fhir_json(wanted):
        raise PmpError(pb.ERROR_CODE_NOT_ACCEPTABLE, "only application/fhir+json is offered")


def _require_json_body(request: web.Request) -> None:
    if request.content_type.lower() not in _READABLE:
        raise PmpError(pb.ERROR_CODE_UNSUPPORTED_MEDIA_TYPE, "send the Parameters as application/fhir+json")


def _source(request: web.Request) -> str:
    return f"{base_url(request)}/fhir"


def _patient_id(request: web.Request, response: pb.SearchHistoryResponse, eds_id: str) -> str:
    """The signed, expiring Patient.id for the matched person, usable by this EDS only ("" when there is none)."""
    if response.match_status != pb.MATCH_STATUS_FOUND or not response.patients:
        return ""
    return request.app[PATIENT_IDS].issue(response.patients[0].id, eds_id=eds_id)


def _search_requester(request: web.Request) -> pb.Requester:
    """The end user of a search: named by the current request, never carried over from an earlier page."""
    header = request.headers.get(end_user.HEADER)
    return end_user.parse_end_user(header) if header is not None else pb.Requester()


async def pdmp_history(request: web.Request) -> web.Response:
    _negotiate(request)
    _require_json_body(request)
    settings = request.app[SETTINGS]
    params = fhir.decode_pdmp_history(
        await read_body(request),
        today=today(),
        default_lookback_days=settings.history_lookback_days,
        max_lookback_days=settings.history_max_days,
    )
    ctx = new_context(request, "fhir", "pdmp-history", params.request)
    ctx.authorization = bearer(request)
    ctx.requester_taxonomy = params.taxonomy  # a claim, until the partner_policy stage has judged it
    response = await run_pipeline(request, ctx)
    body = fhir.encode_pdmp_history(
        response,
        request=ctx.search,
        patient_id=_patient_id(request, response, ctx.eds_id),
        source=_source(request),
        now=datetime.now(UTC),
    )
    return fhir_response(body)


async def dispense_search(request: web.Request) -> web.Response:
    _negotiate(request)
    settings = request.app[SETTINGS]
    strict = "handling=strict" in request.headers.get("Prefer", "").replace(" ", "").lower()
    search = fhir.parse_dispense_search(
        list(request.query.items()),
        strict=strict,
        today=today(),
        default_lookback_days=settings.history_lookback_days,
        max_lookback_days=settings.history_max_days,
        max_count=settings.search_max_page_size,
    )
    cursors = request.app[CURSORS]
    issued_to = []
    if search.cursor:
        query, check = cursors.open(search.cursor)  # the query and page position only: no requester inside
        issued_to.append(check)
    else:
        query = search.request
        if search.patient_token:
            record_id, check = request.app[PATIENT_IDS].open(search.patient_token)
            issued_to.append(check)
            query.patient.CopyFrom(pb.PatientQuery(patient_id=record_id))
        if not query.page_size:
            query.page_size = settings.search_page_size
    page_request = pb.SearchHistoryRequest()
    page_request.CopyFrom(query)  # sealed into the next cursor: no requester, no derived fields
    query.requester.CopyFrom(_search_requester(request))
    ctx = new_context(request, "fhir", "dispense-search", query)
    ctx.authorization = bearer(request)
    ctx.issued_to.extend(issued_to)
    response = await run_pipeline(request, ctx)
    if search.status and search.status != "completed":
        # The PMP holds completed dispensations only: any other status matches nothing (after the same checks).
        del response.dispensations[:]
        response.total_dispensations = 0
        response.next_page_token = ""
    base = f"{base_url(request)}/fhir/MedicationDispense"
    next_url = None
    if response.next_page_token:
        page_request.page_token = response.next_page_token
        cursor = cursors.seal(page_request, eds_id=ctx.eds_id)
        next_url = f"{base}?{fhir.CURSOR_PARAM}={quote(cursor, safe='')}"
    self_url = f"{base}?{request.query_string}" if request.query_string else base
    body = fhir.encode_searchset(
        response,
        patient_id=_patient_id(request, response, ctx.eds_id),
        self_url=self_url,
        next_url=next_url,
        source=_source(request),
        now=datetime.now(UTC),
        ignored=search.ignored,
    )
    return fhir_response(body)


async def metadata(request: web.Request) -> web.Response:
    _negotiate(request)
    return fhir_response(orjson.dumps(fhir.capability_statement(f"{base_url(request)}/fhir")))


async def operation_definition(request: web.Request) -> web.Response:
    _negotiate(request)
    return fhir_response(orjson.dumps(fhir.operation_definition()))


def setup(app: web.Application) -> None:
    app[ERROR_RENDERERS].append(("/fhir", error_response))
    app.router.add_post("/fhir/Patient/$pdmp-history", pdmp_history)
    app.router.add_post("/fhir/$pdmp-history", pdmp_history)
    app.router.add_get("/fhir/MedicationDispense", dispense_search)
    app.router.add_get("/fhir/metadata", metadata)
    app.router.add_get("/fhir/OperationDefinition/pdmp-history", operation_definition)
