"""Record ids, blocking keys and query plans: what the store persists and looks up."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from pmpdb.matching import (
    Demographics,
    QueryPlan,
    blocking_keys,
    normalize,
    patient_record_id,
    query_plan,
)
from pmpdb.matching.compare import first_name_level, last_name_level
from pmpdb.matching.weights import FIRST_FIRST_WORD, LAST_COMPOUND

JOHN = normalize(last_name="Smith", first_name="John", birth_date="1970-05-14", gender="M", zip_code="02134")
REPO = Path(__file__).resolve().parents[3]


def test_record_id_is_pinned() -> None:
    """Changing this value re-keys every stored patient: only with a migration (and a new blake2b person)."""
    assert patient_record_id(JOHN) == 2111774403911783127


def test_record_id_is_a_positive_63_bit_int_that_depends_on_every_field() -> None:
    ids = {patient_record_id(JOHN)}
    for field in Demographics.__dataclass_fields__:
        changed = Demographics(**{**_fields(JOHN), field: getattr(JOHN, field) + "X"})
        ids.add(patient_record_id(changed))
    assert len(ids) == 1 + len(Demographics.__dataclass_fields__)
    assert all(0 < i < 2**63 for i in ids)


def test_record_id_does_not_depend_on_the_process_hash_seed() -> None:
    code = (
        "from pmpdb.matching import normalize, patient_record_id;"
        "print(patient_record_id(normalize(last_name='Smith', first_name='John', birth_date='1970-05-14',"
        " gender='M', zip_code='02134')))"
    )
    outputs = set()
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(REPO)}
        result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
        outputs.add(result.stdout.strip())
    assert outputs == {str(patient_record_id(JOHN))}


def test_reingest_of_the_same_patient_spelled_differently_gives_the_same_id() -> None:
    other = normalize(last_name=" SMITH ", first_name="john", birth_date="19700514", gender="m", zip_code="02134-0001")
    assert patient_record_id(other) == patient_record_id(JOHN)


def test_blocking_keys() -> None:
    assert blocking_keys(JOHN) == {"L:SM0", "F:JN"}
    compound = normalize(last_name="Garcia-Lopez", first_name="Mary Ann", birth_date="1970-05-14")
    assert blocking_keys(compound) == {"L:KRX", "L:LPS", "L:KRXLPS", "F:MRYN", "F:MR"}
    pat = normalize(last_name="Smith", first_name="Pat", birth_date="1970-05-14")
    assert {"F:PTRK", "F:PTRX"} <= blocking_keys(pat)  # PATRICK and PATRICIA
    assert blocking_keys(Demographics(last_name="", first_name="", birth_date="")) == frozenset()


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (("Smith", "Bill"), ("Smith", "William")),
        (("Smith", "Peggy"), ("Smith", "Margaret")),
        (("Garcia", "Maria"), ("Garcia-Lopez", "Maria")),
        (("Lopez", "Maria"), ("Garcia Lopez", "Maria")),
        (("Keller", "Mary"), ("Keller", "Mary Ann")),
        (("Smiht", "John"), ("Smith", "John")),  # surname typo: found by the given name
        (("Smith", "Jhon"), ("Smith", "John")),  # given-name typo: found by the surname
    ],
)
def test_equivalent_records_share_a_key(a: tuple[str, str], b: tuple[str, str]) -> None:
    da = normalize(last_name=a[0], first_name=a[1], birth_date="1970-05-14")
    db = normalize(last_name=b[0], first_name=b[1], birth_date="1970-05-14")
    assert blocking_keys(da) & blocking_keys(db)


def test_names_grouping_calls_equivalent_always_share_a_key() -> None:
    """Blocking must never hide a record that grouping would call the same name."""
    firsts = ["BILL", "WILLIAM", "MARY", "MARY ANN", "KATE", "CATHERINE", "PAT", "PATRICIA", "J", "JOHN"]
    lasts = ["SMITH", "GARCIA", "GARCIA LOPEZ", "LOPEZ GARCIA", "OBRIEN"]
    for fa in firsts:
        for fb in firsts:
            if first_name_level(fa, fb) >= FIRST_FIRST_WORD:
                da = Demographics(last_name="X", first_name=fa, birth_date="")
                db = Demographics(last_name="Y", first_name=fb, birth_date="")
                assert blocking_keys(da) & blocking_keys(db), (fa, fb)
    for la in lasts:
        for lb in lasts:
            if last_name_level(la, lb) >= LAST_COMPOUND:
                da = Demographics(last_name=la, first_name="", birth_date="")
                db = Demographics(last_name=lb, first_name="", birth_date="")
                assert blocking_keys(da) & blocking_keys(db), (la, lb)


def test_query_plan_adds_the_day_month_transposition() -> None:
    q = normalize(last_name="Smith", first_name="John", birth_date="1985-03-07")
    assert query_plan(q) == QueryPlan(birth_dates=("1985-03-07", "1985-07-03"), keys=blocking_keys(q))


@pytest.mark.parametrize("dob", ["1985-03-03", "1985-03-13", "1985-12-31"])
def test_query_plan_without_a_possible_transposition(dob: str) -> None:
    q = normalize(last_name="Smith", first_name="John", birth_date=dob)
    assert query_plan(q).birth_dates == (dob,)


def test_query_plan_without_a_birth_date_looks_up_nothing() -> None:
    q = normalize(last_name="Smith", first_name="John", birth_date=None)
    assert query_plan(q) == QueryPlan(birth_dates=(), keys=frozenset())


def _fields(d: Demographics) -> dict[str, str]:
    return {f: getattr(d, f) for f in Demographics.__dataclass_fields__}
