"""ASAP 4.2 segments as plain values: the contract between the reader, the writer and ingestion.

Every field keeps its wire text (``str``; empty string when absent): dates stay ``CCYYMMDD``,
quantities stay decimal text. The reader has already validated what it hands out (dates are real
dates, numbers are numbers, codes are in their lists), so consumers convert without re-checking.
Field positions follow ``shared/reference/standards.md`` §4.3.
"""

from __future__ import annotations

from dataclasses import dataclass, field

SUPPORTED_VERSIONS = frozenset({"4.2", "4.2A", "4.2B"})

REPORT_NEW = "00"
REPORT_REVISE = "01"
REPORT_VOID = "02"


@dataclass(slots=True, frozen=True)
class TransactionHeader:
    """TH: one per file."""

    version: str  # TH01
    control_number: str  # TH02, repeated in TT01
    transaction_type: str  # TH03
    response_id: str  # TH04
    creation_date: str  # TH05 CCYYMMDD
    creation_time: str  # TH06
    file_type: str  # TH07 P / T
    routing_number: str  # TH08
    segment_terminator: str  # TH09


@dataclass(slots=True, frozen=True)
class InformationSource:
    """IS: the submitter."""

    source_id: str  # IS01
    entity_name: str  # IS02
    message: str  # IS03 (zero report: #CCYYMMDD#-#CCYYMMDD#)


@dataclass(slots=True, frozen=True)
class Pharmacy:
    """PHA: the dispensing pharmacy; one of NPI / NCPDP / DEA is present."""

    npi: str  # PHA01
    ncpdp: str  # PHA02
    dea: str  # PHA03
    name: str = ""  # PHA04
    address1: str = ""  # PHA05
    address2: str = ""  # PHA06
    city: str = ""  # PHA07
    state: str = ""  # PHA08
    zip: str = ""  # PHA09
    phone: str = ""  # PHA10
    contact_name: str = ""  # PHA11
    chain_site_id: str = ""  # PHA12
    permit_number: str = ""  # PHA13

    @property
    def key(self) -> str:
        """The identifier that keys this pharmacy's records (NCPDP, then NPI, then DEA)."""
        if self.ncpdp:
            return "ncpdp:" + self.ncpdp
        if self.npi:
            return "npi:" + self.npi
        return "dea:" + self.dea


@dataclass(slots=True, frozen=True)
class Patient:
    """PAT: the patient as the pharmacy recorded them."""

    id_jurisdiction: str  # PAT01
    id_qualifier: str  # PAT02
    id_value: str  # PAT03
    additional_id_jurisdiction: str  # PAT04
    additional_id_qualifier: str  # PAT05
    additional_id: str  # PAT06
    last_name: str  # PAT07
    first_name: str  # PAT08
    middle_name: str = ""  # PAT09
    name_prefix: str = ""  # PAT10
    name_suffix: str = ""  # PAT11
    address1: str = ""  # PAT12
    address2: str = ""  # PAT13
    city: str = ""  # PAT14
    state: str = ""  # PAT15
    zip: str = ""  # PAT16
    phone: str = ""  # PAT17
    birth_date: str = ""  # PAT18 CCYYMMDD
    gender: str = ""  # PAT19 F / M / U
    species: str = ""  # PAT20 01 human, 02 veterinary
    location_code: str = ""  # PAT21
    country: str = ""  # PAT22
    animal_name: str = ""  # PAT23


@dataclass(slots=True, frozen=True)
class Prescriber:
    """PRE."""

    npi: str  # PRE01
    dea: str  # PRE02
    dea_suffix: str = ""  # PRE03
    state_license: str = ""  # PRE04
    last_name: str = ""  # PRE05
    first_name: str = ""  # PRE06
    middle_name: str = ""  # PRE07
    phone: str = ""  # PRE08
    xdea: str = ""  # PRE09


@dataclass(slots=True, frozen=True)
class CompoundIngredient:
    """CDI."""

    sequence: str
    product_qualifier: str
    product_id: str
    quantity: str
    unit_code: str


@dataclass(slots=True, frozen=True)
class AdditionalInfo:
    """AIR."""

    serial_state: str  # AIR01
    serial_number: str  # AIR02
    issuing_jurisdiction: str = ""  # AIR03
    pickup_id_qualifier: str = ""  # AIR04
    pickup_id: str = ""  # AIR05
    pickup_relationship: str = ""  # AIR06
    pickup_last_name: str = ""  # AIR07
    pickup_first_name: str = ""  # AIR08
    pharmacist_last_name: str = ""  # AIR09
    pharmacist_first_name: str = ""  # AIR10
    dropoff_pickup_qualifier: str = ""  # AIR11


@dataclass(slots=True, frozen=True)
class Dispensing:
    """DSP: one dispensation (or its revision / void)."""

    reporting_status: str  # DSP01 00 new, 01 revise, 02 void
    rx_number: str  # DSP02
    date_written: str  # DSP03
    refills_authorized: str  # DSP04
    date_filled: str  # DSP05
    refill_number: str  # DSP06
    product_qualifier: str  # DSP07
    product_id: str  # DSP08 (NDC when DSP07 = 01)
    quantity: str  # DSP09
    days_supply: str  # DSP10
    unit_code: str = ""  # DSP11 01 each, 02 mL, 03 g
    transmission_form: str = ""  # DSP12
    partial_fill: str = ""  # DSP13
    pharmacist_npi: str = ""  # DSP14
    pharmacist_license: str = ""  # DSP15
    payment_type: str = ""  # DSP16
    date_sold: str = ""  # DSP17
    rxnorm_qualifier: str = ""  # DSP18
    rxnorm_code: str = ""  # DSP19
    erx_reference: str = ""  # DSP20
    erx_order_number: str = ""  # DSP21
    quantity_prescribed: str = ""  # DSP22
    sig: str = ""  # DSP23
    treatment_type: str = ""  # DSP24
    diagnosis_code: str = ""  # DSP25


@dataclass(slots=True, frozen=True)
class DispensationRecord:
    """One DSP with the PHA and PAT it sits under and its PRE / CDI / AIR."""

    pharmacy: Pharmacy
    patient: Patient
    dispensing: Dispensing
    prescriber: Prescriber | None
    compounds: tuple[CompoundIngredient, ...] = ()
    additional: AdditionalInfo | None = None
    segment_number: int = 0  # of the DSP segment, 1-based, for error reports


@dataclass(slots=True, frozen=True)
class ZeroReport:
    """A pharmacy's statement that it dispensed nothing reportable in a period."""

    pharmacy: Pharmacy
    period_start: str  # CCYYMMDD
    period_end: str  # CCYYMMDD
    segment_number: int = 0


@dataclass(slots=True, frozen=True)
class AsapError:
    """Why a file is rejected: where, which field, what is wrong. Carries no field values (PHI)."""

    segment_number: int
    segment: str
    field: str
    reason: str


@dataclass(slots=True)
class AsapFile:
    """A whole file, for the writer (the reader streams instead)."""

    header: TransactionHeader
    source: InformationSource
    pharmacies: list[PharmacyLoop] = field(default_factory=list)


@dataclass(slots=True)
class PharmacyLoop:
    """One PHA … TP loop: the pharmacy and its records (or a zero report)."""

    pharmacy: Pharmacy
    records: list[DispensationRecord] = field(default_factory=list)
    zero_report: bool = False
