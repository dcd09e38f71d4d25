"""The reader on real-shaped files: the public samples and a hand-written two-pharmacy 4.2 file."""

from __future__ import annotations

import io

import pytest
from asap_strategies import read_bytes, sample_text

from adapters.asap import read_asap
from adapters.asap.model import (
    AdditionalInfo,
    CompoundIngredient,
    DispensationRecord,
    Dispensing,
    InformationSource,
    Patient,
    Pharmacy,
    Prescriber,
    TransactionHeader,
    ZeroReport,
)
from adapters.asap.reader import AsapReader

# A weekly 4.2 submission from a two-store chain: `~` terminator, CRLF after each segment, some
# segments with their trailing empty elements left out (as producers do).
REALISTIC_SEGMENTS = [
    "TH*4.2*TCN20240115001*01**20240115*1530*P**~",
    "IS*IL0001234*SPRINGFIELD DRUG HOLDINGS*WEEKLY SUBMISSION",
    # segment 3: first pharmacy
    "PHA*1234567893*1434567*FS1234563*SPRINGFIELD DRUG #12*100 MAIN ST*SUITE 4*SPRINGFIELD*IL*62701*"
    "2175550100*PAT MORAN*12",
    "PAT*IL*07*123456789****DOE*JANE*Q***12 ELM ST**SPRINGFIELD*IL*62704*2175550111*19800214*F*01",
    "DSP*00*RX1000001*20240102*2*20240103*0*01*00406052301*30*15*01*05*00*1629071234*PH12345*01*20240103",
    "PRE*1962445566*AB1234563**036123456*SMITH*JOHN*A*2175550122",
    "DSP*00*RX1000002*20240105*0*20240106*0*01*00093316301*12.5*5*02*01*00*1629071234**07*20240106",
    "PRE*1962445566*AB1234563**036123456*SMITH*JOHN*A*2175550122",
    "AIR*IL*SN000123*IL*01*D1234567*01*DOE*JOHN*LEE*MARY*01",
    # segment 10: a revision for another patient, PRE with trailing elements left out
    "PAT*IL*07*987654321****ROE*RICHARD****44 OAK AVE**CHAMPAIGN*IL*61820**19551130*M*01",
    "DSP*01*RX0999123*20231220*1*20240104*1*01*00591040401*60*30*01*05*00*1629071234**02*20240104",
    "PRE*1831234567*BR7654321**036654321*BROWN*ALICE",
    "TP*11",
    # segment 14: second pharmacy, a compound and a void
    "PHA**2234561*FC7654321*CHAMPAIGN APOTHECARY*9 GREEN ST**CHAMPAIGN*IL*61820*2175550200",
    "PAT*IL*07*555443333****ÑUÑEZ*JOSÉ******URBANA*IL*61801**19720704*M*01",
    "DSP*00*RX2000001*20240108*0*20240109*0*06*COMPOUND-17*100*30*02*01*00*1457381234**01*20240110",
    "PRE**CB1112223**036777888*WHITE*CAROL",
    "CDI*1*01*00574040501*50*03",
    "CDI*2*01*51927101300*50*03",
    "PAT*IL*07*111223333****DOE*JANE******SPRINGFIELD*IL*62704**19800214*F*01",
    "DSP*02*RX2000000*20240101*0*20240102*0*01*00406052301*30*15",
    "TP*9",
    "TT*TCN20240115001*23",
]
REALISTIC = ("~\r\n".join(REALISTIC_SEGMENTS) + "~\r\n").encode("utf-8")


@pytest.fixture(scope="module")
def realistic() -> tuple[AsapReader, list[DispensationRecord | ZeroReport]]:
    return read_bytes(REALISTIC)


def test_realistic_file_has_no_errors(realistic: tuple[AsapReader, list[object]]) -> None:
    reader, items = realistic
    assert reader.errors == []
    assert len(items) == 5
    assert reader.record_count == 5
    assert reader.segment_count == 23
    assert reader.header == TransactionHeader("4.2", "TCN20240115001", "01", "", "20240115", "1530", "P", "", "~")
    assert reader.source == InformationSource("IL0001234", "SPRINGFIELD DRUG HOLDINGS", "WEEKLY SUBMISSION")


