"""Each normaliser on the spellings pharmacies and requesters actually send."""

from __future__ import annotations

import datetime as dt

import pytest

from pmpdb.matching import Demographics, InvalidDemographicsError, normalize
from pmpdb.matching.address import (
    address_key,
    normalize_address,
    normalize_city,
    normalize_state,
    normalize_zip,
)
from pmpdb.matching.normalize import (
    normalize_birth_date,
    normalize_first_name,
    normalize_gender,
    normalize_last_name,
    normalize_middle_name,
    normalize_phone,
    normalize_suffix,
)
from pmpdb.matching.text import fold, name_words


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("José", "JOSE"),
        ("Müller", "MULLER"),
        ("Ñúñez", "NUNEZ"),
        ("Strauß", "STRAUSS"),
        ("Łukasz", "LUKASZ"),
        ("Øster", "OSTER"),
        ("O'Brien", "OBRIEN"),
        ("O’Brien", "OBRIEN"),
        ("D´Angelo", "DANGELO"),
    ],
)
def test_fold_removes_diacritics_and_apostrophes(raw: str, expected: str) -> None:
    assert fold(raw) == expected


def test_name_words_split_on_punctuation_and_space() -> None:
    assert name_words(" garcia-lopez,  jr. ") == ("GARCIA", "LOPEZ", "JR")
    assert name_words("") == ()


@pytest.mark.parametrize(
    ("raw", "surname", "suffix"),
    [
        ("Smith", "SMITH", ""),
        ("  smith  ", "SMITH", ""),
        ("O'Brien", "OBRIEN", ""),
        ("O Brien", "OBRIEN", ""),
        ("OBRIEN", "OBRIEN", ""),
        ("García-López", "GARCIA LOPEZ", ""),
        ("Garcia Lopez", "GARCIA LOPEZ", ""),
        ("Garcia y Lopez", "GARCIA LOPEZ", ""),
        ("Mc Donald", "MCDONALD", ""),
        ("MacDonald", "MACDONALD", ""),
        ("De La Cruz", "DELACRUZ", ""),
        ("de la cruz-garcia", "DELACRUZ GARCIA", ""),
        ("van der Berg", "VANDERBERG", ""),
        ("Saint John", "STJOHN", ""),
        ("St. John", "STJOHN", ""),
        ("Al-Hassan", "ALHASSAN", ""),
        ("D U Bois", "DUBOIS", ""),  # D+U makes the particle DU, which glues on too (idempotence)
        ("SMITH JR", "SMITH", "JR"),
        ("Smith, Jr.", "SMITH", "JR"),
        ("Smith III", "SMITH", "III"),
        ("Smith 3rd", "SMITH", "III"),
        ("Smith V", "SMITH", "V"),
        ("JR", "JR", ""),  # a lone word is the surname, not a suffix
        ("Le", "LE", ""),  # a lone particle is the surname
        ("Unknown", "", ""),
    ],
)
def test_last_name(raw: str, surname: str, suffix: str) -> None:
    assert normalize_last_name(raw) == (surname, suffix)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("john", ("JOHN", "", "")),
        ("Mary Ann", ("MARY ANN", "", "")),
        ("Mary-Ann", ("MARY ANN", "", "")),
        ("John A.", ("JOHN", "A", "")),
        ("Dr. John", ("JOHN", "", "")),
        ("John Jr", ("JOHN", "", "JR")),
        ("John A Jr", ("JOHN", "A", "JR")),
        ("John V", ("JOHN", "V", "")),  # a trailing V in a given name is an initial
        ("J", ("J", "", "")),
        ("Baby Girl", ("", "", "")),
        ("FNU", ("", "", "")),
    ],
)
def test_first_name(raw: str, expected: tuple[str, str, str]) -> None:
    assert normalize_first_name(raw) == expected


def test_middle_name_and_suffix() -> None:
    assert normalize_middle_name("ann-marie") == "ANN MARIE"
    assert normalize_middle_name("NMN") == ""
    assert normalize_suffix("Jr.") == "JR"
    assert normalize_suffix("junior") == "JR"
    assert normalize_suffix("2nd") == "II"
    assert normalize_suffix("MD") == ""


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1980-01-02", "1980-01-02"),
        ("19800102", "1980-01-02"),
        ("01/02/1980", "1980-01-02"),
        ("1980-1-2", "1980-01-02"),
        ("1980-01-02T00:00:00Z", "1980-01-02"),
        (dt.date(1980, 1, 2), "1980-01-02"),
        (dt.datetime(1980, 1, 2, 13, 5), "1980-01-02"),
        ("", ""),
        (None, ""),
    ],
)
def test_birth_date(raw: str | dt.date | None, expected: str) -> None:
    assert normalize_birth_date(raw) == expected


