"""The NCPDP codec's interstate parts: ``Header/Mailbox/MailboxID`` ``PMP:CO,NM`` names the states to ask; an answer
merged from several PMPs names the state on each ``MedicationDispensed`` (``HistorySource/Source``) and the missing
states in ``Approved/Note`` or the ``Denied`` reason. Every reply validates against its version's schema."""

from __future__ import annotations

import pytest
from ncpdp_test_data import NOW, Request, at, build, decode, dispensation, found, read_reply, text_at

from adapters.ncpdp import encode_rx_history_response
from adapters.ncpdp.interstate import partial_token
from protos.errors import PmpError
from protos.pmp.v1 import pmp_pb2 as pb

VERSIONS = ["2017071", "10.6"]
DISPENSED = "Body/RxHistoryResponse/MedicationDispensed"


def with_mailbox(version: str, mailbox_id: str) -> bytes:
    body = build(Request(version=version))  # type: ignore[arg-type]
    return body.replace(b"</SentTime>", f"</SentTime><Mailbox><MailboxID>{mailbox_id}</MailboxID></Mailbox>".encode())


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(
    ("mailbox_id", "states"),
    [("PMP:CO,NM", ["CO", "NM"]), ("pmp: co , nm", ["CO", "NM"]), ("PMP:NONE", ["NONE"]), ("ROUTE-7", [])],
)
def test_the_mailbox_id_names_the_states(version: str, mailbox_id: str, states: list[str]) -> None:
    assert list(decode(with_mailbox(version, mailbox_id)).request.states) == states


def test_no_mailbox_asks_the_default_set() -> None:
    assert not decode(build(Request())).request.states


@pytest.mark.parametrize("mailbox_id", ["PMP:", "PMP:COL", "PMP:NONE,CO", "PMP:C0"])
def test_a_bad_state_list_is_an_invalid_request(mailbox_id: str) -> None:
    with pytest.raises(PmpError, match="Mailbox/MailboxID") as refused:
        decode(with_mailbox("2017071", mailbox_id))
    assert refused.value.code == pb.ERROR_CODE_INVALID_REQUEST


def merged(version: str, *partners: tuple[str, str, int]) -> tuple[object, pb.SearchHistoryResponse]:
    query = decode(build(Request(version=version)))  # type: ignore[arg-type]
    response = found(query, 2)
    for d in response.dispensations:
        d.source_state = "UT"
    response.sources.add(state="UT", status="complete", dispensations=2)
    for state, status, count in partners:
        response.sources.add(state=state, status=status, dispensations=count)
        for i in range(count):
            response.dispensations.append(dispensation(10 + i, source_state=state, rx_number=f"{state}-{i}"))
    response.total_dispensations = len(response.dispensations)
    return query, response


@pytest.mark.parametrize("version", VERSIONS)
def test_each_record_names_the_state_pmp_that_holds_it(version: str) -> None:
    query, response = merged(version, ("CO", "complete", 2))
    body = encode_rx_history_response(response, query=query, message_id="r1", now=NOW)  # type: ignore[arg-type]
    root = read_reply(body, version)  # type: ignore[arg-type]
    held_by = [d.text for d in at(root, f"{DISPENSED}/HistorySource/Source/SourceDescription")]
    assert held_by == ["UT PMP", "UT PMP", "CO PMP", "CO PMP"]
    assert {q.text for q in at(root, f"{DISPENSED}/HistorySource/Source/SourceQualifier")} == {"P2"}
    assert text_at(root, "Body/RxHistoryResponse/Response/Approved/Note") is None  # complete: nothing to say


@pytest.mark.parametrize("version", VERSIONS)
def test_a_partial_answer_names_the_missing_states(version: str) -> None:
    query, response = merged(version, ("CO", "complete", 1), ("NM", "error", 0), ("AZ", "disallowed", 0))
    body = encode_rx_history_response(response, query=query, message_id="r1", now=NOW)  # type: ignore[arg-type]
    root = read_reply(body, version)  # type: ignore[arg-type]
    assert text_at(root, "Body/RxHistoryResponse/Response/Approved/Note") == "PARTIAL - MISSING NM,AZ"


@pytest.mark.parametrize("version", VERSIONS)
def test_the_partial_token_is_kept_first_beside_the_indicators(version: str) -> None:
    query, response = merged(version, ("NM", "error", 0))
    response.indicators.CopyFrom(pb.Indicators(peak_mme=120, current_mme=60, prescribers_90d=6, pharmacies_90d=5))
    response.alerts.add(code="05")
    body = encode_rx_history_response(response, query=query, message_id="r1", now=NOW)  # type: ignore[arg-type]
    note = text_at(read_reply(body, version), "Body/RxHistoryResponse/Response/Approved/Note")  # type: ignore[arg-type]
    assert note is not None and note.startswith("PARTIAL - MISSING NM; !MME 120pk 60now") and len(note) <= 70


@pytest.mark.parametrize("version", VERSIONS)
def test_no_data_anywhere_with_a_missing_state_is_a_denied_saying_so(version: str) -> None:
    query = decode(build(Request(version=version)))  # type: ignore[arg-type]
    response = pb.SearchHistoryResponse(match_status=pb.MATCH_STATUS_NOT_FOUND)
    response.sources.add(state="UT", status="no-data")
    response.sources.add(state="CO", status="error")
    body = encode_rx_history_response(response, query=query, message_id="r1", now=NOW)
    root = read_reply(body, version)  # type: ignore[arg-type]
    assert text_at(root, "Body/RxHistoryResponse/Response/Denied/DenialReason") == (
        "No PMP history found; PARTIAL - MISSING CO"
    )


def test_a_long_list_of_missing_states_is_counted_not_cut() -> None:
    states = ["CO", "NM", "AZ", "NV", "ID", "WY", "MT", "OR", "WA", "CA"]
    token = partial_token(states)
    assert token == "PARTIAL - MISSING CO,NM,AZ,NV,ID,WY +4"  # 38 characters: fits beside the indicators
