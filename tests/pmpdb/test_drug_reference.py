"""The drug reference: both CSV layouts (the project's and the CDC NDC/MME conversion file's), NDC forms, and the
``lme_factor`` column added to a store an older build wrote (SQLite and PostgreSQL)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import asyncpg
import pytest

from pmpdb.drugs import DrugFileError, bundled_drug_csv, normalise_ndc, read_drug_csv
from pmpdb.store.postgres import PostgresStore
from pmpdb.store.schema import DRUG_COLUMNS
from pmpdb.store.sqlite import SqliteStore
from tests.conftest import POSTGRES_DSN, drop_schema

CDC_HEADER = (
    "NDC_Numeric,NDC,PRODNME,GENNME,Master_Form,Class,Drug,LongShortActing,DEAClassCode,Strength_Per_Unit,UOM,"
    "MME_Conversion_Factor"
)
CDC_CSV = f"""{CDC_HEADER}
406055201,00406-0552-01,OXYCODONE HCL,OXYCODONE HYDROCHLORIDE,Tablet,Opioid,Oxycodone,SA,2,5,MG,1.5
50458009105,50458-091-05,DURAGESIC,FENTANYL,Patch,Opioid,Fentanyl,LA,CII,25,MCG/HR,7.2
12496120803,12496-1208-03,SUBOXONE,BUPRENORPHINE HCL/NALOXONE HCL,Film,Opioid,Buprenorphine,SA,3N,8,MG,
,0009-0029-01,XANAX,ALPRAZOLAM,Tablet,Benzo,Alprazolam,,4,0.25,MG,
,00037-2001-01,SOMA,CARISOPRODOL,Tablet,Muscle Relaxant,Carisoprodol,,IV,350,MG,
"""


def test_bundled_file_reads_in_the_project_layout() -> None:
    rows = read_drug_csv(bundled_drug_csv())
    assert len(rows) >= 30
    assert all(len(r) == len(DRUG_COLUMNS) for r in rows)
    by_ndc = {r[0]: dict(zip(DRUG_COLUMNS, r, strict=True)) for r in rows}
    assert by_ndc["50458009105"]["strength_unit"] == "mcg/hr"
    assert by_ndc["12496120803"]["mme_factor"] == ""  # buprenorphine: no factor
    assert by_ndc["00406055201"]["lme_factor"] == ""  # optional column, absent


def test_cdc_layout(tmp_path: Path) -> None:
    path = tmp_path / "cdc.csv"
    path.write_text(CDC_CSV, encoding="utf-8")
    rows = {r[0]: dict(zip(DRUG_COLUMNS, r, strict=True)) for r in read_drug_csv(path)}
    assert set(rows) == {"00406055201", "50458009105", "12496120803", "00009002901", "00037200101"}
    oxy = rows["00406055201"]
    assert (oxy["name"], oxy["ingredient"], oxy["strength"], oxy["strength_unit"]) == (
        "OXYCODONE HCL",
        "oxycodone",
        "5",
        "mg",
    )
    assert (oxy["dosage_form"], oxy["dea_schedule"], oxy["drug_class"], oxy["mme_factor"]) == (
        "tablet",
        "2",
        "opioid",
        "1.5",
    )
    assert rows["50458009105"]["dea_schedule"] == "2"  # CII
    assert rows["50458009105"]["strength_unit"] == "mcg/hr"
    assert rows["12496120803"]["dea_schedule"] == "3"  # 3N
    assert rows["00009002901"]["drug_class"] == "benzodiazepine"
    assert rows["00037200101"]["drug_class"] == "muscle_relaxant"
    assert rows["00037200101"]["dea_schedule"] == "4"  # IV


def test_bad_files_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("ndc,name\n00406055201,x\n", encoding="utf-8")
    with pytest.raises(DrugFileError, match="missing columns"):
        read_drug_csv(path)
    path.write_text("PRODNME,MME_Conversion_Factor\nx,1\n", encoding="utf-8")
    with pytest.raises(DrugFileError, match="NDC and Strength_Per_Unit"):
        read_drug_csv(path)
    header = ",".join(DRUG_COLUMNS[:-1])
    path.write_text(f"{header}\n00406055201,x,oxycodone,five,mg,tablet,2,opioid,1.5\n", encoding="utf-8")
    with pytest.raises(DrugFileError, match="strength must be a number"):
        read_drug_csv(path)
    path.write_text(f"{header}\n123,x,oxycodone,5,mg,tablet,2,opioid,1.5\n", encoding="utf-8")
    with pytest.raises(DrugFileError, match="11 digits"):
        read_drug_csv(path)


@pytest.mark.parametrize(
    ("text", "ndc"),
    [
        ("00406055201", "00406055201"),
        ("406055201", "00406055201"),
        ("406055201.0", "00406055201"),
        ("00406-0552-01", "00406055201"),
        ("0406-0552-01", "00406055201"),  # 4-4-2
        ("50458-091-05", "50458009105"),  # 5-3-2
        ("12345-6789-1", "12345678901"),  # 5-4-1
        ("1234-567-89", ""),
        ("abc", ""),
        ("", ""),
    ],
)
def test_ndc_forms(text: str, ndc: str) -> None:
    assert normalise_ndc(text) == ndc


_OLD_DRUG_TABLE = (
    "CREATE TABLE {schema}drug (ndc TEXT PRIMARY KEY, name TEXT NOT NULL DEFAULT '', ingredient TEXT NOT NULL DEFAULT"
    " '', strength TEXT NOT NULL DEFAULT '', strength_unit TEXT NOT NULL DEFAULT '', dosage_form TEXT NOT NULL"
    " DEFAULT '', dea_schedule TEXT NOT NULL DEFAULT '', drug_class TEXT NOT NULL DEFAULT '', mme_factor TEXT NOT"
    " NULL DEFAULT '')"
)
_OLD_ROW = (
    "INSERT INTO {schema}drug VALUES ('00406055201','Oxycodone 5 mg','oxycodone','5','mg','tablet','2','opioid','1.5')"
)


async def test_sqlite_store_of_an_older_build_gains_lme_factor(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute(_OLD_DRUG_TABLE.format(schema=""))
    conn.execute(_OLD_ROW.format(schema=""))
    conn.commit()
    conn.close()
    store = SqliteStore(path)
    await store.open()
    try:
        await store.open()  # twice: the second finds the column there
        assert await store.drug_count() == 1
        assert await store.load_drugs(read_drug_csv(bundled_drug_csv())) >= 30
    finally:
        await store.close()
    conn = sqlite3.connect(path)
    columns = [r[1] for r in conn.execute("PRAGMA table_info(drug)")]
    conn.close()
    assert columns == list(DRUG_COLUMNS)


@pytest.mark.postgres
async def test_postgres_store_of_an_older_build_gains_lme_factor(pg_schema: str) -> None:
    conn = await asyncpg.connect(POSTGRES_DSN)
    try:
        await conn.execute(f"CREATE SCHEMA {pg_schema}")
        await conn.execute(_OLD_DRUG_TABLE.format(schema=f"{pg_schema}."))
        await conn.execute(_OLD_ROW.format(schema=f"{pg_schema}."))
    finally:
        await conn.close()
    try:
        for _ in range(2):
            store = PostgresStore(POSTGRES_DSN, pg_schema)
            await store.open()
            try:
                assert await store.drug_count() == 1
            finally:
                await store.close()
        store = PostgresStore(POSTGRES_DSN, pg_schema)
        await store.open()
        try:
            assert await store.load_drugs(read_drug_csv(bundled_drug_csv())) >= 30
        finally:
            await store.close()
        conn = await asyncpg.connect(POSTGRES_DSN)
        try:
            rows = await conn.fetch(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'drug'"
                " ORDER BY ordinal_position",
                pg_schema,
            )
        finally:
            await conn.close()
        assert [r[0] for r in rows] == list(DRUG_COLUMNS)
    finally:
        await drop_schema(pg_schema)
