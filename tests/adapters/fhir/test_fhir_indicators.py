"""Clinical indicators in FHIR: ``pdmp-extension-mme`` / ``-lme`` on MedicationDispense and a DetectedIssue per alert
in the ``$pdmp-history`` Bundle and on a search's first page — every output valid R4B."""

from __future__ import annotations

from typing import Any

import orjson
from fhir.resources.R4B.detectedissue import DetectedIssue
from fhir_test_data import (
    NOW,
    SOURCE,
    found,
    history_bundle,
    history_request,
    resources_of,
    valid_bundle,
    valid_parameters,
)

from adapters.fhir import encode_pdmp_history, encode_searchset
from adapters.fhir.codes import EXT_LME, EXT_MME, SYSTEM_PMIX_ALERT
from protos.pmp.v1 import pmp_pb2 as pb


def with_indicators(count: int = 6, total: int | None = None) -> pb.SearchHistoryResponse:
    response = found(count, total)
    response.dispensations[0].mme_per_day = 60.0
    response.dispensations[1].mme_per_day = 22.5
    response.dispensations[2].lme_per_day = 2.0
    response.indicators.CopyFrom(pb.Indicators(as_of="2026-11-23", peak_mme=120, current_mme=60, overlap_days=12))
    response.alerts.add(
        code="05",
        text="Daily MME reached 120 on 2026-10-01 (threshold 90, CDC 2022 factors); 60 on 2026-11-23",
        period=pb.DateRange(start="2026-10-01", end="2026-10-30"),
        value=120,
        threshold=90,
    )
    response.alerts.add(
        code="04",
        text="Opioid and benzodiazepine both active on 12 days",
        period=pb.DateRange(start="2026-11-01", end="2026-11-12"),
        value=12,
        threshold=1,
    )
    return response


def _extension(resource: dict[str, Any], url: str) -> Any:
    return next((e["valueDecimal"] for e in resource.get("extension", []) if e["url"] == url), None)


def test_pdmp_history_bundle_carries_mme_and_alerts() -> None:
    body = encode_pdmp_history(with_indicators(), request=history_request(), patient_id="p1", source=SOURCE, now=NOW)
    bundle = history_bundle(valid_parameters(body))
    valid_bundle(orjson.dumps(bundle))
    dispenses = resources_of(bundle, "MedicationDispense")
    assert [_extension(d, EXT_MME) for d in dispenses[:3]] == [60, 22.5, None]
    assert _extension(dispenses[2], EXT_LME) == 2
    assert all(_extension(d, EXT_MME) is None for d in dispenses[3:])
    # the refill's other extensions are kept beside the MME
    assert any(e["url"].endswith("rx-fill-number") for e in dispenses[1]["extension"])
    issues = resources_of(bundle, "DetectedIssue")
    assert len(issues) == 2
    patient_url = bundle["entry"][0]["fullUrl"]
    assert bundle["entry"][0]["resource"]["resourceType"] == "Patient"
    assert [e["resource"]["resourceType"] for e in bundle["entry"][1:3]] == ["DetectedIssue"] * 2
    mme, overlap = issues
    for issue in issues:
        DetectedIssue.model_validate(issue)
        assert issue["status"] == "final"
        assert issue["patient"]["reference"] == patient_url
        assert issue["code"]["coding"][0]["system"] == SYSTEM_PMIX_ALERT
    assert mme["code"]["coding"][0] == {"system": SYSTEM_PMIX_ALERT, "code": "05", "display": "MME"}
    assert mme["identifiedPeriod"] == {"start": "2026-10-01", "end": "2026-10-30"}
    assert mme["detail"].startswith("Daily MME reached 120")
    assert overlap["code"]["text"] == "Overlapping prescription"
    urls = [e["fullUrl"] for e in bundle["entry"]]
    assert len(urls) == len(set(urls))


def test_same_answer_same_bytes() -> None:
    def encode() -> bytes:
        return encode_pdmp_history(
            with_indicators(), request=history_request(), patient_id="p1", source=SOURCE, now=NOW
        )

    assert encode() == encode()


def test_searchset_includes_alerts_on_the_page_that_has_them() -> None:
    body = encode_searchset(with_indicators(), patient_id="p1", self_url="s", next_url="n", source=SOURCE, now=NOW)
    bundle = valid_bundle(body)
    modes = {e["resource"]["resourceType"]: e["search"]["mode"] for e in bundle["entry"]}
    assert modes["DetectedIssue"] == "include" and modes["MedicationDispense"] == "match"
    assert bundle["total"] == 6
    later = found(6)  # a later page: pmpdb sends no alerts
    assert not resources_of(
        valid_bundle(encode_searchset(later, patient_id="p1", self_url="s", next_url=None, source=SOURCE, now=NOW)),
        "DetectedIssue",
    )


def test_no_alerts_no_detected_issue_and_no_mme_no_extension() -> None:
    body = encode_pdmp_history(found(4), request=history_request(), patient_id="p1", source=SOURCE, now=NOW)
    bundle = history_bundle(valid_parameters(body))
    assert not resources_of(bundle, "DetectedIssue")
    assert all(_extension(d, EXT_MME) is None for d in resources_of(bundle, "MedicationDispense"))