def test_realistic_first_pharmacy_field_by_field(realistic: tuple[AsapReader, list[object]]) -> None:
    _, items = realistic
    first, second, revision = items[:3]
    assert isinstance(first, DispensationRecord)
    assert isinstance(second, DispensationRecord)
    assert isinstance(revision, DispensationRecord)
    assert first.pharmacy == Pharmacy(
        "1234567893", "1434567", "FS1234563", "SPRINGFIELD DRUG #12", "100 MAIN ST", "SUITE 4",
        "SPRINGFIELD", "IL", "62701", "2175550100", "PAT MORAN", "12", "",
    )  # fmt: skip
    assert first.pharmacy.key == "ncpdp:1434567"
    assert first.patient == Patient(
        "IL", "07", "123456789", "", "", "", "DOE", "JANE", "Q", "", "", "12 ELM ST", "", "SPRINGFIELD",
        "IL", "62704", "2175550111", "19800214", "F", "01", "", "", "",
    )  # fmt: skip
    assert first.dispensing == Dispensing(
        "00", "RX1000001", "20240102", "2", "20240103", "0", "01", "00406052301", "30", "15", "01", "05",
        "00", "1629071234", "PH12345", "01", "20240103",
    )  # fmt: skip
    assert first.prescriber == Prescriber(
        "1962445566", "AB1234563", "", "036123456", "SMITH", "JOHN", "A", "2175550122"
    )
    assert first.compounds == ()
    assert first.additional is None
    assert first.segment_number == 5

    assert second.patient is first.patient  # one PAT, shared
    assert second.dispensing.quantity == "12.5"
    assert second.dispensing.days_supply == "5"
    assert second.dispensing.date_sold == "20240106"
    assert second.additional == AdditionalInfo(
        "IL", "SN000123", "IL", "01", "D1234567", "01", "DOE", "JOHN", "LEE", "MARY", "01"
    )
    assert second.segment_number == 7

    assert revision.dispensing.reporting_status == "01"
    assert revision.patient.last_name == "ROE"
    assert revision.patient.birth_date == "19551130"
    assert revision.patient.gender == "M"
    assert revision.prescriber == Prescriber("1831234567", "BR7654321", "", "036654321", "BROWN", "ALICE")
    assert revision.segment_number == 11


def test_realistic_second_pharmacy_compound_and_void(realistic: tuple[AsapReader, list[object]]) -> None:
    _, items = realistic
    compound, void = items[3:]
    assert isinstance(compound, DispensationRecord)
    assert isinstance(void, DispensationRecord)
    assert compound.pharmacy.npi == ""
    assert compound.pharmacy.key == "ncpdp:2234561"
    assert compound.patient.last_name == "ÑUÑEZ"
    assert compound.patient.first_name == "JOSÉ"
    assert compound.patient.city == "URBANA"
    assert compound.dispensing.product_qualifier == "06"
    assert compound.dispensing.product_id == "COMPOUND-17"
    assert compound.prescriber == Prescriber("", "CB1112223", "", "036777888", "WHITE", "CAROL")
    assert compound.compounds == (
        CompoundIngredient("1", "01", "00574040501", "50", "03"),
        CompoundIngredient("2", "01", "51927101300", "50", "03"),
    )
    assert void.dispensing.reporting_status == "02"
    assert void.dispensing.rx_number == "RX2000000"
    assert void.prescriber is None
    assert void.dispensing.date_sold == ""
    assert void.segment_number == 21


def test_realistic_file_read_through_a_real_file(tmp_path: object) -> None:
    import pathlib

    path = pathlib.Path(str(tmp_path)) / "weekly.dat"
    path.write_bytes(REALISTIC)
    with path.open("rb") as handle:
        reader = read_asap(handle, chunk_size=64)
        records = list(reader)
    assert reader.errors == []
    assert len(records) == 5


# -- the public sample files -------------------------------------------------------------------


