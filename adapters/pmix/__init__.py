"""PMIX codec (built by its own issue)."""
