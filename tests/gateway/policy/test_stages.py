"""The suspension and rate-limit stages on a bare ``RequestContext`` (no app): what they read and how they refuse."""

from __future__ import annotations

import pytest

from gateway.budget import Deadline
from gateway.pipeline import RequestContext
from gateway.pipeline.rate_limit import RateLimit
from gateway.pipeline.suspension import SuspensionCheck
from gateway.policy.ratelimit import LocalRateLimiter, QuotaBook, QuotaDefaults
from gateway.policy.ratelimit import headers as rl_headers
from gateway.policy.registry.model import Quota
from gateway.policy.suspension import MemorySuspensionStore, SuspensionKind, SuspensionSet
from protos.errors import PmpError
from protos.pmp.v1 import pmp_pb2 as pb


def ctx(protocol: str = "fhir", *, user_id: str = "usr_1", state: str = "") -> RequestContext:
    search = pb.SearchHistoryRequest(requester=pb.Requester(user_id=user_id, state=state))
    context = RequestContext("rid", protocol, "pdmp-history", Deadline.after(5), search)
    context.client_id, context.eds_id = "cli_1", "eds_1"
    return context


async def test_suspension_stage_reads_every_party_and_fails_closed() -> None:
    clock = [0.0]
    suspensions = SuspensionSet(MemorySuspensionStore(), check_seconds=3600, monotonic=lambda: clock[0])
    await suspensions.start()
    stage = SuspensionCheck(suspensions)
    try:
        await stage(ctx())
        made = await suspensions.suspend(SuspensionKind.STATE, "NV", reason="MOU lapsed", by="ops")
        await stage(ctx())
        interstate = ctx("pmix", state="NV")
        with pytest.raises(PmpError) as refused:
            await stage(interstate)
        assert refused.value.code == pb.ERROR_CODE_SUSPENDED
        assert refused.value.detail == "the partner state is suspended"
        assert interstate.notes["suspension"] == f"state {made.id}"
        clock[0] += 60
        with pytest.raises(PmpError) as unconfirmed:
            await stage(ctx())
        assert unconfirmed.value.code == pb.ERROR_CODE_BACKEND_UNAVAILABLE
        assert unconfirmed.value.retry_after == 1.0
    finally:
        await suspensions.aclose()


async def test_rate_limit_stage_refuses_with_retry_after_and_fills_the_headers() -> None:
    quotas = QuotaBook(QuotaDefaults(eds=Quota(1, 60, 1), client=None, user=Quota(100, 60, 100), state=None))
    stage = RateLimit(LocalRateLimiter(clock_us=lambda: 0), quotas)
    await stage(ctx())  # no middleware: decides, no headers to fill
    holder, token = rl_headers.install()
    try:
        limited = ctx()
        with pytest.raises(PmpError) as refused:
            await stage(limited)
    finally:
        rl_headers.uninstall(token)
    assert refused.value.code == pb.ERROR_CODE_RATE_LIMITED
    assert refused.value.retry_after == 60.0
    assert refused.value.detail == "rate limit exceeded (eds)"  # the protocols say when: Retry-After, NCPDP text
    assert limited.notes["rate_limit"] == "limited eds"
    assert holder.policy == '"eds";q=1;w=60, "user";q=100;w=60'
    assert holder.state == '"eds";r=0;t=60, "user";r=99;t=1'  # the refused request charged nothing
    await RateLimit(LocalRateLimiter(), QuotaBook(QuotaDefaults(None, None, None, None)))(ctx())  # nothing applies
