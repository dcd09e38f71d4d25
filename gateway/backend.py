"""The one seam between the pipeline and pmpdb (like httpx's transport): ``SearchBackend``.

Pipeline tests plug in a fake; the gateway uses ``GrpcSearchBackend`` over one grpc.aio channel per process.
gRPC failures become ``PmpError`` in the project's vocabulary here, and nowhere else.
"""

from __future__ import annotations

import time
from typing import Protocol

import grpc

from gateway import metrics
from protos.errors import ErrorCode, PmpError
from protos.pmp.v1 import pmp_pb2 as pb
from protos.pmp.v1 import pmp_pb2_grpc as pb_grpc

_STATUS: dict[grpc.StatusCode, tuple[ErrorCode, str]] = {
    grpc.StatusCode.INVALID_ARGUMENT: (pb.ERROR_CODE_INVALID_REQUEST, ""),  # pmpdb's detail is PHI-free: pass it on
    grpc.StatusCode.DEADLINE_EXCEEDED: (pb.ERROR_CODE_TIMEOUT, "the PMP database did not answer in time"),
    grpc.StatusCode.UNAVAILABLE: (pb.ERROR_CODE_BACKEND_UNAVAILABLE, "the PMP database is unavailable"),
    grpc.StatusCode.CANCELLED: (pb.ERROR_CODE_TIMEOUT, "the request was cancelled"),
}


class SearchBackend(Protocol):
    async def search_history(self, request: pb.SearchHistoryRequest, *, time_left: float) -> pb.SearchHistoryResponse:
        """Raises ``PmpError`` (invalid request, timeout, backend unavailable)."""
        ...


class GrpcSearchBackend:
    """``SearchBackend`` over pmpdb's ``PrescriptionSearch`` service."""

    def __init__(self, channel: grpc.aio.Channel) -> None:
        self._stub = pb_grpc.PrescriptionSearchStub(channel)

    async def search_history(self, request: pb.SearchHistoryRequest, *, time_left: float) -> pb.SearchHistoryResponse:
        started = time.perf_counter()
        outcome = "cancelled"  # unless the call returns or fails with a status below
        try:
            response: pb.SearchHistoryResponse = await self._stub.SearchHistory(request, timeout=time_left)
            outcome = "ok"
            return response
        except grpc.aio.AioRpcError as exc:
            outcome = exc.code().name.lower()
            code, detail = _STATUS.get(exc.code(), (pb.ERROR_CODE_BACKEND_UNAVAILABLE, "the PMP database failed"))
            retry = 1.0 if code == pb.ERROR_CODE_BACKEND_UNAVAILABLE else None
            raise PmpError(code, detail or (exc.details() or "invalid request"), retry_after=retry) from None
        finally:
            metrics.PMPDB_CALL_SECONDS.labels(outcome).observe(time.perf_counter() - started)