def test_parafill_zero_report_sample() -> None:
    reader, items = read_bytes(sample_text("parafill-asap_4.2A_zero-report_test-expectation.txt").encode())
    assert reader.errors == []
    assert items == [ZeroReport(Pharmacy("", "", "ZZ1234567"), "20150101", "20150107", 5)]
    assert reader.header is not None and reader.header.segment_terminator == "\\"
    assert reader.segment_count == 10


def test_parafill_two_pharmacy_sample() -> None:
    text = sample_text("parafill-asap_4.2A_two-pharmacy-transaction_test-expectation.txt")
    reader, items = read_bytes(text.encode())
    assert reader.errors == []
    pharmacy = Pharmacy("", "", "ZZ1234567")
    assert items == [
        ZeroReport(pharmacy, "20150101", "20150107", 5),
        ZeroReport(pharmacy, "20150101", "20150107", 12),
    ]
    assert reader.segment_count == 17


def test_mgaffigan_sample_is_rejected() -> None:
    """TH01 is masked as 0.0 and the counts are 0: errors name TH01, TP01 and TT02."""
    reader, items = read_bytes(sample_text("mgaffigan-asap4toxml_README-sample-input.txt").encode())
    where = {(e.segment_number, e.segment, e.field) for e in reader.errors}
    assert (1, "TH", "TH01") in where
    assert (7, "TP", "TP01") in where
    assert (8, "TT", "TT02") in where
    assert (1, "TH", "TH05") in where  # 00000000 is no date
    assert items == []


@pytest.mark.parametrize("version", ["4.2", "4.2A", "4.2B"])
def test_supported_versions(version: str) -> None:
    text = REALISTIC.replace(b"TH*4.2*", f"TH*{version}*".encode())
    reader, items = read_bytes(text)
    assert reader.errors == []
    assert len(items) == 5


@pytest.mark.parametrize("version", ["5.0", "4.1", "", "4.2C"])
def test_other_versions_are_rejected(version: str) -> None:
    reader, _ = read_bytes(REALISTIC.replace(b"TH*4.2*", f"TH*{version}*".encode()))
    assert [(e.segment_number, e.field) for e in reader.errors] == [(1, "TH01")]


def test_backslash_terminator_without_line_breaks() -> None:
    text = "\\".join(s.replace("~", "\\") for s in REALISTIC_SEGMENTS) + "\\"
    reader, items = read_bytes(text.encode())
    assert reader.errors == []
    assert len(items) == 5


def test_bom_and_leading_whitespace_are_tolerated() -> None:
    reader, items = read_bytes(b"\xef\xbb\xbf\r\n" + REALISTIC)
    assert reader.errors == []
    assert len(items) == 5


def test_spaces_and_tabs_between_segments_are_tolerated() -> None:
    text = "~ \t\r\n".join(REALISTIC_SEGMENTS) + "~\r\n\r\n"
    reader, items = read_bytes(text.encode())
    assert reader.errors == []
    assert len(items) == 5


def test_all_empty_pre_cdi_air_read_as_absent() -> None:
    segments = [*REALISTIC_SEGMENTS]
    segments[5] = "PRE*********"
    segments.insert(6, "CDI*****")
    segments.insert(7, "AIR***********")
    segments[14] = "TP*13"
    segments[-1] = "TT*TCN20240115001*25"
    reader, items = read_bytes(("~".join(segments) + "~").encode())
    assert reader.errors == []
    first = items[0]
    assert isinstance(first, DispensationRecord)
    assert first.prescriber is None
    assert first.compounds == ()
    assert first.additional is None


def test_zero_report_period_falls_back_to_date_filled() -> None:
    text = sample_text("parafill-asap_4.2A_zero-report_test-expectation.txt").replace(
        "#20150101#-#20150107#", "NOTHING TO REPORT"
    )
    reader, items = read_bytes(text.encode())
    assert reader.errors == []
    assert items == [ZeroReport(Pharmacy("", "", "ZZ1234567"), "20150101", "20150101", 5)]


def test_iterating_twice_does_not_read_twice() -> None:
    reader = AsapReader(io.BytesIO(REALISTIC))
    assert len(list(reader)) == 5
    assert list(reader) == []
    assert reader.record_count == 5
