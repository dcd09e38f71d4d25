"""XML Schemas the NCPDP codec validates against (data files; a package so that wheels carry them).

* ``VA_EMD_NCPDP_SCRIPT_10_6.xsd`` — the public SCRIPT 10.6 schema, verbatim (standards.md §2, source VA-XSD).
* ``rxhistory-2017071.xsd`` — the project's own schema of the SCRIPT 2017071 RxHistory subset this PMP accepts and
  emits, written from the element paths in standards.md §1.10 and §2 (the official 2017071 schema is licensed).
"""
