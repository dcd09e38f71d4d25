"""PMP database service: dispensation store, patient matching, ASAP ingestion, gRPC server."""
