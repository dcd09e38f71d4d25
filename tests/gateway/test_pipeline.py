"""The pipeline's stages one by one, and the runner's honesty about stages that are not built yet."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from gateway.budget import Deadline
from gateway.pipeline import DisabledStage, RequestContext, build_pipeline
from gateway.pipeline.authorize import Authorize
from gateway.pipeline.minimum_necessary import MinimumNecessary
from gateway.pipeline.runner import PipelineConfigurationError
from gateway.pipeline.search import Search
from gateway.policy.disclosure import WITHHELD_FIELDS
from gateway.testing import FakeSearchBackend, settings_for_tests
from protos.errors import PmpError
from protos.pmp.v1 import pmp_pb2 as pb

NPI = pb.Practitioner(npi="1234567893")


def ctx_for(requester: pb.Requester, *, budget: float = 5.0) -> RequestContext:
    search = pb.SearchHistoryRequest(
        patient=pb.PatientQuery(name=pb.HumanName(family="SMITH"), birth_date="1980-01-01"), requester=requester
    )
    return RequestContext("rid", "fhir", "pdmp-history", Deadline.after(budget), search)


@pytest.mark.parametrize(
    ("requester", "purpose"),
    [
        (pb.Requester(role=pb.ROLE_PRESCRIBER, practitioner=NPI), pb.PURPOSE_TREATMENT),
        (pb.Requester(practitioner=NPI), pb.PURPOSE_TREATMENT),  # IG examples state no role: a prescriber
        (pb.Requester(role=pb.ROLE_PHARMACIST, practitioner=NPI), pb.PURPOSE_DISPENSING),
        (pb.Requester(role=pb.ROLE_PHARMACIST, practitioner=NPI, purpose=pb.PURPOSE_TREATMENT), pb.PURPOSE_TREATMENT),
        (pb.Requester(role=pb.ROLE_LICENSED_DELEGATE, practitioner=NPI, on_behalf_of=NPI), pb.PURPOSE_TREATMENT),
        (
            pb.Requester(
                role=pb.ROLE_LAW_ENFORCEMENT, practitioner=pb.Practitioner(state_license="B-1"), case_number="C-9"
            ),
            pb.PURPOSE_INVESTIGATION,
        ),
        (pb.Requester(role=pb.ROLE_REGULATOR, practitioner=NPI, case_number="INV-7"), pb.PURPOSE_REGULATORY),
    ],
)
async def test_authorize_allows(requester: pb.Requester, purpose: int) -> None:
    ctx = ctx_for(requester)
    await Authorize()(ctx)
    assert ctx.search.requester.purpose == purpose


@pytest.mark.parametrize(
    ("requester", "reason"),
    [
        (pb.Requester(practitioner=NPI, on_behalf_of=NPI), "role"),
        (pb.Requester(role=pb.ROLE_ADMINISTRATOR, practitioner=NPI), "may not"),
        (pb.Requester(role=pb.ROLE_PRESCRIBER), "NPI"),
        (pb.Requester(role=pb.ROLE_UNLICENSED_DELEGATE, practitioner=NPI), "supervising"),
        (pb.Requester(role=pb.ROLE_LAW_ENFORCEMENT, practitioner=NPI), "case number"),
        (pb.Requester(role=pb.ROLE_REGULATOR, practitioner=NPI), "investigation reference"),
        (pb.Requester(role=pb.ROLE_LAW_ENFORCEMENT, practitioner=NPI, purpose=pb.PURPOSE_TREATMENT), "purpose"),
        (pb.Requester(role=pb.ROLE_PRESCRIBER, practitioner=NPI, purpose=pb.PURPOSE_INVESTIGATION), "purpose"),
    ],
)
async def test_authorize_refuses(requester: pb.Requester, reason: str) -> None:
    with pytest.raises(PmpError, match=reason) as refused:
        await Authorize()(ctx_for(requester))
    assert refused.value.code == pb.ERROR_CODE_FORBIDDEN


async def test_minimum_necessary_clears_what_the_role_may_not_see() -> None:
    ctx = ctx_for(pb.Requester(role=pb.ROLE_PRESCRIBER, practitioner=NPI))
    ctx.response = pb.SearchHistoryResponse(
        match_status=pb.MATCH_STATUS_FOUND,
        dispensations=[pb.Dispensation(rx_number="RX1", payment_type="01", pharmacist_npi="1", transmission_form="05")],
    )
    await MinimumNecessary()(ctx)
    d = ctx.response.dispensations[0]
    assert d.rx_number == "RX1"
    assert (d.payment_type, d.pharmacist_npi, d.transmission_form) == ("", "", "")
    assert "payment_type" in WITHHELD_FIELDS[pb.ROLE_PRESCRIBER]


async def test_minimum_necessary_discloses_no_candidates_of_an_ambiguous_match() -> None:
    ctx = ctx_for(pb.Requester(role=pb.ROLE_PRESCRIBER, practitioner=NPI))
    ctx.response = pb.SearchHistoryResponse(
        match_status=pb.MATCH_STATUS_AMBIGUOUS, patients=[pb.MatchedPatient(id="1"), pb.MatchedPatient(id="2")]
    )
    await MinimumNecessary()(ctx)
    assert not ctx.response.patients


async def test_search_passes_what_is_left_of_the_budget() -> None:
    backend = FakeSearchBackend(pb.SearchHistoryResponse(match_status=pb.MATCH_STATUS_NOT_FOUND))
    ctx = ctx_for(pb.Requester(), budget=2.0)
    await Search(backend)(ctx)
    (request, timeout) = backend.calls[0]
    assert 1.5 < timeout < 2.0
    assert request.request_id == "rid"


async def test_search_refuses_a_spent_budget() -> None:
    backend = FakeSearchBackend(pb.SearchHistoryResponse())
    ctx = ctx_for(pb.Requester())
    ctx.deadline = Deadline(time.monotonic() - 0.001)  # a budget already spent
    with pytest.raises(PmpError) as spent:
        await Search(backend)(ctx)
    assert spent.value.code == pb.ERROR_CODE_TIMEOUT
    assert not backend.calls


class _Passing:
    """A built stage standing in for authenticate / identify (their own tests are in tests/gateway/auth and
    tests/gateway/registry)."""

    def __init__(self, name: str) -> None:
        self.name = name

    async def __call__(self, ctx: RequestContext) -> None:
        return None


_BUILT_WITH_DEPENDENCIES = ("authenticate", "identify", "suspension", "rate_limit", "audit")


def _pipeline(tmp_path: Path, **settings: Any) -> Any:
    return build_pipeline(
        settings_for_tests(tmp_path, **settings),
        FakeSearchBackend(pb.SearchHistoryResponse()),
        **{name: _Passing(name) for name in _BUILT_WITH_DEPENDENCIES},
        partner_policy=_Passing("partner_policy"),
    )


def test_stages_in_order_all_enabled_by_default(tmp_path: Path) -> None:
    states = _pipeline(tmp_path).describe()
    assert list(states) == [
        "authenticate",
        "partner_policy",
        "identify",
        "issued_to",
        "suspension",
        "rate_limit",
        "authorize",
        "search",
        "minimum_necessary",
        "alerts",
        "audit",
    ]
    assert set(states.values()) == {"enabled"}


def test_built_stages_turned_off_say_so(tmp_path: Path) -> None:
    pipeline = _pipeline(tmp_path, **dict.fromkeys(_BUILT_WITH_DEPENDENCIES, False))
    states = pipeline.describe()
    for name in _BUILT_WITH_DEPENDENCIES:
        assert states[name] == f"disabled: turned off in settings (PMP_{name.upper()}=false)"
    assert all(isinstance(s, DisabledStage) for s in pipeline.stages if states[s.name] != "enabled")


@pytest.mark.parametrize("stage", _BUILT_WITH_DEPENDENCIES)
def test_an_enabled_stage_without_its_dependencies_fails_at_start(tmp_path: Path, stage: str) -> None:
    others = {name: _Passing(name) for name in _BUILT_WITH_DEPENDENCIES if name != stage}
    with pytest.raises(PipelineConfigurationError, match=stage):
        build_pipeline(settings_for_tests(tmp_path), FakeSearchBackend(pb.SearchHistoryResponse()), **others)
