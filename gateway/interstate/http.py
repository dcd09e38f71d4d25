"""The HTTP side of partner calls: bodies read within a size cap, transport errors as one PHI-free line."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Final

import aiohttp

from gateway.interstate.answer import PartnerCallError

MAX_ANSWER_BYTES: Final = 16 * 1024 * 1024  # a partner's answer above this is refused, not buffered


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
