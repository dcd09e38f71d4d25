"""The constants of the NCPDP codec: namespace, versions, code lists and the maps between them and ``protos``.

Sources are tagged as in standards.md: [V] verified in the public SCRIPT 10.6 schema (VA-XSD), [I] from an
implementation or secondary source, [M] from general knowledge — to be checked against the NCPDP material.
"""

from __future__ import annotations

from typing import Final, Literal

from protos.pmp.v1 import pmp_pb2 as pb

NS: Final = "http://www.ncpdp.org/schema/SCRIPT"  # [V] both versions
Q: Final = "{" + NS + "}"
MESSAGE: Final = Q + "Message"

Version = Literal["2017071", "10.6"]
V2017071: Final[Version] = "2017071"
V10_6: Final[Version] = "10.6"
VERSION_STAMP_2017071: Final = "20170715"  # TransactionVersion / StructuresVersion … [M, standards.md §2.1]

# Body transactions of SCRIPT (10.6 [V]; 2017071 additions [M]). A known one other than RxHistoryRequest is
# UNSUPPORTED at this endpoint; an unknown element is INVALID_REQUEST.
OTHER_TRANSACTIONS: Final = frozenset(
    {
        "NewRx",
        "RefillRequest",
        "RefillResponse",
        "RxChangeRequest",
        "RxChangeResponse",
        "RxFill",
        "Status",
        "Error",
        "Verify",
        "GetMessage",
        "PasswordChange",
        "CancelRx",
        "CancelRxResponse",
        "RxHistoryResponse",
        "Census",
        "Resupply",
        "RxRenewalRequest",
        "RxRenewalResponse",
        "NewRxRequest",
        "NewRxResponseDenied",
        "RxTransferRequest",
        "RxTransferResponse",
        "RxTransferConfirm",
        "RxFillIndicatorChange",
        "DrugAdministration",
        "ClinicalInfoRequest",
        "ClinicalInfoResponse",
        "Recertification",
        "LetterOfMedicalNecessity",
        "PAInitiationRequest",
        "PAInitiationResponse",
        "PARequest",
        "PAResponse",
        "PAAppealRequest",
        "PAAppealResponse",
        "PACancelRequest",
        "PACancelResponse",
        "REMSInitiationRequest",
        "REMSInitiationResponse",
        "REMSRequest",
        "REMSResponse",
    }
)

GENDER_IN: Final = {"M": pb.GENDER_MALE, "F": pb.GENDER_FEMALE, "U": pb.GENDER_UNKNOWN}  # [V] GenderType M|F|U
GENDER_OUT: Final = {pb.GENDER_MALE: "M", pb.GENDER_FEMALE: "F", pb.GENDER_UNKNOWN: "U"}

# Header To/From Qualifier. 10.6 [V]: P|C|M|D|ZZZ. 2017071: not verified, any 1-3 capitals or digits.
QUALIFIERS_10_6: Final = frozenset({"P", "C", "M", "D", "ZZZ"})
PHARMACY_QUALIFIER: Final = "P"  # [M] P = pharmacy (NCPDP ID), D = prescriber

# Dispensed quantity. CodeListQualifier 87 "quantity received" [M]; 10.6 UnitSourceCode AC = NCI Thesaurus [M].
# ASAP DSP11 (01 each, 02 mL, 03 g — the proto's Dispensation.quantity_unit) → NCIt code of the NCPDP
# QuantityUnitOfMeasure terminology (NCIt subset C89510 [I: NCI EVS "NCPDP" files; C64933 Each and C38046
# Unspecified also named in Surescripts' 2015 bulletin on Potency Unit Codes]). 10.6 writes the code as
# Quantity/PotencyUnitCode, 2017071 as Quantity/QuantityUnitOfMeasure/Code.
QUANTITY_QUALIFIER: Final = "87"
UNIT_SOURCE_NCI: Final = "AC"
UNIT_UNSPECIFIED: Final = "C38046"
QUANTITY_UNITS: Final = {
    "01": "C64933",  # Each
    "02": "C28254",  # Milliliter
    "03": "C48155",  # Gram
}

NDC_QUALIFIER: Final = "ND"  # [V] ProductCodeQualifier ND|MF|UP; 2017071 ProductCode/Qualifier [V as path]
NDC_PRODUCT_QUALIFIERS: Final = frozenset({"", "01"})  # ASAP DSP07 01 = NDC (as adapters.fhir.resources)

# Approved/ApprovalReasonCode AQ "more medication history available" [M] — sent with the Note when an answer
# does not hold every dispensation.
MORE_HISTORY_CODE: Final = "AQ"

# [V] 10.6 StateCodes; 2017071 StateProvince takes the same two-letter codes.
STATE_CODES: Final = frozenset(
    {
        "AA",
        "AE",
        "AP",
        "AL",
        "AK",
        "AZ",
        "AR",
        "AS",
        "CA",
        "CO",
        "CT",
        "DE",
        "DC",
        "FM",
        "FL",
        "GA",
        "GU",
        "HI",
        "ID",
        "IL",
        "IN",
        "IA",
        "KS",
        "KY",
        "LA",
        "ME",
        "MH",
        "MD",
        "MA",
        "MI",
        "MN",
        "MS",
        "MO",
        "MT",
        "NE",
        "NV",
        "NH",
        "NJ",
        "NM",
        "NY",
        "NC",
        "ND",
        "MP",
        "OH",
        "OK",
        "OR",
        "PW",
        "PA",
        "PR",
        "RI",
        "SC",
        "SD",
        "TN",
        "TX",
        "UT",
        "VT",
        "VA",
        "VI",
        "WA",
        "WV",
        "WI",
        "WY",
        "AB",
        "BC",
        "MB",
        "NB",
        "NF",
        "NS",
        "NT",
        "NU",
        "ON",
        "PE",
        "QC",
        "SK",
        "YT",
    }
)
