"""The internal API: generated protobuf / gRPC stubs (committed) and the .proto they come from.

Regenerate with ``python -m protos.generate``; ``tests/test_protos.py`` fails when they drift.
"""
