"""The division's admin API (DESIGN §2 ``admin/``): routes that need a ``pmp/admin`` token and answer in JSON, with
errors as ``application/problem+json``. ``audit_routes``: the accounting of disclosures and usage reports."""
