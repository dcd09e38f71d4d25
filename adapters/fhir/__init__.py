"""FHIR R4 codec (HL7 US PDMP IG STU1): ``$pdmp-history`` Parameters and MedicationDispense search in,
``pb.SearchHistoryRequest``; ``pb.SearchHistoryResponse`` and ``PmpError`` out as Parameters, Bundle and
OperationOutcome JSON.

A pure codec: no I/O (apart from reading ``fhir_profiles/`` once), no policy, plain dicts and orjson on the hot
path — ``fhir.resources`` is for the tests. Modules:

* ``history`` — ``$pdmp-history`` decode/encode; ``parameters`` (named inputs, references), ``demographics``
  (Patient, Practitioner), ``roles`` (PractitionerRole → ``pb.Role``), ``dates`` (report period)
* ``search`` — MedicationDispense search parameters and the searchset
* ``resources`` — the answer's resources, shared by both; ``outcome`` — OperationOutcome
* ``capability`` — CapabilityStatement and OperationDefinition; ``codes`` — URLs and code tables
"""

from adapters.fhir.capability import capability_statement, operation_definition
from adapters.fhir.history import HistoryParams, decode_pdmp_history, encode_pdmp_history
from adapters.fhir.outcome import encode_outcome
from adapters.fhir.search import CURSOR_PARAM, DispenseSearch, encode_searchset, parse_dispense_search

__all__ = [
    "CURSOR_PARAM",
    "DispenseSearch",
    "HistoryParams",
    "capability_statement",
    "decode_pdmp_history",
    "encode_outcome",
    "encode_pdmp_history",
    "encode_searchset",
    "operation_definition",
    "parse_dispense_search",
]
