"""The authorize stage: role × purpose (and, once OAuth lands, the token's scope) must allow the disclosure."""

from __future__ import annotations

from gateway.pipeline.context import RequestContext
from gateway.policy.disclosure import (
    ALLOWED_PURPOSES,
    DEFAULT_PURPOSE,
    DELEGATE_ROLES,
    REFERENCE_REQUIRED,
    UNSTATED_ROLE,
)
from protos.errors import PmpError
from protos.pmp.v1 import pmp_pb2 as pb


def _forbidden(detail: str) -> PmpError:
    return PmpError(pb.ERROR_CODE_FORBIDDEN, detail)


def _identified(p: pb.Practitioner) -> bool:
    return bool(p.npi or p.dea or p.state_license)


class Authorize:
    name = "authorize"

    async def __call__(self, ctx: RequestContext) -> None:
        requester = ctx.search.requester
        if requester.role == pb.ROLE_UNSPECIFIED and not _identified(requester.on_behalf_of):
            requester.role = UNSTATED_ROLE
        role = requester.role
        if role == pb.ROLE_UNSPECIFIED:
            raise _forbidden("the request does not state the requester's role")
        allowed = ALLOWED_PURPOSES.get(role)
        if allowed is None:
            raise _forbidden("this role may not request prescription histories")
        if not _identified(requester.practitioner):
            raise _forbidden("the requester carries no NPI, DEA number or state licence")
        if role in DELEGATE_ROLES and not _identified(requester.on_behalf_of):
            raise _forbidden("a delegate must name the supervising practitioner")
        purpose = requester.purpose or DEFAULT_PURPOSE[role]
        if purpose not in allowed:
            raise _forbidden("the stated purpose is not allowed for this role")
        needs_reference = REFERENCE_REQUIRED.get(purpose)
        if needs_reference and not requester.case_number.strip():
            raise _forbidden(needs_reference)
        requester.purpose = purpose
        ctx.notes[self.name] = f"{pb.Role.Name(role).lower()}/{pb.Purpose.Name(purpose).lower()}"
