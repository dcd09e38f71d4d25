"""MME/day of one dispensation, computed by hand for every opioid of each factor table, patches and liquids, and the
cases where no number is honest (``pmpdb.indicators.mme``)."""

from __future__ import annotations

import pytest

from pmpdb.indicators.factors import TABLES, normalise_ingredient, table
from pmpdb.indicators.mme import UNKNOWN_DRUG, DrugFacts, drug_facts, lme_per_day, milli, mme_per_day

CDC2022 = TABLES["cdc2022"]
CDC2016 = TABLES["cdc2016"]


def opioid(ingredient: str, strength: str, unit: str = "mg", file_factor: str = "") -> DrugFacts:
    return drug_facts("opioid", ingredient, strength, unit, file_factor, "")


# (ingredient, strength mg per tablet, tablets, days) → MME/day under CDC 2022 and CDC 2016, worked by hand.
ORAL_CASES = [
    # codeine 30 mg × 4/day = 120 mg/day × 0.15
    ("codeine", "30", 120, 30, 18.0, 18.0),
    # hydrocodone 10 mg × 6/day = 60 mg × 1
    ("hydrocodone", "10", 180, 30, 60.0, 60.0),
    # hydromorphone 2 mg × 6/day = 12 mg × 5 (2022) / × 4 (2016)
    ("hydromorphone", "2", 180, 30, 60.0, 48.0),
    # methadone 10 mg × 3/day = 30 mg × 4.7 (2022) / × 8 (2016: 21–40 mg/day)
    ("methadone", "10", 90, 30, 141.0, 240.0),
    # morphine 30 mg × 2/day = 60 mg × 1
    ("morphine", "30", 60, 30, 60.0, 60.0),
    # oxycodone 10 mg × 4/day = 40 mg × 1.5
    ("oxycodone", "10", 120, 30, 60.0, 60.0),
    # oxymorphone 10 mg × 2/day = 20 mg × 3
    ("oxymorphone", "10", 60, 30, 60.0, 60.0),
    # tapentadol 50 mg × 4/day = 200 mg × 0.4
    ("tapentadol", "50", 120, 30, 80.0, 80.0),
    # tramadol 50 mg × 4/day = 200 mg × 0.2 (2022) / × 0.1 (2016)
    ("tramadol", "50", 120, 30, 40.0, 20.0),
]


@pytest.mark.parametrize(("ingredient", "strength", "quantity", "days", "mme_2022", "mme_2016"), ORAL_CASES)
def test_each_oral_opioid_of_the_tables(
    ingredient: str, strength: str, quantity: int, days: int, mme_2022: float, mme_2016: float
) -> None:
    facts = opioid(ingredient, strength)
    assert mme_per_day(facts, quantity, "01", days, CDC2022) == mme_2022
    assert mme_per_day(facts, quantity, "01", days, CDC2016) == mme_2016


def test_every_table_ingredient_has_a_hand_case() -> None:
    covered = {case[0] for case in ORAL_CASES} | {"fentanyl"}
    for t in TABLES.values():
        assert set(t.per_mg) | set(t.transdermal) <= covered


@pytest.mark.parametrize(
    ("mg_per_day", "factor"),
    [(5, 4), (20, 4), (20.5, 8), (40, 8), (41, 10), (60, 10), (60.5, 12), (80, 12), (120, 12)],
)
def test_cdc2016_methadone_tiers_at_their_boundaries(mg_per_day: float, factor: float) -> None:
    # one 1 mg/mL "tablet" a day … expressed as strength = mg/day, 30 units over 30 days
    facts = opioid("methadone", str(mg_per_day))
    assert mme_per_day(facts, 30, "01", 30, CDC2016) == round(mg_per_day * factor, 3)
    assert mme_per_day(facts, 30, "01", 30, CDC2022) == round(mg_per_day * 4.7, 3)


def test_fentanyl_patch_is_per_mcg_per_hour_with_72_hour_patches() -> None:
    patch = opioid("fentanyl", "25", "mcg/hr")
    # 10 patches over 30 days: one on at a time: 25 mcg/hr × 2.4 = 60
    assert mme_per_day(patch, 10, "01", 30, CDC2022) == 60.0
    assert mme_per_day(patch, 5, "01", 15, CDC2022) == 60.0
    # 50 mcg/hr: 120; twice the patches over the same days: two on at once
    assert mme_per_day(opioid("fentanyl", "50", "mcg/hr"), 10, "01", 30, CDC2016) == 120.0
    assert mme_per_day(patch, 20, "01", 30, CDC2022) == 120.0
    # patches counted in mL cannot be right
    assert mme_per_day(patch, 10, "02", 30, CDC2022) is None


