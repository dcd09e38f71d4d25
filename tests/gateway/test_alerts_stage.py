"""The alerts stage: pmpdb's indicators pass through to clinical roles and are cleared for every other role."""

from __future__ import annotations

import pytest

from gateway.budget import Deadline
from gateway.pipeline import RequestContext
from gateway.pipeline.alerts import CLINICAL_ROLES, Alerts
from protos.pmp.v1 import pmp_pb2 as pb


def _ctx(role: int) -> RequestContext:
    search = pb.SearchHistoryRequest(requester=pb.Requester(role=role))  # type: ignore[arg-type]
    ctx = RequestContext("rid", "fhir", "pdmp-history", Deadline.after(5), search)
    response = pb.SearchHistoryResponse(match_status=pb.MATCH_STATUS_FOUND)
    response.dispensations.add(id="1", mme_per_day=60, lme_per_day=1)
    response.dispensations.add(id="2")
    response.indicators.peak_mme = 60
    response.alerts.add(code="05")
    response.alerts.add(code="04")
    ctx.response = response
    return ctx


@pytest.mark.parametrize("role", sorted(CLINICAL_ROLES))
async def test_clinical_roles_see_indicators(role: int) -> None:
    ctx = _ctx(role)
    await Alerts()(ctx)
    assert ctx.response is not None
    assert [a.code for a in ctx.response.alerts] == ["05", "04"]
    assert ctx.response.indicators.peak_mme == 60
    assert ctx.response.dispensations[0].mme_per_day == 60
    assert ctx.notes["alerts"] == "05,04"


@pytest.mark.parametrize("role", [pb.ROLE_LAW_ENFORCEMENT, pb.ROLE_REGULATOR, pb.ROLE_PARTNER_STATE, 0])
async def test_other_roles_do_not(role: int) -> None:
    ctx = _ctx(role)
    await Alerts()(ctx)
    response = ctx.response
    assert response is not None
    assert not response.alerts and not response.HasField("indicators")
    assert not any(d.HasField("mme_per_day") or d.HasField("lme_per_day") for d in response.dispensations)
    assert [d.id for d in response.dispensations] == ["1", "2"]
    assert ctx.notes["alerts"] == "withheld"


async def test_nothing_to_do_without_a_response() -> None:
    ctx = _ctx(pb.ROLE_PRESCRIBER)
    ctx.response = None
    await Alerts()(ctx)
    assert "alerts" not in ctx.notes
