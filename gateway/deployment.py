"""Start-up checks and derived addresses that ``serve`` needs before anything heavy is imported.

Kept apart from ``gateway.services`` on purpose: ``serve --workers N`` must set ``PROMETHEUS_MULTIPROC_DIR``
before ``prometheus_client`` is first imported (it picks its value store at import), and the services import it.
"""

from __future__ import annotations

import ipaddress

from gateway.settings import Settings


class DeploymentError(ValueError):
    """Settings that cannot serve safely: say what to set instead of failing on the first request."""


def default_issuer(settings: Settings, host: str, port: int) -> str:
    """The OAuth issuer (and token audience): configured, else the public base URL, else the address served."""
    configured = settings.oauth_issuer or settings.public_base_url
    if configured:
        return configured.rstrip("/")
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def check_deployment(settings: Settings) -> None:
    """Refuse, before serving, what the token service could not do correctly."""
    if settings.authenticate and settings.workers > 1 and not settings.redis_url:
        raise DeploymentError(
            "--workers > 1 needs PMP_REDIS_URL: assertion replay and token revocation must be seen by every worker"
        )
    if not (settings.oauth_issuer or settings.public_base_url) and not is_loopback(settings.host):
        raise DeploymentError(
            f"listening on {settings.host} needs PMP_PUBLIC_BASE_URL (https://…): it is the OAuth issuer and "
            "the audience of every token"
        )


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return host == "localhost"
