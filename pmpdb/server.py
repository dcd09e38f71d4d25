"""The pmpdb gRPC server: ``PrescriptionSearch`` plus the standard health service (and reflection in dev).

Errors map to gRPC status codes the gateway understands: INVALID_ARGUMENT for a query that cannot be answered
as asked, UNAVAILABLE when the store is down, DEADLINE_EXCEEDED when the caller's budget runs out. Shutdown
flips health to NOT_SERVING first, so load balancers stop sending before in-flight calls drain.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from pmpdb.search import HistorySearch, InvalidQueryError
from pmpdb.store.base import StoreUnavailableError
from protos.pmp.v1 import pmp_pb2 as pb
from protos.pmp.v1 import pmp_pb2_grpc as pb_grpc

log = logging.getLogger("pmpdb.server")

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["PrescriptionSearch"].full_name


class PrescriptionSearchServicer(pb_grpc.PrescriptionSearchServicer):
    """gRPC glue around ``HistorySearch``."""

    def __init__(self, search: HistorySearch) -> None:
        self._search = search

    async def SearchHistory(
        self,
        request: pb.SearchHistoryRequest,
        context: grpc.aio.ServicerContext[pb.SearchHistoryRequest, pb.SearchHistoryResponse],
    ) -> pb.SearchHistoryResponse:
        remaining = context.time_remaining()
        if remaining is not None and remaining <= 0:
            await context.abort(grpc.StatusCode.DEADLINE_EXCEEDED, "deadline exceeded before the search began")
        try:
            return await self._search.search(request)
        except InvalidQueryError as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        except StoreUnavailableError:
            log.warning("store unavailable", extra={"request_id": request.request_id})
            await context.abort(grpc.StatusCode.UNAVAILABLE, "the dispensation store is unavailable")
        raise AssertionError("unreachable: context.abort raises")  # pragma: no cover


@dataclass(slots=True)
class RunningServer:
    """A started pmpdb server and the port it got."""

    server: grpc.aio.Server
    health: health.aio.HealthServicer
    port: int

    async def stop(self, grace: float = 5.0) -> None:
        await self.health.enter_graceful_shutdown()
        await self.server.stop(grace)


async def start_server(search: HistorySearch, listen: str, *, reflection_enabled: bool = False) -> RunningServer:
    """Start the server on ``listen`` (``host:port``; port 0 picks a free one) and mark it SERVING."""
    server = grpc.aio.server(
        options=[
            ("grpc.so_reuseport", 0),
            ("grpc.keepalive_permit_without_calls", 1),
            ("grpc.http2.min_ping_interval_without_data_ms", 10_000),
        ]
    )
    pb_grpc.add_PrescriptionSearchServicer_to_server(PrescriptionSearchServicer(search), server)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    if reflection_enabled:
        reflection.enable_server_reflection(
            (
                SERVICE_NAME,
                health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
                reflection.SERVICE_NAME,
            ),
            server,
        )
    port = server.add_insecure_port(listen)
    if port == 0:
        raise OSError(f"pmpdb cannot listen on {listen}")
    await server.start()
    await health_servicer.set(SERVICE_NAME, health_pb2.HealthCheckResponse.SERVING)
    await health_servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    return RunningServer(server, health_servicer, port)
