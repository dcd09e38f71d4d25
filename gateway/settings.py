"""One typed settings object, read once at start-up, shared by ``serve`` and every CLI command.

Sources, strongest first: ``PMP_*`` environment variables, then the TOML file named by ``PMP_CONFIG_FILE``
(keys are the field names below), then the defaults. ``PMP_DATA_DIR`` holds the embedded databases and keys, so
``PMP_DATA_DIR=/x pmp-gateway ingest f.asap`` and ``PMP_DATA_DIR=/x pmp-gateway serve`` see the same data.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)


class Settings(BaseSettings):
    """Everything an operator can set. Field ``x`` is ``PMP_X`` in the environment."""

    model_config = SettingsConfigDict(env_prefix="PMP_", frozen=True, extra="forbid")

    data_dir: Path = Field(default=Path("var"), description="embedded databases and keys")
    state_code: str = Field(default="UT", min_length=2, max_length=2, description="this PMP's state")

    # pmpdb: where the dispensations live and how the gateway reaches them
    store: Literal["sqlite", "postgres"] = "sqlite"
    postgres_dsn: str = "postgresql://postgres@127.0.0.1:5432/test"
    postgres_schema: str = "pmpdb"
    pmpdb_target: str = Field(default="", description="host:port of a remote pmpdb; empty = run it in-process")
    pmpdb_listen: str = Field(default="127.0.0.1:0", description="pmpdb gRPC listen address (0 = any free port)")
    pmpdb_reflection: bool = Field(default=False, description="gRPC reflection: for development only")
    search_default_page_size: int = Field(default=100, ge=1)
    search_max_page_size: int = Field(default=500, ge=1)
    search_max_candidates: int = Field(default=200, ge=1, description="patient records scored per query")
    drug_reference: Path | None = Field(default=None, description="CSV loaded at start-up; default: bundled")

    # gateway HTTP front
    host: str = "127.0.0.1"
    allow_unauthenticated_network: bool = Field(
        default=False,
        description="listen beyond loopback with authenticate or audit turned off, or pmpdb (no auth of its own)",
    )
    port: int = Field(default=8080, ge=0, le=65535)
    workers: int = Field(default=1, ge=1, le=64, description="gateway processes sharing the port (SO_REUSEPORT)")
    public_base_url: str = Field(default="", description="e.g. https://pmp.example.gov; empty = from the request")
    request_budget_seconds: float = Field(default=5.0, gt=0, le=120, description="end-to-end time per request")
    max_body_bytes: int = Field(default=1 << 20, ge=1024, description="request bodies above this are refused (413)")
    history_lookback_days: int = Field(default=365, ge=1, description="report period when the request names none")
    history_max_days: int = Field(default=3 * 366, ge=1, description="the longest report period the state allows")
    search_page_size: int = Field(default=50, ge=1, le=500, description="FHIR search: _count default")
    token_ttl_seconds: int = Field(default=3600, ge=60, description="life of patient ids / paging cursors we issue")
    # the PMIX exchange (pmix:) namespace: the IEPD's is not public. The default is adapters.pmix.DEFAULT_EXCHANGE_NS
    # (not imported: reading the settings loads no XML codec)
    pmix_exchange_ns: str = Field(default="urn:pmp-gateway:pmix:exchange:1", description="PMIX exchange namespace")

    # the gateway's own database: EDS / client / user registry (and, later, the audit trail)
    gateway_store: Literal["sqlite", "postgres"] = "sqlite"
    gateway_postgres_dsn: str = Field(default="", description="empty = postgres_dsn")
    gateway_postgres_schema: str = "gateway"

    # shared state between replicas: token replay, revocations (and, later, suspensions and rate limits)
    redis_url: str = Field(default="", description="e.g. redis://127.0.0.1:6379/0; empty = in-process (one host)")
    redis_prefix: str = Field(default="pmp:", description="namespace for every key the gateway writes")

    # suspensions (issue 6): how often each process confirms its copy, and how stale it may get before queries are
    # refused with 503 (fail closed)
    suspension_check_seconds: float = Field(default=0.5, gt=0, le=5, description="version check period")
    suspension_max_staleness_seconds: float = Field(default=5.0, gt=0, le=300, description="fail closed after")

    # rate limits (issue 6): default quotas, "RATE/SECONDS[,burst=N][,shadow]" or "off"; an EDS's own quota in the
    # registry (pmp-gateway eds set-quota) replaces rate_limit_eds for it
    rate_limit_eds: str = Field(default="6000/60,burst=600", description="per EDS unless the registry sets one")
    rate_limit_client: str = Field(default="off", description="per OAuth client")
    rate_limit_user: str = Field(default="300/60,burst=60", description="per registered end user, across EDSs")
    rate_limit_state: str = Field(default="6000/60,burst=600", description="per requesting partner state")
    rate_limit_replicas: int = Field(default=1, ge=1, le=1000, description="Redis down: each limits to 1/N")
    rate_limit_redis_timeout_seconds: float = Field(default=0.25, gt=0, le=5)
    rate_limit_redis_retry_seconds: float = Field(default=1.0, gt=0, le=60)

    # OAuth 2.0 token service (SMART Backend Services)
    oauth_issuer: str = Field(default="", description="empty = public_base_url, else http://host:port as served")
    oauth_token_ttl_seconds: int = Field(default=300, ge=30, le=300, description="SMART: at most 300")
    oauth_signing_alg: Literal["RS256", "ES256"] = "RS256"
    oauth_token_cache_entries: int = Field(default=10_000, ge=0, description="verified access tokens kept per worker")
    oauth_jwks_allow_http: bool = Field(default=False, description="fetch client JWKS over plain http: tests only")

    # Pipeline stages, all on by default. Turning authenticate, identify or audit off is for local experiments only
    # (serve then refuses a non-loopback address). /readyz lists every stage's state (never a check that silently
    # passes); a stage turned on without what it needs fails at start-up.
    authenticate: bool = True  # OAuth 2.0 access tokens
    identify: bool = True  # registered, active end users linked to the calling EDS
    suspension: bool = True  # suspended EDS / clients / users / states (issue 6)
    rate_limit: bool = True  # GCRA per EDS / client / user / state (issue 6)
    alerts: bool = True  # clinical indicators (computed in pmpdb, shown to clinical roles only)
    audit: bool = True  # disclosure audit trail: no audit, no data

    # interstate (issue 9): our users' queries also go to the partner states' hubs (pmp-gateway partners), merged
    # into one answer; a partner that fails this many times in a row is not asked for the cool-down, then probed
    interstate: bool = Field(default=True, description="fan queries out to partner states (off: this state only)")
    interstate_breaker_failures: int = Field(default=3, ge=1, le=1000, description="failures that open a circuit")
    interstate_breaker_cooldown_seconds: float = Field(default=30.0, gt=0, le=3600, description="open this long")

    # clinical indicators (docs/clinical-indicators.md); defaults from state practice (shared/reference/peers.md)
    mme_factors: Literal["cdc2022", "cdc2016"] = Field(default="cdc2022", description="MME conversion table")
    alert_mme_per_day: float = Field(default=90, gt=0, description="daily active MME at or above this alerts")
    alert_mpe_prescribers: int = Field(default=5, ge=1, description="multiple provider episode: prescribers …")
    alert_mpe_pharmacies: int = Field(default=5, ge=1, description="… and pharmacies …")
    alert_mpe_window_days: int = Field(default=90, ge=1, description="… within this many days")
    alert_overlap_days: int = Field(default=1, ge=1, description="opioid + benzodiazepine overlap days that alert")

    # the disclosure audit trail (issue 7): SQLite <data_dir>/audit.sqlite3, or the gateway's PostgreSQL schema
    audit_retention_years: int = Field(default=6, ge=1, le=100, description="records kept this long (HIPAA: 6)")
    audit_batch_max: int = Field(default=256, ge=1, le=10_000, description="records per group-commit transaction")
    audit_commit_timeout_seconds: float = Field(
        default=2.0, gt=0, le=30, description="how long an answer waits for its audit record before it is refused"
    )
    audit_sqlite_synchronous: Literal["full", "normal"] = Field(
        default="full", description="full: each batch fsynced (survives power loss); normal: survives a crash only"
    )
    audit_relay_socket: str = Field(
        default="",
        description="set by serve --workers N on SQLite: the unix socket of the host's one audit writer (internal)",
    )

    @field_validator("rate_limit_eds", "rate_limit_client", "rate_limit_user", "rate_limit_state")
    @classmethod
    def _quota(cls, value: str) -> str:
        from gateway.policy.registry.model import parse_quota  # (not the ratelimit package: it loads prometheus)

        parse_quota(value)  # QuotaSyntaxError is a ValueError: pydantic reports it
        return value

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / "pmpdb.sqlite3"

    @property
    def gateway_sqlite_path(self) -> Path:
        return self.data_dir / "gateway.sqlite3"

    @property
    def gateway_dsn(self) -> str:
        return self.gateway_postgres_dsn or self.postgres_dsn

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = os.environ.get("PMP_CONFIG_FILE")
        if config_file:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=Path(config_file)))
        return tuple(sources)


def load_settings(**overrides: object) -> Settings:
    """Read the settings once; ``overrides`` (from CLI flags) beat the environment."""
    return Settings(**overrides)  # type: ignore[arg-type]
