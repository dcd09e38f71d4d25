"""The HTTP side of partner calls: a query posted with our access token, bodies read within a size cap, transport
errors as one PHI-free line."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Final

import aiohttp

from gateway.interstate.answer import REFUSED, PartnerCallError

if TYPE_CHECKING:
    from gateway.interstate.credentials import PartnerTokens

MAX_ANSWER_BYTES: Final = 16 * 1024 * 1024  # a partner's answer above this is refused, not buffered


async def post_with_token(
    session: aiohttp.ClientSession, url: str, body: bytes, media_type: str, tokens: PartnerTokens
) -> tuple[int, bytes]:
    """POST ``body`` (``media_type``, answered in the same) with our bearer token: the HTTP status and the body.

    A 401 forgets the token; the call is retried once with a fresh one when the refused token was a cached one
    (revoked, or the partner's keys rotated). A fresh token refused is ``PartnerCallError``."""
    token, fresh = await tokens.token()
    status, content = await _post(session, url, body, media_type, token)
    if status == 401 and not fresh:
        tokens.forget(token)
        token, _ = await tokens.token()
        status, content = await _post(session, url, body, media_type, token)
    if status == 401:
        tokens.forget(token)
        raise PartnerCallError("HTTP 401: the partner refused our access token", reason=REFUSED)
    return status, content


async def _post(
    session: aiohttp.ClientSession, url: str, body: bytes, media_type: str, token: str
) -> tuple[int, bytes]:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": media_type, "Accept": media_type}
    async with session.post(url, data=body, headers=headers, allow_redirects=False) as response:
        return response.status, await read_capped(response, MAX_ANSWER_BYTES)


async def read_capped(response: aiohttp.ClientResponse, limit: int) -> bytes:
    """The whole body, or ``PartnerCallError`` once it passes ``limit`` bytes (nothing more is read)."""
    if response.content_length is not None and response.content_length > limit:
        raise PartnerCallError(f"the answer is larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > limit:
            raise PartnerCallError(f"the answer is larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


@asynccontextmanager
async def transport_errors() -> AsyncIterator[None]:
    """aiohttp's failures as ``PartnerCallError`` naming the kind of failure, never the URL or a body."""
    try:
        yield
    except aiohttp.ClientConnectorError:
        raise PartnerCallError("connection refused or unreachable") from None
    except aiohttp.ServerDisconnectedError:
        raise PartnerCallError("the partner closed the connection") from None
    except aiohttp.ClientPayloadError:
        raise PartnerCallError("the answer was cut short") from None
    except aiohttp.ClientError as exc:
        raise PartnerCallError(f"HTTP client error ({type(exc).__name__})") from None
    except (ConnectionError, asyncio.IncompleteReadError):
        raise PartnerCallError("the connection failed") from None
