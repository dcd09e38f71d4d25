"""docker-compose.yml and the Dockerfile stay valid and point at commands and settings that exist.

No Docker engine runs here, so this checks what can be checked without one: the compose file's structure,
that every service command is a real ``pmp-gateway`` sub-command, that every ``PMP_*`` variable is a setting,
and that the Dockerfile copies every package the project installs.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from gateway.settings import Settings
from pmpcli.main import _parser

ROOT = Path(__file__).resolve().parents[1]


def test_compose_services_use_real_commands_and_settings() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"postgres", "redis", "pmpdb", "gateway"} <= set(services)
    parser = _parser()
    fields = {name.upper() for name in Settings.model_fields}
    for name in ("pmpdb", "gateway"):
        service = services[name]
        assert service["build"] == "."
        parser.parse_args(service["command"])  # exits on an unknown command or flag
        for key in service.get("environment", {}):
            assert key.startswith("PMP_") and key.removeprefix("PMP_") in fields, key
        for dependency in service.get("depends_on", []):
            assert dependency in services


def test_dockerfile_copies_every_package() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    for package in ("adapters", "gateway", "pmpdb", "pmpcli", "protos", "fhir_profiles"):
        assert f"COPY {package} {package}" in dockerfile
