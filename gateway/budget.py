"""Each request's time budget: one deadline, and what is left of it for the next call."""

from __future__ import annotations

import time
from dataclasses import dataclass

from protos.errors import PmpError
from protos.pmp.v1 import pmp_pb2 as pb

# gRPC needs a little of the budget to carry the reply back; below this there is no point in calling.
CALL_MARGIN_S = 0.005


@dataclass(slots=True, frozen=True)
class Deadline:
    """A monotonic deadline. ``remaining()`` is what is left; ``call_timeout()`` what to give a downstream call."""

    at: float

    @classmethod
    def after(cls, seconds: float) -> Deadline:
        return cls(time.monotonic() + seconds)

    def remaining(self) -> float:
        return self.at - time.monotonic()

    def call_timeout(self) -> float:
        """Seconds for a downstream call; raises TIMEOUT when the budget is already spent."""
        left = self.remaining() - CALL_MARGIN_S
        if left <= 0:
            raise PmpError(pb.ERROR_CODE_TIMEOUT, "the request's time budget ran out")
        return left
