"""Helpers for testing against the gateway, shipped as public API (like ``structlog.testing``).

``FakeSearchBackend`` stands in for pmpdb (the ``SearchBackend`` seam), so pipeline and route tests need no
server; ``settings_for_tests`` gives settings rooted in a temporary directory. For tests with real tokens:
``ClientKey`` (an EDS client's key pair and SMART client assertions), ``register_client`` (an active EDS, its
``private_key_jwt`` client and a registered prescriber in a registry) and ``token_form`` (the token request).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gateway.auth import scopes
from gateway.auth.client_key import ASSERTION_TYPE, ClientKey, token_form
from gateway.policy.registry.model import NewUser, UserRole
from gateway.policy.registry.store.base import RegistryStore
from gateway.settings import Settings

__all__ = [
    "ASSERTION_TYPE",
    "TEST_ISSUER",
    "TEST_NPI",
    "ClientKey",
    "FakeSearchBackend",
    "Registration",
    "register_client",
    "settings_for_tests",
    "token_form",
]
from protos.errors import PmpError
from protos.pmp.v1 import pmp_pb2 as pb

TEST_ISSUER = "http://127.0.0.1"  # an OAuth issuer for apps whose tokens the test never asks for

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


TEST_NPI = "1234567893"  # a valid NPI (Luhn with the 80840 prefix); the IG examples' practitioner uses it too


@dataclass(frozen=True, slots=True)
class Registration:
    eds_id: str
    client_id: str
    user_id: str
    npi: str
    key: ClientKey


async def register_client(
    registry: RegistryStore,
    *,
    scope: str = f"{scopes.MEDICATION_DISPENSE_READ} {scopes.NCPDP_HISTORY}",
    npi: str = TEST_NPI,
    first: str = "ADAM",
    last: str = "AMSTER",
    key: ClientKey | None = None,
) -> Registration:
    """An active EDS with one ``private_key_jwt`` client and one active prescriber linked to it."""
    key = key or ClientKey.generate()
    eds = await registry.add_eds(name="Test EHR", agreement="TEST-1", state="UT")
    client = (await registry.add_client(eds.id, scope=scope, jwks=key.jwks())).client
    user = await registry.add_user(
        NewUser(role=UserRole.PRESCRIBER, first_name=first, last_name=last, eds_ids=(eds.id,), npi=npi)
    )
    return Registration(eds.id, client.client_id, user.id, npi, key)
