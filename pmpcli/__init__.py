"""The ``pmp-gateway`` command line: the composition root that wires settings, pmpdb and the gateway.

It is the one place allowed to import both ``gateway`` and ``pmpdb`` (they otherwise meet only over gRPC), so
the embedded single-command mode can run pmpdb in-process on a loopback port.
"""
