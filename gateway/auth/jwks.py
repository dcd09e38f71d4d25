"""Fetching a client's JWK Set from its registered JWKS URL (SMART Backend Services key resolution).

``GET`` with ``Accept: application/json``; https only (``allow_http`` is for loopback tests); no redirects; a total
timeout; a body cap; the result must be a JSON object whose ``keys`` is a non-empty list. The result is cached as the
client's ``Cache-Control`` allows and never longer (SMART: SHALL NOT cache longer, SHOULD cache that long): ``max-age``
bounded by ``max_cache_seconds`` (1 h); ``no-store``/``no-cache`` or no header at all → not cached. Concurrent requests
for one URL share one fetch, and a failed fetch is not retried for ``failure_backoff_seconds``, so assertions sent to
the token endpoint cannot turn the gateway into a request amplifier against a client's key server.

The only URLs fetched are ones the registry holds for a client (a ``jku`` header is honoured only when it equals the
registered URL), so the fetch target is never chosen by the caller.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from urllib.parse import urlsplit

import aiohttp
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from gateway.auth.errors import JwksFetchError

_JSON_TYPES = frozenset({"application/json", "application/jwk-set+json"})
_MAX_KEYS = 100


def cache_seconds(cache_control: str | None, limit: float) -> float:
    """How long a response may be cached under its ``Cache-Control`` header (0 = not at all)."""
    if not cache_control:
        return 0.0
    max_age: float | None = None
    for directive in cache_control.lower().split(","):
        name, _, value = directive.strip().partition("=")
        if name in ("no-store", "no-cache"):
            return 0.0
        if name == "max-age":
            try:
                max_age = float(int(value.strip().strip('"')))
            except ValueError:
                return 0.0
    if max_age is None or max_age <= 0:
        return 0.0
    return min(max_age, limit)


class JwksFetcher:
    def __init__(
        self,
        *,
        timeout_seconds: float = 5.0,
        max_bytes: int = 64 * 1024,
        max_cache_seconds: float = 3600.0,
        failure_backoff_seconds: float = 5.0,
        allow_http: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._max_bytes = max_bytes
        self._max_cache = max_cache_seconds
        self._backoff = failure_backoff_seconds
        self._allow_http = allow_http
        self._clock = clock
        self._session: aiohttp.ClientSession | None = None
        self._cache: dict[str, tuple[KeySet, float]] = {}
        self._failed: dict[str, float] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def get(self, url: str) -> KeySet:
        """The client's keys, from the cache when it is still fresh. Raises ``JwksFetchError``."""
        cached = self._cache.get(url)
        if cached is not None and cached[1] > self._clock():
            return cached[0]
        lock = self._locks.setdefault(url, asyncio.Lock())
        async with lock:
            now = self._clock()
            cached = self._cache.get(url)
            if cached is not None and cached[1] > now:
                return cached[0]
            if self._failed.get(url, float("-inf")) > now:
                raise JwksFetchError("the JWKS URL failed recently")
            try:
                keys, ttl = await self._fetch(url)
            except JwksFetchError:
                self._failed[url] = self._clock() + self._backoff
                self._cache.pop(url, None)
                raise
            self._failed.pop(url, None)
            if ttl > 0:
                self._cache[url] = (keys, self._clock() + ttl)
            else:
                self._cache.pop(url, None)
            return keys

    async def _fetch(self, url: str) -> tuple[KeySet, float]:
        parts = urlsplit(url)
        if parts.scheme != "https" and not (self._allow_http and parts.scheme == "http"):
            raise JwksFetchError("the JWKS URL is not https")
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout, trust_env=False)
        try:
            async with self._session.get(
                url, headers={"Accept": "application/json"}, allow_redirects=False
            ) as response:
                if response.status != 200:
                    raise JwksFetchError(f"the JWKS URL answered {response.status}")
                if response.content_type not in _JSON_TYPES:
                    raise JwksFetchError("the JWKS URL did not answer JSON")
                if (response.content_length or 0) > self._max_bytes:
                    raise JwksFetchError("the JWK Set is too large")
                body = await response.content.read(self._max_bytes + 1)
                if len(body) > self._max_bytes:
                    raise JwksFetchError("the JWK Set is too large")
                ttl = cache_seconds(response.headers.get("Cache-Control"), self._max_cache)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise JwksFetchError("the JWKS URL could not be read") from exc
        return parse_jwks(body), ttl


def parse_jwks(body: bytes | str | dict[str, object]) -> KeySet:
    """A JWK Set (JSON text or an already-parsed dict) as joserfc keys. Raises ``JwksFetchError``."""
    try:
        data = json.loads(body) if isinstance(body, bytes | str) else body
    except ValueError as exc:
        raise JwksFetchError("the JWK Set is not JSON") from exc
    keys = data.get("keys") if isinstance(data, dict) else None
    if not isinstance(keys, list) or not keys or len(keys) > _MAX_KEYS or not all(isinstance(k, dict) for k in keys):
        raise JwksFetchError("not a JWK Set")
    try:
        return KeySet.import_key_set({"keys": keys})
    except (JoseError, ValueError, TypeError, KeyError) as exc:
        raise JwksFetchError("the JWK Set holds no usable key") from exc
