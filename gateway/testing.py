"""Helpers for testing against the gateway, shipped as public API (like ``structlog.testing``).

``FakeSearchBackend`` stands in for pmpdb (the ``SearchBackend`` seam), so pipeline and route tests need no
server; ``settings_for_tests`` gives settings rooted in a temporary directory.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gateway.settings import Settings
from protos.errors import PmpError
from protos.pmp.v1 import pmp_pb2 as pb

Answer = pb.SearchHistoryResponse | PmpError | Callable[[pb.SearchHistoryRequest], pb.SearchHistoryResponse]


class FakeSearchBackend:
    """Answers every search with ``answer`` (a response, an error to raise, or a function of the request),
    after ``delay`` seconds; records the requests and timeouts it was given."""

    def __init__(self, answer: Answer, *, delay: float = 0.0) -> None:
        self.answer = answer
        self.delay = delay
        self.calls: list[tuple[pb.SearchHistoryRequest, float]] = []

    async def search_history(self, request: pb.SearchHistoryRequest, *, time_left: float) -> pb.SearchHistoryResponse:
        copy = pb.SearchHistoryRequest()
        copy.CopyFrom(request)
        self.calls.append((copy, time_left))
        if self.delay:
            await asyncio.sleep(self.delay)
        if isinstance(self.answer, PmpError):
            raise self.answer
        if isinstance(self.answer, pb.SearchHistoryResponse):
            response = pb.SearchHistoryResponse()
            response.CopyFrom(self.answer)
            return response
        return self.answer(request)


def settings_for_tests(data_dir: Path, **overrides: Any) -> Settings:
    """Settings for a test: the defaults (the environment ignored), everything under ``data_dir``."""
    defaults = {name: field.default for name, field in Settings.model_fields.items()}
    return Settings.model_validate({**defaults, "data_dir": data_dir, **overrides})