def test_liquids_are_per_ml() -> None:
    # oxycodone oral solution 5 mg/mL, 300 mL over 30 days: 10 mL/day = 50 mg × 1.5 = 75
    liquid = opioid("oxycodone", "5", "mg/mL")
    assert mme_per_day(liquid, 300, "02", 30, CDC2022) == 75.0
    # hydromorphone 1 mg/mL, 90 mL / 15 days: 6 mg/day × 5
    assert mme_per_day(opioid("hydromorphone", "1", "mg/mL"), 90, "02", 15, CDC2022) == 30.0
    # a liquid counted in units ("each") is a mismatch: no number
    assert mme_per_day(liquid, 300, "01", 30, CDC2022) is None
    # tablets counted in mL likewise
    assert mme_per_day(opioid("oxycodone", "5"), 60, "02", 30, CDC2022) is None


def test_microgram_strengths_convert_to_mg_for_table_factors() -> None:
    # 500 mcg hydromorphone tablets, 60 over 30 days: 1 mg/day × 5
    assert mme_per_day(opioid("hydromorphone", "500", "mcg"), 60, "01", 30, CDC2022) == 5.0


def test_file_factor_only_for_opioids_the_table_does_not_name() -> None:
    # meperidine 50 mg, 120 / 30 days, the CDC analytic file's 0.1: 200 mg × 0.1 = 20
    assert mme_per_day(opioid("meperidine", "50", file_factor="0.1"), 120, "01", 30, CDC2022) == 20.0
    # fentanyl buccal 100 mcg, 60 / 30 days at 0.13 per mcg (the file's unit): 200 × 0.13 = 26; the tables know
    # fentanyl as a patch only
    buccal = opioid("fentanyl", "100", "mcg", file_factor="0.13")
    assert mme_per_day(buccal, 60, "01", 30, CDC2022) == 26.0
    assert mme_per_day(opioid("fentanyl", "100", "mcg"), 60, "01", 30, CDC2022) is None
    # oxycodone with a wrong file factor: the table wins
    assert mme_per_day(opioid("oxycodone", "10", file_factor="9"), 120, "01", 30, CDC2022) == 60.0
    # no table factor and no file factor: nothing
    assert mme_per_day(opioid("levorphanol", "2"), 60, "01", 30, CDC2022) is None


def test_no_number_rather_than_a_wrong_one() -> None:
    oxy = opioid("oxycodone", "10")
    assert mme_per_day(oxy, 120, "01", 0, CDC2022) is None
    assert mme_per_day(oxy, 0, "01", 30, CDC2022) is None
    assert mme_per_day(oxy, float("nan"), "01", 30, CDC2022) is None
    assert mme_per_day(opioid("oxycodone", ""), 120, "01", 30, CDC2022) is None
    assert mme_per_day(opioid("oxycodone", "10", "mg/g"), 120, "01", 30, CDC2022) is None
    assert mme_per_day(opioid("buprenorphine", "8", file_factor="30"), 30, "01", 30, CDC2022) is None
    assert mme_per_day(drug_facts("benzodiazepine", "alprazolam", "1", "mg", "", ""), 30, "01", 30, CDC2022) is None
    assert mme_per_day(UNKNOWN_DRUG, 30, "01", 30, CDC2022) is None
    # an unreported unit is taken as units for tablets
    assert mme_per_day(oxy, 120, "", 30, CDC2022) == 60.0


def test_rounding_to_thousandths() -> None:
    # hydrocodone 10 mg, 20 tablets over 7 days: 28.571428… → 28.571
    assert mme_per_day(opioid("hydrocodone", "10"), 20, "01", 7, CDC2022) == 28.571
    assert milli(28.571) == 28571
    assert milli(None) is None


def test_lme_only_with_a_reference_factor() -> None:
    alprazolam = drug_facts("benzodiazepine", "alprazolam", "0.5", "mg", "", "2")
    assert lme_per_day(alprazolam, 60, "01", 30) == 2.0  # 1 mg/day × 2
    assert lme_per_day(drug_facts("benzodiazepine", "alprazolam", "0.5", "mg", "", ""), 60, "01", 30) is None
    assert lme_per_day(opioid("oxycodone", "5"), 60, "01", 30) is None


def test_ingredient_names_and_tables() -> None:
    assert normalise_ingredient("Oxycodone HCl") == "oxycodone"
    assert normalise_ingredient("Acetaminophen/Codeine Phosphate") == "codeine"
    assert normalise_ingredient("Dihydrocodeine Bitartrate") == "dihydrocodeine"
    assert normalise_ingredient("Butalbital") == "butalbital"
    assert table("cdc2016").label == "CDC 2016"
    with pytest.raises(ValueError, match="unknown MME factor table"):
        table("cdc1999")
