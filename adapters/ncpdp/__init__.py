"""NCPDP codec (built by its own issue)."""
