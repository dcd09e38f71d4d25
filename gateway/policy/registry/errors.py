"""The registry's errors. Each also inherits the stdlib type a caller would naturally catch::

    Exception
    └── RegistryError
        ├── RegistryInputError(ValueError)        bad input: a malformed identifier, JWKS, URL, date, scope…
        │   ├── RegistryConflictError             it clashes with what is registered (a second user with one NPI)
        │   └── RegistryNotFoundError(LookupError) it names an EDS, client or user that is not registered
        └── RegistryUnavailableError(ConnectionError)  the database cannot be reached or failed

Messages are for operators (CLI, admin API). They name the field and the rule, never echo the value.
"""

from __future__ import annotations


class RegistryError(Exception):
    """Base of the registry's errors."""


class RegistryInputError(RegistryError, ValueError):
    """The input breaks a rule; the message names the field and the rule."""


class RegistryConflictError(RegistryInputError):
    """The input clashes with what is already registered."""


class RegistryNotFoundError(RegistryInputError, LookupError):
    """No EDS, client or user with that id."""


class RegistryUnavailableError(RegistryError, ConnectionError):
    """The registry database cannot be reached or answered with a server-side failure."""
