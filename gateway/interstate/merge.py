"""Our answer and the partner states' answers as one ``pb.SearchHistoryResponse``.

* **dispensations** — ours, then each partner's with ``source_state`` set to that partner, ordered newest fill
  first (a stable sort: on the same day ours come first, then the partners in the order asked);
* **sources** — one ``SourceOutcome`` per state asked, ours first: a partner that failed is listed with status
  ``error`` (or ``disallowed`` / ``deferred``) and a one-line detail, never left out;
* **match status** — ours, except when we found nobody (or several people) and a partner returned dispensations:
  the answer is then FOUND with the partners' records only; our ambiguous candidates are dropped (an ambiguous
  match discloses no candidate) and our part says ``deferred``;
* **total** — our total in the period plus what the partners returned.

Clinical indicators and alerts stay ours: pmpdb computes them over this state's fills only (documented in
docs/architecture.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from operator import attrgetter

from gateway.interstate.answer import PartnerAnswer, PmixStatus
from protos.pmp.v1 import pmp_pb2 as pb

_NEWEST_FIRST = attrgetter("date_filled")


def own_status(response: pb.SearchHistoryResponse) -> PmixStatus:
    status = response.match_status
    if status == pb.MATCH_STATUS_FOUND:
        return PmixStatus.COMPLETE if response.dispensations else PmixStatus.NO_DATA
    if status == pb.MATCH_STATUS_AMBIGUOUS:
        return PmixStatus.DEFERRED
    return PmixStatus.NO_DATA


def merge(response: pb.SearchHistoryResponse, answers: Sequence[PartnerAnswer], *, own_state: str) -> None:
    """Merge ``answers`` into our ``response`` (in place)."""
    ours = pb.SourceOutcome(state=own_state, status=own_status(response), dispensations=len(response.dispensations))
    if ours.status == PmixStatus.DEFERRED:
        ours.detail = "more than one person matches; manual review needed"
    sources = [ours]
    theirs: list[pb.Dispensation] = []
    for answer in answers:
        sources.append(
            pb.SourceOutcome(
                state=answer.state,
                status=answer.status.value,
                detail=answer.detail,
                dispensations=len(answer.dispensations),
            )
        )
        for dispensation in answer.dispensations:  # the client's own messages: labelled in place
            dispensation.source_state = answer.state
            theirs.append(dispensation)
    if theirs:
        if response.match_status != pb.MATCH_STATUS_FOUND:
            response.match_status = pb.MATCH_STATUS_FOUND
            del response.patients[:]
        merged = [*response.dispensations, *theirs]
        merged.sort(key=_NEWEST_FIRST, reverse=True)
        del response.dispensations[:]
        response.dispensations.extend(merged)
        response.total_dispensations += len(theirs)
    response.sources.extend(sources)
