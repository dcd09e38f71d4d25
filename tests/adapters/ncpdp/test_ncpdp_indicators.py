"""Clinical indicators in NCPDP: the compact ``Approved/Note`` (alerts marked ``!``), beside the cut notice when the
answer is cut, always within the schema's 70 characters and valid in both versions."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ncpdp_test_data import (
    NOW,
    SAMPLE_10_6_PRESCRIBER,
    SAMPLE_2017071_PRESCRIBER,
    decode,
    found,
    read_reply,
    sample,
    text_at,
)

from adapters.ncpdp import encode_rx_history_response
from adapters.ncpdp.response import NOTE_LENGTH, indicator_note
from protos.pmp.v1 import pmp_pb2 as pb

APPROVED = "Body/RxHistoryResponse/Response/Approved"
SAMPLES = [SAMPLE_10_6_PRESCRIBER, SAMPLE_2017071_PRESCRIBER]


def _answer(name: str, count: int, total: int, alerts: tuple[str, ...] = ("05", "03", "04")) -> tuple[str, str]:
    query = decode(sample(name))
    response = found(query, count, total=total)
    response.indicators.CopyFrom(
        pb.Indicators(
            peak_mme=120, current_mme=60, prescribers_90d=6, pharmacies_90d=5, overlap_days=12, active_prescriptions=3
        )
    )
    for code in alerts:
        response.alerts.add(code=code)
    body = encode_rx_history_response(response, query=query, message_id="r1", now=NOW)
    root = read_reply(body, query.version)  # schema-valid
    return text_at(root, f"{APPROVED}/Note") or "", text_at(root, f"{APPROVED}/ApprovalReasonCode") or ""


@pytest.mark.parametrize("name", SAMPLES)
def test_indicators_and_alerts_in_the_note(name: str) -> None:
    note, code = _answer(name, 3, 3)
    assert note == "!MME 120pk 60now; !MPE 6pr 5ph; !OPI+BZD 12d; RX 3"
    assert code == ""  # nothing was cut


@pytest.mark.parametrize("name", SAMPLES)
def test_indicators_beside_the_cut_notice(name: str) -> None:
    note, code = _answer(name, 20, 45)
    assert note == "!MME 120pk 60now; !MPE 6pr 5ph; !OPI+BZD 12d; RX 3; 20/45 fills sent"
    assert len(note) <= NOTE_LENGTH
    assert code == "AQ"


@pytest.mark.parametrize("name", SAMPLES)
def test_no_alert_no_mark(name: str) -> None:
    note, _ = _answer(name, 3, 3, alerts=())
    assert note == "MME 120pk 60now; MPE 6pr 5ph; OPI+BZD 12d; RX 3"


def test_lowest_priority_tokens_give_way() -> None:
    ind = pb.Indicators(
        peak_mme=1234.5,
        current_mme=1000.5,
        prescribers_90d=120,
        pharmacies_90d=110,
        overlap_days=365,
        active_prescriptions=40,
    )
    # alerts first; the cut notice does not fit beside them (ApprovalReasonCode AQ still says it); a shorter
    # figure that does fit is kept
    note = indicator_note(ind, {"05", "03", "04"}, 300, 123456)
    assert note == "!MME 1234.5pk 1000.5now; !MPE 120pr 110ph; !OPI+BZD 365d; RX 40"
    # without alerts, the cut notice outranks the figures
    quiet = indicator_note(ind, set(), 300, 123456)
    assert quiet == "MME 1234.5pk 1000.5now; MPE 120pr 110ph; RX 40; 300/123456 fills sent"
    assert len(quiet) <= NOTE_LENGTH


def test_without_mme_or_overlap_those_tokens_are_absent() -> None:
    note = indicator_note(pb.Indicators(prescribers_90d=1, pharmacies_90d=1, active_prescriptions=1), set(), 1, 1)
    assert note == "MPE 1pr 1ph; RX 1"


@settings(max_examples=200, deadline=None)
@given(
    st.floats(min_value=0, max_value=1e6, allow_nan=False),
    st.floats(min_value=0, max_value=1e6, allow_nan=False),
    st.integers(min_value=0, max_value=10**6),
    st.integers(min_value=0, max_value=10**6),
    st.integers(min_value=0, max_value=4000),
    st.integers(min_value=0, max_value=10**6),
    st.sets(st.sampled_from(["03", "04", "05"])),
    st.integers(min_value=0, max_value=300),
    st.integers(min_value=0, max_value=10**7),
)
def test_the_note_always_fits(
    peak: float, current: float, pr: int, ph: int, overlap: int, active: int, alerted: set[str], sent: int, total: int
) -> None:
    ind = pb.Indicators(
        peak_mme=peak,
        current_mme=current,
        prescribers_90d=pr,
        pharmacies_90d=ph,
        overlap_days=overlap,
        active_prescriptions=active,
    )
    note = indicator_note(ind, alerted, sent, max(sent, total))
    assert len(note) <= NOTE_LENGTH
    assert note.isascii()
