"""The pmpdb gRPC server over a real loopback socket: answers, status codes, health, reflection."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from pmpdb.ingest import ingest_stream
from pmpdb.search import HistorySearch
from pmpdb.server import SERVICE_NAME, RunningServer, start_server
from pmpdb.store.base import Store
from protos.pmp.v1 import pmp_pb2 as pb
from protos.pmp.v1 import pmp_pb2_grpc as pb_grpc
from tests.asap_files import PHARMACY, as_bytes, asap_file, fill, patient

WINDOW = pb.DateRange(start="2026-01-01", end="2026-12-31")


@pytest.fixture
async def server(store: Store) -> AsyncIterator[tuple[RunningServer, Store]]:
    john = patient()
    stream, sha = as_bytes(asap_file([(PHARMACY, [(john, fill("RX1", "20261001")), (john, fill("RX2", "20261005"))])]))
    assert not (await ingest_stream(store, stream, name="f", sha256=sha)).rejected
    running = await start_server(HistorySearch(store, state_code="UT"), "127.0.0.1:0", reflection_enabled=True)
    yield running, store
    await running.stop(0)


def _query(family: str = "SMITH", given: str = "JOHN", dob: str = "1980-02-03") -> pb.PatientQuery:
    return pb.PatientQuery(name=pb.HumanName(family=family, given=given), birth_date=dob)


async def test_search_history_over_the_socket(server: tuple[RunningServer, Store]) -> None:
    running, _ = server
    async with grpc.aio.insecure_channel(f"127.0.0.1:{running.port}") as channel:
        reply = await pb_grpc.PrescriptionSearchStub(channel).SearchHistory(
            pb.SearchHistoryRequest(patient=_query(), date_range=WINDOW), timeout=5
        )
    assert reply.match_status == pb.MATCH_STATUS_FOUND
    assert [d.rx_number for d in reply.dispensations] == ["RX2", "RX1"]
    first = reply.dispensations[0]
    assert (first.pharmacy.ncpdp, first.prescriber.npi, first.source_state) == ("4455667", "1003000126", "UT")
    assert (first.patient_name.family, first.patient_birth_date, first.date_filled) == (
        "SMITH",
        "1980-02-03",
        "2026-10-05",
    )
    assert reply.total_dispensations == 2 and not reply.next_page_token


async def test_bad_query_is_invalid_argument_without_phi(server: tuple[RunningServer, Store]) -> None:
    running, _ = server
    async with grpc.aio.insecure_channel(f"127.0.0.1:{running.port}") as channel:
        stub = pb_grpc.PrescriptionSearchStub(channel)
        for req in (
            pb.SearchHistoryRequest(patient=_query(dob="1980-13-45")),
            pb.SearchHistoryRequest(patient=_query(family="")),
            pb.SearchHistoryRequest(patient=_query(), date_range=pb.DateRange(start="2026-12-01", end="2026-01-01")),
            pb.SearchHistoryRequest(patient=_query(), page_token="not-a-token!"),
        ):
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await stub.SearchHistory(req, timeout=5)
            assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert "1980-13-45" not in (err.value.details() or "")


async def test_store_down_is_unavailable(server: tuple[RunningServer, Store]) -> None:
    running, store = server
    await store.close()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{running.port}") as channel:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await pb_grpc.PrescriptionSearchStub(channel).SearchHistory(
                pb.SearchHistoryRequest(patient=_query()), timeout=5
            )
    assert err.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_health_serving_then_not_serving_on_shutdown(server: tuple[RunningServer, Store]) -> None:
    running, _ = server
    async with grpc.aio.insecure_channel(f"127.0.0.1:{running.port}") as channel:
        health = health_pb2_grpc.HealthStub(channel)
        reply = await health.Check(health_pb2.HealthCheckRequest(service=SERVICE_NAME), timeout=5)
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
        await running.health.enter_graceful_shutdown()
        reply = await health.Check(health_pb2.HealthCheckRequest(service=SERVICE_NAME), timeout=5)
        assert reply.status == health_pb2.HealthCheckResponse.NOT_SERVING


async def test_reflection_lists_the_service(server: tuple[RunningServer, Store]) -> None:
    running, _ = server
    async with grpc.aio.insecure_channel(f"127.0.0.1:{running.port}") as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        responses = stub.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]))
        names = [s.name async for r in responses for s in r.list_services_response.service]
    assert SERVICE_NAME in names
