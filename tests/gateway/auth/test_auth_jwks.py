"""Fetching client JWK Sets from registered JWKS URLs: a real loopback key server, Cache-Control honoured and
bounded, size/type/status limits, no redirects, single flight, failure back-off — and the token endpoint using it
(registered URL, ``jku`` equal to it)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from gateway.auth import scopes
from gateway.auth.clients import RegisteredClient, StaticClientDirectory
from gateway.auth.errors import JwksFetchError
from gateway.auth.jwks import JwksFetcher, cache_seconds
from gateway.auth.keys import KeyRing
from gateway.auth.replay import MemoryReplayStore
from gateway.auth.revocation import MemoryRevocationStore
from gateway.auth.service import TokenService
from tests.gateway.auth.auth_helpers import ISSUER, ClientKeys, sign_assertion, token_form

ServerFactory = Callable[..., Awaitable[TestServer]]


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        (None, 0.0),
        ("", 0.0),
        ("max-age=120", 120.0),
        ("public, max-age=60, must-revalidate", 60.0),
        ("max-age=999999", 3600.0),
        ("no-store, max-age=60", 0.0),
        ("max-age=60, no-cache", 0.0),
        ("max-age=abc", 0.0),
        ("max-age=-5", 0.0),
        ('max-age="30"', 30.0),
        ("private", 0.0),
    ],
)
def test_cache_seconds(header: str | None, seconds: float) -> None:
    assert cache_seconds(header, 3600.0) == seconds


class KeyServer:
    """A client's JWKS endpoint whose answers the test controls."""

    def __init__(self, jwks: dict[str, Any]) -> None:
        self.jwks = jwks
        self.hits = 0
        self.cache_control: str | None = "max-age=300"
        self.status = 200
        self.content_type = "application/json"
        self.body: bytes | None = None
        self.delay = 0.0
        self.accept: list[str] = []

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.hits += 1
        self.accept.append(request.headers.get("Accept", ""))
        if self.delay:
            await asyncio.sleep(self.delay)
        if request.path == "/moved":
            raise web.HTTPFound("/jwks.json")
        headers = {"Cache-Control": self.cache_control} if self.cache_control else {}
        body = self.body if self.body is not None else web.json_response(self.jwks).body
        return web.Response(body=body, status=self.status, content_type=self.content_type, headers=headers)


@pytest.fixture
async def key_server(aiohttp_server: ServerFactory, client_keys: ClientKeys) -> tuple[KeyServer, str]:
    ks = KeyServer(client_keys.jwks())
    app = web.Application()
    app.router.add_get("/jwks.json", ks.handle)
    app.router.add_get("/moved", ks.handle)
    server = await aiohttp_server(app)
    return ks, str(server.make_url("/jwks.json"))


@pytest.fixture
async def fetcher() -> Any:
    f = JwksFetcher(allow_http=True, timeout_seconds=2.0, max_bytes=4096, failure_backoff_seconds=60)
    yield f
    await f.aclose()


async def test_fetch_and_cache_per_max_age(key_server: tuple[KeyServer, str], fetcher: JwksFetcher) -> None:
    ks, url = key_server
    keys = await fetcher.get(url)
    assert {k.kid for k in keys.keys} == {"rsa-1", "ec-1"}
    await fetcher.get(url)
    assert ks.hits == 1
    assert ks.accept == ["application/json"]


async def test_no_store_is_not_cached(key_server: tuple[KeyServer, str], fetcher: JwksFetcher) -> None:
    ks, url = key_server
    ks.cache_control = "no-store"
    await fetcher.get(url)
    await fetcher.get(url)
    assert ks.hits == 2


async def test_cache_lifetime_is_bounded(key_server: tuple[KeyServer, str]) -> None:
    ks, url = key_server
    ks.cache_control = "max-age=86400"
    now = [0.0]
    fetcher = JwksFetcher(allow_http=True, max_cache_seconds=3600, clock=lambda: now[0])
    try:
        await fetcher.get(url)
        now[0] = 3599
        await fetcher.get(url)
        assert ks.hits == 1
        now[0] = 3601
        await fetcher.get(url)
        assert ks.hits == 2
    finally:
        await fetcher.aclose()


