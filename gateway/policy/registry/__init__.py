"""The EDS and end-user registry: who may connect (EDSs and their OAuth clients) and who may be named as the end
user of a query (registered prescribers, pharmacists, delegates, law enforcement, regulators, administrators).

Public surface: the records (``model``), the store (``RegistryStore``; ``make_registry`` picks SQLite or
PostgreSQL), the identify rules (``resolve_end_user``), identifier formats and client credentials, and the partner
states' records (``partners``: an EDS of kind ``partner`` is a partner state's hub).
"""

from gateway.policy.registry.credentials import hash_secret, validate_jwks, validate_jwks_url, verify_secret
from gateway.policy.registry.errors import (
    RegistryConflictError,
    RegistryError,
    RegistryInputError,
    RegistryNotFoundError,
    RegistryUnavailableError,
)
from gateway.policy.registry.model import (
    ApprovalSide,
    AuthMethod,
    ClientStatus,
    Eds,
    EdsClient,
    EdsKind,
    EdsStatus,
    EndUser,
    NewUser,
    Quota,
    Supervision,
    UserRole,
    UserStatus,
)
from gateway.policy.registry.partners import PartnerAction, PartnerRecord, PartnerVersion
from gateway.policy.registry.resolve import ResolvedUser, resolve_eds, resolve_end_user
from gateway.policy.registry.store import (
    ClientRecord,
    IssuedClient,
    RegistryImportError,
    RegistryStore,
    RejectedRow,
    make_registry,
)

__all__ = [
    "ApprovalSide",
    "AuthMethod",
    "ClientRecord",
    "ClientStatus",
    "Eds",
    "EdsClient",
    "EdsKind",
    "EdsStatus",
    "EndUser",
    "IssuedClient",
    "NewUser",
    "PartnerAction",
    "PartnerRecord",
    "PartnerVersion",
    "Quota",
    "RegistryConflictError",
    "RegistryError",
    "RegistryImportError",
    "RegistryInputError",
    "RegistryNotFoundError",
    "RegistryStore",
    "RegistryUnavailableError",
    "RejectedRow",
    "ResolvedUser",
    "Supervision",
    "UserRole",
    "UserStatus",
    "hash_secret",
    "make_registry",
    "resolve_eds",
    "resolve_end_user",
    "validate_jwks",
    "validate_jwks_url",
    "verify_secret",
]