@pytest.mark.parametrize("raw", ["1980-13-01", "1980-02-30", "yesterday", "02-01-80", "1980/01"])
def test_birth_date_that_is_not_a_date_is_refused(raw: str) -> None:
    with pytest.raises(InvalidDemographicsError) as excinfo:
        normalize_birth_date(raw)
    assert raw not in str(excinfo.value)  # a birth date is PHI: never in an error text
    assert isinstance(excinfo.value, ValueError)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("M", "M"), ("male", "M"), ("f", "F"), ("Female", "F"), ("2", "F"), ("U", "U"), ("other", "U"), ("", "U")],
)
def test_gender(raw: str, expected: str) -> None:
    assert normalize_gender(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("02134", "02134"),
        ("02134-1234", "02134"),
        ("021341234", "02134"),
        ("2134", "02134"),  # leading zero lost in a spreadsheet
        ("21341234", "02134"),
        ("2134-1234", "02134"),
        ("00000", ""),
        ("99999", ""),
        ("123", ""),
        ("", ""),
    ],
)
def test_zip(raw: str, expected: str) -> None:
    assert normalize_zip(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("(617) 555-0100", "6175550100"),
        ("+1 617 555 0100", "6175550100"),
        ("0000000000", ""),
        ("555-0100", ""),
        ("", ""),
    ],
)
def test_phone(raw: str, expected: str) -> None:
    assert normalize_phone(raw) == expected


def test_address_uses_usps_abbreviations() -> None:
    assert normalize_address("123 North Main Street, Apartment 4") == "123 N MAIN ST APT 4"
    assert normalize_address("123 n. main st. #4") == "123 N MAIN ST APT 4"
    assert normalize_address("123 N Main St Apt4B") == "123 N MAIN ST APT 4B"
    assert normalize_address("P.O. Box 55") == "PO BOX 55"
    assert normalize_address("Post Office Box 55") == "PO BOX 55"
    assert normalize_address("Unknown") == ""
    assert normalize_address("homeless") == ""


def test_address_key_is_house_number_and_street_name() -> None:
    key = address_key(normalize_address("123 North Main Street, Apt 4"))
    assert key == "123 MAIN"
    assert address_key(normalize_address("123 Main")) == key
    assert address_key(normalize_address("123 Main St #9")) == key
    assert address_key(normalize_address("125 Main St")) != key
    assert address_key(normalize_address("PO Box 55")) == "PO BOX 55"


def test_city_and_state() -> None:
    assert normalize_city("St. Louis") == normalize_city("Saint Louis") == "ST LOUIS"
    assert normalize_city("Fort Worth") == "FT WORTH"
    assert normalize_state("ma") == "MA"
    assert normalize_state("Massachusetts") == "MA"
    assert normalize_state("new york") == "NY"
    assert normalize_state("Atlantis") == ""


def test_normalize_builds_demographics() -> None:
    d = normalize(
        last_name="O'Brien-Müller, Jr.",
        first_name="Dr. José A.",
        birth_date="19800102",
        gender="male",
        address="123 North Main Street",
        address2="Apt. 4",
        city="St. Louis",
        state="Missouri",
        zip_code="63101-1234",
        phone="+1 (314) 555-0100",
    )
    assert d == Demographics(
        last_name="OBRIEN MULLER",
        first_name="JOSE",
        middle_name="A",
        suffix="JR",
        birth_date="1980-01-02",
        gender="M",
        address="123 N MAIN ST APT 4",
        city="ST LOUIS",
        state="MO",
        zip_code="63101",
        phone="3145550100",
    )


def test_explicit_fields_win_over_what_names_carry() -> None:
    d = normalize(last_name="Smith Jr", first_name="John A", middle_name="Bernard", suffix="III", birth_date=None)
    assert (d.last_name, d.first_name, d.middle_name, d.suffix) == ("SMITH", "JOHN", "BERNARD", "III")


def test_none_means_absent() -> None:
    d = normalize(last_name=None, first_name=None, birth_date=None)
    assert d == Demographics(last_name="", first_name="", birth_date="")
