"""``POST /ncpdp/script`` over a real aiohttp server with a fake pmpdb: both SCRIPT versions answered in the version
asked, every reply validated against its schema (the public 10.6 XSD, the project's 2017071 XSD), hostile XML and
wrong media types refused with an NCPDP ``Error`` — never a 500 — and the pipeline's refusals as Denied or Error.
(Tokens and the registry are on in tests/gateway/test_auth_routes.py and tests/e2e/test_auth.py.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from lxml import etree

from adapters import ncpdp
from gateway.app import create_app
from gateway.cursor import load_or_create_key
from gateway.testing import TEST_ISSUER, FakeSearchBackend, settings_for_tests
from protos.errors import PmpError
from protos.pmp.v1 import pmp_pb2 as pb
from tests.adapters.fhir.fhir_test_data import found

SAMPLES = Path(__file__).parents[1] / "adapters" / "ncpdp" / "samples"
NS = {"s": "http://www.ncpdp.org/schema/SCRIPT"}
XML = {"Content-Type": "application/xml"}
VERSIONS = {
    "rxhistory-2017071-prescriber.xml": ncpdp.V2017071,
    "rxhistory-2017071-pharmacist.xml": ncpdp.V2017071,
    "rxhistory-10.6-prescriber.xml": ncpdp.V10_6,
}


@pytest.fixture
def backend() -> FakeSearchBackend:
    return FakeSearchBackend(found(25))


@pytest.fixture
async def client(aiohttp_client: Any, backend: FakeSearchBackend, tmp_path: Path) -> TestClient:
    settings = settings_for_tests(
        tmp_path, request_budget_seconds=0.5, max_body_bytes=64 * 1024, authenticate=False, identify=False
    )
    app = create_app(settings, "", cursor_key=load_or_create_key(tmp_path), issuer=TEST_ISSUER, backend=backend)
    return await aiohttp_client(app)  # type: ignore[no-any-return]


def _valid(body: bytes, version: str) -> etree._Element:
    root = etree.fromstring(body)
    assert ncpdp.validate(root, version) == [], body[:500]
    return root


@pytest.mark.parametrize("sample", sorted(VERSIONS))
async def test_each_version_is_answered_in_its_own_version(
    client: TestClient, backend: FakeSearchBackend, sample: str
) -> None:
    request = (SAMPLES / sample).read_bytes()
    response = await client.post("/ncpdp/script", data=request, headers=XML)
    assert response.status == 200, await response.text()
    assert response.content_type == "application/xml"
    reply = _valid(await response.read(), VERSIONS[sample])
    asked = etree.fromstring(request)
    assert reply.findtext("s:Header/s:RelatesToMessageID", namespaces=NS) == asked.findtext(
        "s:Header/s:MessageID", namespaces=NS
    )
    assert reply.findtext("s:Header/s:To", namespaces=NS) == asked.findtext("s:Header/s:From", namespaces=NS)
    assert len(reply.findall("s:Body/s:RxHistoryResponse/s:MedicationDispensed", namespaces=NS)) == 25
    sent, _ = backend.calls[0]
    assert sent.page_size == 300  # one message carries up to 300
    assert sent.requester.role in (pb.ROLE_PRESCRIBER, pb.ROLE_PHARMACIST)


async def test_a_10_6_pharmacist_known_by_name_only_is_denied(client: TestClient, backend: FakeSearchBackend) -> None:
    """10.6 identifies the pharmacy, not the pharmacist (a name only): no registered end user can be named."""
    request = (SAMPLES / "rxhistory-10.6-pharmacist.xml").read_bytes()
    response = await client.post("/ncpdp/script", data=request, headers=XML)
    assert response.status == 200
    reply = _valid(await response.read(), ncpdp.V10_6)
    reason = reply.findtext("s:Body/s:RxHistoryResponse/s:Response/s:Denied/s:DenialReason", namespaces=NS)
    assert reason and "NPI" in reason
    assert not backend.calls


async def test_no_match_and_ambiguous_are_denied_answers(client: TestClient, backend: FakeSearchBackend) -> None:
    request = (SAMPLES / "rxhistory-10.6-prescriber.xml").read_bytes()
    for status in (pb.MATCH_STATUS_NOT_FOUND, pb.MATCH_STATUS_AMBIGUOUS):
        backend.answer = pb.SearchHistoryResponse(match_status=status)
        response = await client.post("/ncpdp/script", data=request, headers=XML)
        assert response.status == 200
        reply = _valid(await response.read(), ncpdp.V10_6)
        assert reply.find("s:Body/s:RxHistoryResponse/s:Response/s:Denied", namespaces=NS) is not None


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (PmpError(pb.ERROR_CODE_BACKEND_UNAVAILABLE, "down", retry_after=1.0), 503, "600"),
        (PmpError(pb.ERROR_CODE_RATE_LIMITED, "slow down", retry_after=7.0), 429, "600"),
        (PmpError(pb.ERROR_CODE_INTERNAL, "boom"), 500, "602"),
    ],
)
async def test_backend_failures_are_ncpdp_errors(
    client: TestClient, backend: FakeSearchBackend, error: PmpError, status: int, code: str
) -> None:
    backend.answer = error
    request = (SAMPLES / "rxhistory-2017071-prescriber.xml").read_bytes()
    response = await client.post("/ncpdp/script", data=request, headers=XML)
    assert response.status == status
    reply = _valid(await response.read(), ncpdp.V2017071)
    assert reply.findtext("s:Body/s:Error/s:Code", namespaces=NS) == code
    if error.retry_after:
        assert response.headers["Retry-After"] == str(round(error.retry_after))


async def test_a_slow_backend_is_a_timeout_error(client: TestClient, backend: FakeSearchBackend) -> None:
    backend.delay = 2.0
    response = await client.post(
        "/ncpdp/script", data=(SAMPLES / "rxhistory-10.6-prescriber.xml").read_bytes(), headers=XML
    )
    assert response.status == 504
    reply = _valid(await response.read(), ncpdp.V10_6)
    assert reply.findtext("s:Body/s:Error/s:Code", namespaces=NS) == "600"


XXE = b"""<?xml version="1.0"?><!DOCTYPE Message [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<Message xmlns="http://www.ncpdp.org/schema/SCRIPT" version="010" release="006"><Header>&x;</Header></Message>"""
LAUGHS = b"""<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">
<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;">]><Message xmlns="http://www.ncpdp.org/schema/SCRIPT">&c;</Message>"""
DEEP = b'<Message xmlns="http://www.ncpdp.org/schema/SCRIPT">' + b"<a>" * 5000 + b"</a>" * 5000 + b"</Message>"
WRONG_ROOT = b'<NewRx xmlns="http://www.ncpdp.org/schema/SCRIPT"/>'
WRONG_NS = b'<Message xmlns="urn:not-script" version="010" release="006"/>'


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (XXE, 400),
        (LAUGHS, 400),
        (DEEP, 400),
        (b"not xml at all", 400),
        (b"\xff\xfe<\x00M\x00", 400),
        (b"", 400),
        (WRONG_ROOT, 400),
        (WRONG_NS, 400),
        (b"<a>" * 40_000, 413),  # above max_body_bytes (64 KiB here)
    ],
)
async def test_hostile_or_broken_xml_is_an_ncpdp_error_601(client: TestClient, body: bytes, status: int) -> None:
    response = await client.post("/ncpdp/script", data=body, headers=XML)
    assert response.status == status
    text = await response.read()
    reply = _valid(text, ncpdp.V10_6)  # no version could be told: the Error is in 10.6
    assert reply.findtext("s:Body/s:Error/s:Code", namespaces=NS) == "601"
    assert b"root:" not in text and b"passwd" not in text


async def test_wrong_media_type_and_method(client: TestClient) -> None:
    request = (SAMPLES / "rxhistory-10.6-prescriber.xml").read_bytes()
    response = await client.post("/ncpdp/script", data=request, headers={"Content-Type": "application/json"})
    assert response.status == 415
    _valid(await response.read(), ncpdp.V10_6)
    response = await client.post("/ncpdp/script", data=request, headers={**XML, "Accept": "application/json"})
    assert response.status == 406
    response = await client.get("/ncpdp/script")
    assert response.status == 405 and "POST" in response.headers["Allow"]
    _valid(await response.read(), ncpdp.V10_6)
