"""Prometheus metrics for the gateway: requests by route and outcome, latency, pmpdb call latency, in flight.

Labels never carry PHI: the route is the router's pattern (``/fhir/Patient/$pdmp-history``), not the path
or query. With ``serve --workers N`` the parent sets ``PROMETHEUS_MULTIPROC_DIR`` before forking, every worker
writes its samples there, and any worker's ``/metrics`` answers for all of them.
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

REQUESTS = Counter("pmp_gateway_requests_total", "Requests by route and outcome", ["route", "outcome"])
REQUEST_SECONDS = Histogram(
    "pmp_gateway_request_seconds", "Request latency by route", ["route"], buckets=_LATENCY_BUCKETS
)
PMPDB_CALL_SECONDS = Histogram(
    "pmp_gateway_pmpdb_call_seconds",
    "SearchHistory call latency by gRPC outcome",
    ["outcome"],
    buckets=_LATENCY_BUCKETS,
)
AUDIT_BATCH_RECORDS = Histogram(
    "pmp_gateway_audit_batch_records",
    "Audit records per group-commit transaction",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
)
AUDIT_COMMIT_SECONDS = Histogram(
    "pmp_gateway_audit_commit_seconds",
    "Time from a batch's hand-off to its commit (thread hop, insert, fsync)",
    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
# Interstate (issue 9): calls to each partner state's hub by how they ended (complete, no-data, disallowed,
# deferred, error, timeout, circuit-open, no-time, cancelled), and their latency. The state code is the only label.
PARTNER_CALLS = Counter("pmp_gateway_partner_calls_total", "Partner state calls by outcome", ["state", "outcome"])
PARTNER_CALL_SECONDS = Histogram(
    "pmp_gateway_partner_call_seconds", "Partner state call latency", ["state"], buckets=_LATENCY_BUCKETS
)
IN_FLIGHT = Gauge("pmp_gateway_in_flight_requests", "Requests being handled", multiprocess_mode="livesum")

CONTENT_TYPE = CONTENT_TYPE_LATEST


def render() -> bytes:
    """The exposition text: this process's metrics, or every worker's in multiprocess mode."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)
    return generate_latest()
