"""XML Schemas the PMIX codec validates against (data files; a package so that wheels carry them).

All four are the project's own, written from the public element names (standards.md §3, §1.10) — the PMIX IEPD is
not public and was not used (docs/pmix.md):

* ``pmix-exchange.xsd`` — the exchange messages (``pmix:PMPRequest``, ``pmix:PMPPrescriptionReport``) in the
  default exchange namespace, which the codec replaces with the configured one when it compiles the schema;
* ``pmp-extension.xsd`` — the PMIX extension elements (``http://pmixpmp.org/niem/4.0/extension``);
* ``niem-core.xsd`` and ``niem-jxdm.xsd`` — the NIEM Core 4.0 and Justice 6.0 elements the messages use.
"""
