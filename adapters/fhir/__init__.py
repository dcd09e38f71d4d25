"""FHIR codec (built by its own issue)."""
