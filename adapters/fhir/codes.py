"""The URLs and code tables of the US PDMP IG (STU1), US Core 6.1.0 and FHIR R4 that the codec reads and writes.

One place for every system, profile and extension URL, so a typo is fixed once and the tests can import the
same names (standards.md §1.2–1.8 gives the source of each).
"""

from __future__ import annotations

from typing import Final

PDMP: Final = "http://hl7.org/fhir/us/pdmp"
US_CORE: Final = "http://hl7.org/fhir/us/core/StructureDefinition"

# Profiles (meta.profile), as the IG examples declare them.
PROFILE_PARAMETERS_REQUEST: Final = f"{PDMP}/StructureDefinition/pdmp-parameters-request"
PROFILE_PARAMETERS_RESPONSE: Final = f"{PDMP}/StructureDefinition/pdmp-parameters-response"
PROFILE_BUNDLE_RESULT: Final = f"{PDMP}/StructureDefinition/pdmp-bundle-history-result"
PROFILE_PDMP_PATIENT: Final = f"{PDMP}/StructureDefinition/pdmp-patient"
PROFILE_MEDICATION_DISPENSE: Final = f"{PDMP}/StructureDefinition/pdmp-medicationdispense"
PROFILE_PHARMACY: Final = f"{PDMP}/StructureDefinition/pdmp-organization-pharmacy"
PROFILE_US_CORE_PATIENT: Final = f"{US_CORE}/us-core-patient|6.1.0"
PROFILE_US_CORE_PRACTITIONER: Final = f"{US_CORE}/us-core-practitioner|6.1.0"
PROFILE_US_CORE_MEDICATION_REQUEST: Final = f"{US_CORE}/us-core-medicationrequest|6.1.0"
OPERATION_PDMP_HISTORY: Final = f"{PDMP}/OperationDefinition/pdmp-history"

# Extensions.
EXT_ACTIVITY_PERIOD: Final = f"{PDMP}/StructureDefinition/pdmp-activity-period-extension"
EXT_HEADER_TIMESTAMP: Final = f"{PDMP}/StructureDefinition/pdmp-header-timestamp-extension"
EXT_FILL_NUMBER: Final = f"{PDMP}/StructureDefinition/pdmp-extension-rx-fill-number"
EXT_TRANSMISSION_METHOD: Final = f"{PDMP}/StructureDefinition/pdmp-extension-rx-transmission-method"
EXT_METHOD_OF_PAYMENT: Final = f"{PDMP}/StructureDefinition/pdmp-extension-method-of-payment"
EXT_MME: Final = f"{PDMP}/StructureDefinition/pdmp-extension-mme"
EXT_LME: Final = f"{PDMP}/StructureDefinition/pdmp-extension-lme"
EXT_DATA_ABSENT_REASON: Final = "http://hl7.org/fhir/StructureDefinition/data-absent-reason"
EXT_US_CORE_JURISDICTION: Final = f"{US_CORE}/us-core-jurisdiction"

# Identifier systems.
SYSTEM_NPI: Final = "http://hl7.org/fhir/sid/us-npi"
SYSTEM_SSN: Final = "http://hl7.org/fhir/sid/us-ssn"
SYSTEM_DEA: Final = "http://terminology.hl7.org/NamingSystem/usdeanumber"  # what the IG examples write
SYSTEM_DEA_OID: Final = "urn:oid:2.16.840.1.113883.4.814"  # the same naming system by its OID
SYSTEM_NCPDP: Final = "http://terminology.hl7.org/CodeSystem/NCPDPProviderIdentificationNumber"
DEA_SYSTEMS: Final = frozenset({SYSTEM_DEA, SYSTEM_DEA_OID})

# Code systems.
SYSTEM_NDC: Final = "http://hl7.org/fhir/sid/ndc"
SYSTEM_RXNORM: Final = "http://www.nlm.nih.gov/research/umls/rxnorm"
SYSTEM_UCUM: Final = "http://unitsofmeasure.org"
SYSTEM_V2_0203: Final = "http://terminology.hl7.org/CodeSystem/v2-0203"
SYSTEM_V3_ACT_CODE: Final = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
SYSTEM_NUCC: Final = "http://nucc.org/provider-taxonomy"
SYSTEM_PRACTITIONER_ROLE: Final = "http://terminology.hl7.org/CodeSystem/practitioner-role"
SYSTEM_PMIX_STATUS: Final = "http://terminology.hl7.org/CodeSystem/PMIXStatusCode"
SYSTEM_PMIX_TRANSMISSION: Final = "http://terminology.hl7.org/CodeSystem/PMIXTransmissionFormRxOriginCodeType"
SYSTEM_PMIX_PAYMENT: Final = "http://terminology.hl7.org/CodeSystem/PMIXMethodofPayment"
SYSTEM_PMIX_ALERT: Final = "http://terminology.hl7.org/CodeSystem/PMIXPatientAlertCatCode"
SYSTEM_SECURITY_SERVICE: Final = "http://terminology.hl7.org/CodeSystem/restful-security-service"

# PMIXStatusCode (standards.md §1.8): code → display.
PMIX_STATUS: Final = {
    "complete": "Complete",
    "no-data": "No Data",
    "disallowed": "Disallowed",
    "error": "Error",
    "deferred": "Deferred",
}

# ASAP DSP12 = PMIXTransmissionFormRxOriginCodeType.
TRANSMISSION_FORMS: Final = {
    "01": "Written Prescription",
    "02": "Telephone Prescription",
    "03": "Telephone Emergency Prescription",
    "04": "Fax Prescription",
    "05": "Electronic Prescription",
    "06": "Transferred/Forwarded",
    "99": "Other",
}

# ASAP DSP16 = PMIXMethodofPayment.
PAYMENT_TYPES: Final = {
    "01": "Private Pay (Cash, Charge, Credit Card)",
    "02": "Medicaid",
    "03": "Medicare",
    "04": "Commercial Insurance",
    "05": "Military Installations and VA",
    "06": "Workers' Compensation",
    "07": "Indian Nations",
    "99": "Other",
}

# PMIXPatientAlertCatCode (standards.md §1.8): the DetectedIssue alert slice's codes.
PATIENT_ALERTS: Final = {
    "01": "Suspected non-fatal overdose",
    "02": "Suspected fatal overdose",
    "03": "Doctor/pharmacy shopping",
    "04": "Overlapping prescription",
    "05": "MME",
    "06": "Marijuana",
    "07": "Prescribing practice",
    "08": "Dispensing practice",
    "09": "Naloxone dispensing",
    "10": "Conviction",
    "11": "Law enforcement",
    "12": "Patient contract",
    "99": "Unspecified",
}

# FHIR administrative-gender, as the IG's Patient carries it.
GENDERS_IN: Final = frozenset({"male", "female", "other", "unknown"})