@pytest.mark.parametrize(
    "breakage",
    ["status", "content_type", "too_large", "not_json", "no_keys", "not_a_list", "bad_key"],
)
async def test_unusable_answers_are_errors(
    key_server: tuple[KeyServer, str], fetcher: JwksFetcher, breakage: str
) -> None:
    ks, url = key_server
    if breakage == "status":
        ks.status = 500
    elif breakage == "content_type":
        ks.content_type = "text/html"
    elif breakage == "too_large":
        ks.body = b'{"keys": [' + b" " * 5000 + b"]}"
    elif breakage == "not_json":
        ks.body = b"{"
    elif breakage == "no_keys":
        ks.body = b'{"keys": []}'
    elif breakage == "not_a_list":
        ks.body = b'{"keys": {"kty": "RSA"}}'
    else:
        ks.body = b'{"keys": [{"kty": "RSA", "kid": "x", "n": "AQAB"}]}'
    with pytest.raises(JwksFetchError):
        await fetcher.get(url)


async def test_a_failure_is_not_retried_at_once(key_server: tuple[KeyServer, str], fetcher: JwksFetcher) -> None:
    ks, url = key_server
    ks.status = 503
    for _ in range(3):
        with pytest.raises(JwksFetchError):
            await fetcher.get(url)
    assert ks.hits == 1


async def test_redirects_are_not_followed(key_server: tuple[KeyServer, str], fetcher: JwksFetcher) -> None:
    _, url = key_server
    with pytest.raises(JwksFetchError):
        await fetcher.get(url.replace("/jwks.json", "/moved"))


async def test_https_is_required(key_server: tuple[KeyServer, str]) -> None:
    ks, url = key_server
    strict = JwksFetcher()
    try:
        with pytest.raises(JwksFetchError, match="https"):
            await strict.get(url)
    finally:
        await strict.aclose()
    assert ks.hits == 0


async def test_concurrent_requests_share_one_fetch(key_server: tuple[KeyServer, str], fetcher: JwksFetcher) -> None:
    ks, url = key_server
    ks.delay = 0.05
    results = await asyncio.gather(*(fetcher.get(url) for _ in range(5)))
    assert ks.hits == 1
    assert all(r is results[0] for r in results)


async def test_token_endpoint_with_a_registered_jwks_url(
    key_server: tuple[KeyServer, str], fetcher: JwksFetcher, client_keys: ClientKeys, keyring: KeyRing
) -> None:
    ks, url = key_server
    directory = StaticClientDirectory(
        [
            RegisteredClient(
                "url-client", "eds-7", "private_key_jwt", frozenset({scopes.ALL_RESOURCES_READ}), True, jwks_url=url
            )
        ]
    )
    service = TokenService(
        clients=directory,
        keys=keyring,
        replay=MemoryReplayStore(),
        revocations=MemoryRevocationStore(),
        issuer=ISSUER,
        fetcher=fetcher,
    )
    form = token_form(sign_assertion(client_keys.ec, client_id="url-client", alg="ES384"))
    assert (await service.token(form, {})).status == 200
    with_jku = sign_assertion(client_keys.rsa, client_id="url-client", header={"jku": url})
    assert (await service.token(token_form(with_jku), {})).status == 200
    assert ks.hits == 1  # cached per max-age
    other_jku = sign_assertion(client_keys.rsa, client_id="url-client", header={"jku": url + "?x=1"})
    refused = await service.token(token_form(other_jku), {})
    assert refused.body["error"] == "invalid_client"
    ks.cache_control = "no-store"
    fetcher._cache.clear()
    ks.status = 404  # the key server is broken: the client cannot authenticate
    refused = await service.token(token_form(sign_assertion(client_keys.rsa, client_id="url-client")), {})
    assert refused.body["error"] == "invalid_client"
