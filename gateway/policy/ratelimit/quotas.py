"""Which buckets a request is charged to, and with which quota.

- ``eds``: the calling client's EDS — its own quota in the registry (``pmp-gateway eds set-quota``), else the
  default. Read through the registry's cached client lookup (the identify stage has just warmed it).
- ``client``: the OAuth client — the default (``off`` unless set).
- ``user``: the registered end user (set by the identify stage) — the default; one bucket whatever EDS names them.
- ``state``: the requesting partner state (interstate) — the default.

A party the request does not name, or whose quota is ``off``, is not limited.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from gateway.policy.ratelimit.model import LimitKey, parse_quota, policy_of
from gateway.policy.registry.errors import RegistryError
from gateway.policy.registry.model import Quota
from gateway.policy.registry.store.base import RegistryStore

if TYPE_CHECKING:
    from gateway.settings import Settings

log = logging.getLogger("pmp.ratelimit")

DEFAULT_EDS = "6000/60,burst=600"
DEFAULT_CLIENT = "off"
DEFAULT_USER = "300/60,burst=60"
DEFAULT_STATE = "6000/60,burst=600"

EdsQuotaLookup = Callable[[str], Awaitable[Quota | None]]  # client id → its EDS's own quota (None: the default)


_EDS, _CLIENT, _USER, _STATE = (parse_quota(t) for t in (DEFAULT_EDS, DEFAULT_CLIENT, DEFAULT_USER, DEFAULT_STATE))


@dataclass(slots=True, frozen=True)
class QuotaDefaults:
    eds: Quota | None = _EDS
    client: Quota | None = _CLIENT
    user: Quota | None = _USER
    state: Quota | None = _STATE

    @classmethod
    def from_settings(cls, settings: Settings) -> QuotaDefaults:
        """``rate_limit_eds``, ``rate_limit_client``, ``rate_limit_user``, ``rate_limit_state`` (quota text; these
        defaults until the settings carry them). Raises ``QuotaSyntaxError``."""
        return cls(
            eds=parse_quota(str(getattr(settings, "rate_limit_eds", DEFAULT_EDS))),
            client=parse_quota(str(getattr(settings, "rate_limit_client", DEFAULT_CLIENT))),
            user=parse_quota(str(getattr(settings, "rate_limit_user", DEFAULT_USER))),
            state=parse_quota(str(getattr(settings, "rate_limit_state", DEFAULT_STATE))),
        )


def registry_eds_quota(registry: RegistryStore) -> EdsQuotaLookup:
    """The EDS quota of a client, from the registry's cached client record."""

    async def lookup(client_id: str) -> Quota | None:
        record = await registry.get_client_record(client_id)
        return record.eds.quota if record is not None else None

    return lookup


class QuotaBook:
    def __init__(self, defaults: QuotaDefaults, eds_quota: EdsQuotaLookup | None = None) -> None:
        self._defaults = defaults
        self._eds_quota = eds_quota

    async def keys_for(
        self, *, eds_id: str = "", client_id: str = "", user_id: str = "", state: str = ""
    ) -> list[LimitKey]:
        d = self._defaults
        keys: list[LimitKey] = []
        if eds_id:
            quota = d.eds
            if self._eds_quota is not None and client_id:
                try:
                    quota = await self._eds_quota(client_id) or d.eds
                except RegistryError:  # the identify stage refuses on this; the default still limits
                    log.warning("EDS quota lookup failed; the default applies", exc_info=True)
            if quota is not None:
                keys.append(LimitKey(policy_of("eds", quota), eds_id))
        if client_id and d.client is not None:
            keys.append(LimitKey(policy_of("client", d.client), client_id))
        if user_id and d.user is not None:
            keys.append(LimitKey(policy_of("user", d.user), user_id))
        if state and d.state is not None:
            keys.append(LimitKey(policy_of("state", d.state), state))
        return keys

    def default_policy_header(self) -> str:
        """``RateLimit-Policy`` for a response the stage did not reach (before authentication): the defaults."""
        d = self._defaults
        pairs = (("eds", d.eds), ("client", d.client), ("user", d.user), ("state", d.state))
        return ", ".join(policy_of(n, q).header_item for n, q in pairs if q is not None and not q.shadow)
