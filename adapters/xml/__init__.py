"""What the two XML codecs (``adapters.ncpdp``, ``adapters.pmix``) share, so that a fix to one reaches both.

``safe`` (the hardened parse every inbound body goes through), ``read`` (naming a place in a parsed document for a
refusal that never quotes it), ``schema`` (finding what a schema complaint is about), ``write`` (fitted, escaped
text for outbound documents) and ``_lxml`` (the untyped lxml import). Each codec keeps its protocol's words, limits
and element names.
"""
