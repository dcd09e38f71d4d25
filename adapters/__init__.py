"""Pure codecs: wire formats to and from the internal vocabulary in ``protos``.

Adapters do no I/O and apply no policy; they never import ``gateway`` or ``pmpdb``.
"""
