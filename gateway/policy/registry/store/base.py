"""The registry store: every rule and query written once; the backends only run SQL.

``RegistryStore`` holds the whole API (add / get / list / change EDSs, clients and users; the lookups the token
service and the identify stage make); it is the token service's ``ClientDirectory`` (``find_client``). A backend
supplies four primitives: ``open``, ``close``, ``_fetch`` (one read) and ``_write`` (statements in one
transaction). Validation happens before any write, so a refused input leaves nothing behind; ``import_users`` is
all-or-nothing and reports every bad row.
"""

# SQL text is assembled only from the constant column lists in this package; values are always bound.
# ruff: noqa: S608

from __future__ import annotations

import abc
import secrets
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Any, Literal, TypeAlias

import orjson

from gateway.auth.clients import AuthMethod as AuthMethodName
from gateway.auth.clients import RegisteredClient
from gateway.auth.scopes import INTERSTATE
from gateway.interstate.partners import InboundPolicy, Outbound, Partner, PartnerStatus
from gateway.policy.registry.credentials import (
    hash_secret,
    new_client_secret,
    parse_scopes,
    validate_jwks,
    validate_jwks_url,
)
from gateway.policy.registry.errors import (
    RegistryConflictError,
    RegistryInputError,
    RegistryNotFoundError,
)
from gateway.policy.registry.identifiers import (
    is_valid_dea,
    is_valid_npi,
    is_valid_state,
    is_valid_state_license,
    normalize_dea,
    normalize_license,
    normalize_state,
)
from gateway.policy.registry.model import (
    SUPERVISOR_ROLES,
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
    utc_now,
)
from gateway.policy.registry.partners import (
    PartnerAction,
    PartnerRecord,
    PartnerVersion,
    checked_partner,
    history_record,
    partner_record,
    partner_state,
    partner_values,
    partner_version,
)
from gateway.policy.registry.store import schema as sql

Row: TypeAlias = Sequence[Any]
Statement: TypeAlias = tuple[str, Sequence[Any]]
IdentifierKind: TypeAlias = Literal["npi", "dea", "license"]

MAX_NAME = 200
_AUTH_METHODS: dict[AuthMethod, AuthMethodName] = {
    AuthMethod.PRIVATE_KEY_JWT: "private_key_jwt",
    AuthMethod.CLIENT_SECRET_BASIC: "client_secret_basic",
}


def new_id(prefix: str) -> str:
    """A short opaque id: ``eds_``, ``cli_`` or ``usr_`` + 16 hex digits."""
    return f"{prefix}_{secrets.token_hex(8)}"


@dataclass(slots=True, frozen=True)
class IssuedClient:
    """A client just registered; ``secret`` is the only time a client secret is shown."""

    client: EdsClient
    secret: str | None = None


@dataclass(slots=True, frozen=True)
class ClientRecord:
    """A client with its EDS (one lookup for the token service)."""

    client: EdsClient
    eds: Eds

    @property
    def usable(self) -> bool:
        """The client may get tokens: the client is active and its EDS active."""
        return self.client.active and self.eds.status is EdsStatus.ACTIVE


@dataclass(slots=True, frozen=True)
class RejectedRow:
    """One row an import refused: its number (1 = first data row) and the rule it broke (no values)."""

    row: int
    reason: str


class RegistryImportError(RegistryInputError):
    """An import refused as a whole; ``rejected`` says which rows and why."""

    def __init__(self, rejected: Sequence[tuple[int, RegistryInputError]]) -> None:
        super().__init__(f"{len(rejected)} row(s) rejected; nothing imported")
        self.rejected = tuple(RejectedRow(row, str(error)) for row, error in rejected)
        self.errors = tuple(error for _, error in rejected)


def _text(value: str, field: str, *, required: bool = False, limit: int = MAX_NAME) -> str:
    value = value.strip()
    if required and not value:
        raise RegistryInputError(f"{field}: required")
    if len(value) > limit or not value.isprintable():
        raise RegistryInputError(f"{field}: at most {limit} printable characters")
    return value


def _state(value: str, field: str) -> str:
    value = normalize_state(value)
    if value and not is_valid_state(value):
        raise RegistryInputError(f"{field}: not a US state code")
    return value


def _eds(row: Row) -> Eds:
    quota = Quota(row[7], row[8], row[9], bool(row[10])) if row[7] is not None else None
    return Eds(row[0], row[1], row[2], row[3], row[4], EdsStatus(row[5]), row[6], quota, EdsKind(row[11]))


def eds_insert(eds: Eds) -> Statement:
    """The statement registering ``eds`` (already validated)."""
    q = eds.quota
    return (
        sql.INSERT_EDS,
        (
            eds.id,
            eds.name,
            eds.agreement,
            eds.state,
            eds.contact,
            eds.status.value,
            eds.created_at,
            q.rate if q else None,
            q.per_seconds if q else None,
            q.burst if q else None,
            int(q.shadow) if q else 0,
            eds.kind.value,
        ),
    )


def _client(row: Row) -> EdsClient:
    return EdsClient(
        client_id=row[0],
        eds_id=row[1],
        auth_method=AuthMethod(row[2]),
        jwks=orjson.loads(row[3]) if row[3] else None,
        jwks_url=row[4],
        secret_hash=row[5],
        scopes=frozenset(row[6].split()),
        status=ClientStatus(row[7]),
        created_at=row[8],
    )


def _user(row: Row, eds_ids: Iterable[str] = (), supervisions: Iterable[Supervision] = ()) -> EndUser:
    return EndUser(
        id=row[0],
        role=UserRole(row[1]),
        first_name=row[2],
        last_name=row[3],
        npi=row[4],
        dea=row[5],
        state_license=row[6],
        license_state=row[7],
        status=UserStatus(row[8]),
        expires=date.fromisoformat(row[9]) if row[9] else None,
        created_at=row[10],
        eds_ids=frozenset(eds_ids),
        supervisions=tuple(supervisions),
    )


_READ_CACHE_ENTRIES = 4096


class RegistryStore(abc.ABC):
    """EDSs, their OAuth clients and registered end users, in one database.

    The identify stage reads a client, its EDS and a user on every request (four queries, ~200 µs on SQLite).
    Those reads (``get_client_record``, ``find_user_by_identifier``, ``get_user``) are cached in the process and
    dropped whenever the backend says the data may have changed (``_data_changed``: SQLite's ``data_version``,
    exact; PostgreSQL: at most ``STALE_SECONDS`` old) and on every write through this store.
    """

    _read_cache: dict[tuple[str, ...], Any]

    # ---- what a backend supplies

    async def _data_changed(self) -> bool:
        """True when another writer may have changed the registry since the last call. Default: always."""
        return True

    async def _cached(self, key: tuple[str, ...], load: Callable[[], Awaitable[Any]]) -> Any:
        cache = self.__dict__.setdefault("_read_cache", {})
        if await self._data_changed() or len(cache) >= _READ_CACHE_ENTRIES:
            cache.clear()
        if key in cache:
            return cache[key]
        value = cache[key] = await load()
        return value

    def _forget_reads(self) -> None:
        self.__dict__.get("_read_cache", {}).clear()

    @abc.abstractmethod
    async def open(self) -> None:
        """Connect and create the tables if they are missing."""

    @abc.abstractmethod
    async def close(self) -> None: ...

    @abc.abstractmethod
    async def _fetch(self, statement: str, *args: Any) -> list[Row]:
        """Rows of one query (``?`` placeholders). RegistryUnavailableError if the database fails."""

    @abc.abstractmethod
    async def _write(self, statements: Sequence[Statement]) -> list[int]:
        """Run the statements in one transaction; the row count of each. RegistryConflictError when a constraint
        refuses a row (nothing is written then)."""

    async def ping(self) -> None:
        await self._fetch("SELECT 1")

    # ---- EDS

    async def add_eds(
        self,
        *,
        name: str,
        agreement: str = "",
        state: str = "",
        contact: str = "",
        status: EdsStatus = EdsStatus.ACTIVE,
        quota: Quota | None = None,
    ) -> Eds:
        if status not in (EdsStatus.ACTIVE, EdsStatus.PENDING):
            raise RegistryInputError("status: a new EDS is active or pending")
        eds = Eds(
            id=new_id("eds"),
            name=_text(name, "name", required=True),
            agreement=_text(agreement, "agreement"),
            state=_state(state, "state"),
            contact=_text(contact, "contact"),
            status=status,
            created_at=utc_now(),
            quota=_check_quota(quota),
        )
        await self._write([eds_insert(eds)])
        return eds

    async def get_eds(self, eds_id: str) -> Eds | None:
        rows = await self._fetch(f"{sql.SELECT_EDS} WHERE id = ?", eds_id)
        return _eds(rows[0]) if rows else None

    async def list_eds(self) -> list[Eds]:
        return [_eds(r) for r in await self._fetch(f"{sql.SELECT_EDS} ORDER BY created_at, id")]

    async def _require_eds(self, eds_id: str) -> Eds:
        eds = await self.get_eds(eds_id)
        if eds is None:
            raise RegistryNotFoundError("eds: no EDS with this id")
        return eds

    async def set_eds_status(self, eds_id: str, status: EdsStatus) -> Eds:
        await self._require_eds(eds_id)
        await self._write([(sql.UPDATE_EDS_STATUS, (status.value, eds_id))])
        return await self._require_eds(eds_id)

    async def set_eds_quota(self, eds_id: str, quota: Quota | None) -> Eds:
        await self._require_eds(eds_id)
        q = _check_quota(quota)
        args = (q.rate, q.per_seconds, q.burst, int(q.shadow)) if q else (None, None, None, 0)
        await self._write([(sql.UPDATE_EDS_QUOTA, (*args, eds_id))])
        return await self._require_eds(eds_id)

    # ---- partner states (issue 9; rules and rows in ``gateway.policy.registry.partners``)

    async def add_partner(
        self,
        state: str,
        *,
        name: str,
        inbound: InboundPolicy,
        by: str,
        outbound: Outbound | None = None,
        default_for_roles: Iterable[str] = (),
        agreement: str = "",
        contact: str = "",
    ) -> PartnerRecord:
        """Register a partner state and, in the same transaction, the EDS (kind ``partner``) whose OAuth clients
        will be its hub. Its first version goes to the history."""
        eds = Eds(
            id=new_id("eds"),
            name=_text(name, "name", required=True),
            agreement=_text(agreement, "agreement"),
            state=partner_state(state),
            contact=_text(contact, "contact"),
            status=EdsStatus.ACTIVE,
            created_at=utc_now(),
            kind=EdsKind.PARTNER,
        )
        partner = checked_partner(
            Partner(
                state=eds.state,
                name=eds.name,
                status=PartnerStatus.ACTIVE,
                inbound=inbound,
                outbound=outbound,
                default_for_roles=frozenset(default_for_roles),
                eds_id=eds.id,
            )
        )
        by = _text(by, "by", required=True)
        if await self.get_partner(partner.state) is not None:
            raise RegistryConflictError("state: already a partner")
        now, values = eds.created_at, partner_values(partner)
        await self._write(
            [
                eds_insert(eds),
                (sql.INSERT_PARTNER, (partner.state, *values[:2], partner.eds_id, *values[2:], 1, now, now, by)),
                (
                    sql.INSERT_PARTNER_HISTORY,
                    (partner.state, 1, now, by, PartnerAction.ADD.value, history_record(partner)),
                ),
            ]
        )
        return await self._require_partner(partner.state)

    async def get_partner(self, state: str) -> PartnerRecord | None:
        rows = await self._fetch(f"{sql.SELECT_PARTNER} WHERE state = ?", normalize_state(state))
        return partner_record(rows[0]) if rows else None

    async def _require_partner(self, state: str) -> PartnerRecord:
        found = await self.get_partner(state)
        if found is None:
            raise RegistryNotFoundError("state: not a registered partner")
        return found

    async def list_partners(self) -> list[PartnerRecord]:
        return [partner_record(r) for r in await self._fetch(f"{sql.SELECT_PARTNER} ORDER BY state")]

    async def partner_history(self, state: str) -> list[PartnerVersion]:
        await self._require_partner(state)
        return [partner_version(r) for r in await self._fetch(sql.SELECT_PARTNER_HISTORY, normalize_state(state))]

    async def update_partner(
        self, state: str, edit: Callable[[Partner], Partner], *, by: str, action: PartnerAction = PartnerAction.SET
    ) -> PartnerRecord:
        """Apply ``edit`` to the partner's current record and store the result as its next version (the state and
        its EDS cannot change). A change that raced another one is refused (RegistryConflictError), never merged
        over it; an edit that changes nothing writes nothing."""
        current = await self._require_partner(state)
        by = _text(by, "by", required=True)
        changed = checked_partner(edit(current.partner))
        if (changed.state, changed.eds_id) != (current.partner.state, current.partner.eds_id):
            raise RegistryInputError("state: a partner's state and EDS cannot change")
        if changed == current.partner:
            return current
        version, now = current.version + 1, utc_now()
        try:
            await self._write(
                [
                    (sql.UPDATE_PARTNER, (*partner_values(changed), version, now, by, changed.state, current.version)),
                    (
                        sql.INSERT_PARTNER_HISTORY,
                        (changed.state, version, now, by, action.value, history_record(changed)),
                    ),
                ]
            )
        except RegistryConflictError:
            raise RegistryConflictError("partner: changed by someone else meanwhile; nothing written") from None
        return await self._require_partner(changed.state)

    async def set_partner_status(self, state: str, status: PartnerStatus, *, by: str) -> PartnerRecord:
        action = PartnerAction.ENABLE if status is PartnerStatus.ACTIVE else PartnerAction.DISABLE
        return await self.update_partner(state, lambda p: replace(p, status=status), by=by, action=action)

    async def partners_snapshot(self) -> tuple[Partner, ...]:
        """Every partner, for ``gateway.interstate.directory``. Cached like the other hot-path reads (class
        docstring): the same tuple comes back until the registry changes."""
        found: tuple[Partner, ...] = await self._cached(("partners",), self._load_partners)
        return found

    async def _load_partners(self) -> tuple[Partner, ...]:
        return tuple(r.partner for r in await self.list_partners())

    # ---- OAuth clients

    async def add_client(
        self,
        eds_id: str,
        *,
        scope: str,
        jwks: object | None = None,
        jwks_url: str = "",
        with_secret: bool = False,
    ) -> IssuedClient:
        """Register a client authenticating with exactly one of: a JWK Set, a JWKS URL (both
        ``private_key_jwt``), or a generated secret (``client_secret_basic``, returned once)."""
        if (jwks is not None) + bool(jwks_url) + with_secret != 1:
            raise RegistryInputError("give exactly one of jwks, jwks_url or a secret")
        eds = await self._require_eds(eds_id)
        if eds.status is EdsStatus.REVOKED:
            raise RegistryInputError("eds: the EDS is revoked")
        scopes = parse_scopes(scope)
        if eds.is_partner and scopes != {INTERSTATE}:
            raise RegistryInputError(f"scope: a partner state's hub is granted {INTERSTATE} only")
        secret = new_client_secret() if with_secret else None
        client = EdsClient(
            client_id=new_id("cli"),
            eds_id=eds.id,
            auth_method=AuthMethod.CLIENT_SECRET_BASIC if with_secret else AuthMethod.PRIVATE_KEY_JWT,
            scopes=scopes,
            status=ClientStatus.ACTIVE,
            created_at=utc_now(),
            jwks=validate_jwks(jwks) if jwks is not None else None,
            jwks_url=validate_jwks_url(jwks_url) if jwks_url else "",
            secret_hash=hash_secret(secret) if secret else "",
        )
        await self._write(
            [
                (
                    sql.INSERT_CLIENT,
                    (
                        client.client_id,
                        client.eds_id,
                        client.auth_method.value,
                        orjson.dumps(client.jwks).decode() if client.jwks is not None else "",
                        client.jwks_url,
                        client.secret_hash,
                        " ".join(sorted(client.scopes)),
                        client.status.value,
                        client.created_at,
                    ),
                )
            ]
        )
        return IssuedClient(client, secret)

    async def get_client(self, client_id: str) -> EdsClient | None:
        rows = await self._fetch(f"{sql.SELECT_CLIENT} WHERE client_id = ?", client_id)
        return _client(rows[0]) if rows else None

    async def get_client_record(self, client_id: str) -> ClientRecord | None:
        """The client and its EDS, in one query (the identify stage's check of both). Cached (class docstring)."""
        record: ClientRecord | None = await self._cached(
            ("client", client_id), lambda: self._load_client_record(client_id)
        )
        return record

    async def _load_client_record(self, client_id: str) -> ClientRecord | None:
        rows = await self._fetch(sql.SELECT_CLIENT_WITH_EDS, client_id)
        if not rows:
            return None
        row = rows[0]
        n = sql.CLIENT_COLUMN_COUNT
        return ClientRecord(_client(row[:n]), _eds(row[n:]))

    async def find_client(self, client_id: str) -> RegisteredClient | None:
        """``gateway.auth.clients.ClientDirectory``: the client as the token service sees it, active only while
        both the client and its EDS are active."""
        record = await self.get_client_record(client_id)
        if record is None:
            return None
        client = record.client
        return RegisteredClient(
            client_id=client.client_id,
            eds_id=client.eds_id,
            auth_method=_AUTH_METHODS[client.auth_method],
            scopes=client.scopes,
            active=record.usable,
            jwks=dict(client.jwks) if client.jwks is not None else None,
            jwks_url=client.jwks_url or None,
            secret_hash=client.secret_hash or None,
        )

    async def list_clients(self, eds_id: str | None = None) -> list[EdsClient]:
        if eds_id is None:
            rows = await self._fetch(f"{sql.SELECT_CLIENT} ORDER BY created_at, client_id")
        else:
            rows = await self._fetch(f"{sql.SELECT_CLIENT} WHERE eds_id = ? ORDER BY created_at, client_id", eds_id)
        return [_client(r) for r in rows]

    async def set_client_status(self, client_id: str, status: ClientStatus) -> EdsClient:
        counts = await self._write([(sql.UPDATE_CLIENT_STATUS, (status.value, client_id))])
        client = await self.get_client(client_id)
        if not counts[0] or client is None:
            raise RegistryNotFoundError("client: no client with this id")
        return client

    async def disable_client(self, client_id: str) -> EdsClient:
        return await self.set_client_status(client_id, ClientStatus.DISABLED)

    # ---- end users: reads

    async def get_user(self, user_id: str) -> EndUser | None:
        user: EndUser | None = await self._cached(("user", user_id), lambda: self._load_user(user_id))
        return user

    async def _load_user(self, user_id: str) -> EndUser | None:
        rows = await self._fetch(f"{sql.SELECT_USER} WHERE id = ?", user_id)
        return await self._complete(rows[0]) if rows else None

    async def _complete(self, row: Row) -> EndUser:
        links = await self._fetch(sql.SELECT_USER_EDS, row[0])
        sups = await self._fetch(sql.SELECT_SUPERVISIONS, row[0])
        return _user(row, (r[0] for r in links), (Supervision(*r) for r in sups))

    async def list_users(self, *, eds_id: str | None = None, role: UserRole | None = None) -> list[EndUser]:
        rows = await self._fetch(f"{sql.SELECT_USER} ORDER BY created_at, id")
        links: dict[str, list[str]] = {}
        for user_id, linked in await self._fetch("SELECT user_id, eds_id FROM user_eds ORDER BY eds_id"):
            links.setdefault(user_id, []).append(linked)
        sups: dict[str, list[Supervision]] = {}
        for r in await self._fetch(f"SELECT {sql.SUPERVISION_COLUMNS} FROM supervision ORDER BY created_at"):
            sups.setdefault(r[0], []).append(Supervision(*r))
        users = [_user(r, links.get(r[0], ()), sups.get(r[0], ())) for r in rows]
        return [u for u in users if (eds_id is None or eds_id in u.eds_ids) and (role is None or u.role is role)]

    async def find_user_by_identifier(
        self, kind: IdentifierKind, value: str, *, license_state: str = ""
    ) -> EndUser | None:
        """The user registered with this NPI, DEA number or state licence. A licence without its state that
        several states issued raises RegistryConflictError (the caller must name the state). Cached."""
        if not value.strip():
            return None
        user: EndUser | None = await self._cached(
            ("identifier", kind, value, license_state),
            lambda: self._load_user_by_identifier(kind, value, license_state),
        )
        return user

    async def _load_user_by_identifier(self, kind: IdentifierKind, value: str, license_state: str) -> EndUser | None:
        if kind == "npi":
            rows = await self._fetch(f"{sql.SELECT_USER} WHERE npi = ?", value.strip())
        elif kind == "dea":
            rows = await self._fetch(f"{sql.SELECT_USER} WHERE dea = ?", normalize_dea(value))
        elif license_state:
            rows = await self._fetch(
                f"{sql.SELECT_USER} WHERE state_license = ? AND license_state = ?",
                normalize_license(value),
                normalize_state(license_state),
            )
        else:
            rows = await self._fetch(f"{sql.SELECT_USER} WHERE state_license = ? LIMIT 2", normalize_license(value))
            if len(rows) > 1:
                raise RegistryConflictError("the state licence is registered in several states: name its state")
        return await self._complete(rows[0]) if rows else None

    # ---- end users: writes

    async def add_user(self, new: NewUser) -> EndUser:
        """Register one user (validated first: identifiers' formats and check digits, unique identifiers, EDSs
        that exist, supervisors who are registered prescribers or pharmacists)."""
        try:
            (user_id,) = await self._add_users([new])
        except RegistryImportError as exc:
            raise exc.errors[0] from None
        user = await self.get_user(user_id)
        assert user is not None
        return user

    async def import_users(self, rows: Sequence[NewUser], *, dry_run: bool = False) -> list[EndUser]:
        """Register all rows in one transaction, or none: RegistryImportError lists every refused row.
        ``dry_run`` checks every row and writes nothing (returns [])."""
        ids = await self._add_users(rows, dry_run=dry_run)
        if dry_run:
            return []
        users = await self.list_users()
        wanted = set(ids)
        return [u for u in users if u.id in wanted]

    async def _add_users(self, rows: Sequence[NewUser], *, dry_run: bool = False) -> list[str]:
        rejected: list[tuple[int, RegistryInputError]] = []
        statements: list[Statement] = []
        ids: list[str] = []
        batch_npi: dict[str, tuple[str, UserRole]] = {}
        taken: dict[str, set[str]] = {"npi": set(), "dea": set(), "license": set()}
        now = utc_now()
        for number, new in enumerate(rows, start=1):
            try:
                user = await self._check_new_user(new, taken)
                supervisors = [await self._supervisor(ref, batch_npi) for ref in new.supervisor_ids]
            except RegistryInputError as exc:
                rejected.append((number, exc))
                continue
            user_id = new_id("usr")
            ids.append(user_id)
            if user.npi:
                batch_npi[user.npi] = (user_id, user.role)
            statements.append(
                (
                    sql.INSERT_USER,
                    (
                        user_id,
                        user.role.value,
                        user.first_name,
                        user.last_name,
                        user.npi,
                        user.dea,
                        user.state_license,
                        user.license_state,
                        user.status.value,
                        user.expires.isoformat() if user.expires else "",
                        now,
                    ),
                )
            )
            statements += [(sql.INSERT_USER_EDS, (user_id, e)) for e in user.eds_ids]
            statements += [(sql.INSERT_SUPERVISION, (user_id, s, now)) for s in dict.fromkeys(supervisors)]
        if rejected:
            raise RegistryImportError(rejected)
        if statements and not dry_run:
            await self._write(statements)
        return ids

    async def _check_new_user(self, new: NewUser, taken: dict[str, set[str]]) -> NewUser:
        """``new`` normalised, or RegistryInputError naming the first rule it breaks."""
        npi, dea = new.npi.strip(), normalize_dea(new.dea)
        license_number, license_state = normalize_license(new.state_license), normalize_state(new.license_state)
        if npi and not is_valid_npi(npi):
            raise RegistryInputError("npi: not a valid NPI (ten digits with the Luhn check digit)")
        if dea and not is_valid_dea(dea):
            raise RegistryInputError("dea: not a valid DEA number (two letters, seven digits, check digit)")
        if license_number and not is_valid_state_license(license_number):
            raise RegistryInputError("license: 2-30 letters, digits, '-', '.' or '/'")
        if license_number and not license_state:
            raise RegistryInputError("license_state: required with a licence")
        if license_state and not license_number:
            raise RegistryInputError("license_state: given without a licence")
        _state(license_state, "license_state")
        if not (npi or dea or license_number):
            raise RegistryInputError("a user needs an NPI, a DEA number or a state licence")
        if new.status not in (UserStatus.ACTIVE, UserStatus.PENDING):
            raise RegistryInputError("status: a new user is active or pending")
        if new.expires is not None and new.expires < date.today():
            raise RegistryInputError("expires: in the past")
        if new.supervisor_ids and not new.role.is_delegate:
            raise RegistryInputError("supervisor: only delegates have supervisors")
        eds_ids = tuple(dict.fromkeys(e.strip() for e in new.eds_ids if e.strip()))
        if not eds_ids:
            raise RegistryInputError("eds: a user is linked to at least one EDS")
        for eds_id in eds_ids:
            eds = await self.get_eds(eds_id)
            if eds is None:
                raise RegistryNotFoundError("eds: no EDS with this id")
            if eds.status is EdsStatus.REVOKED:
                raise RegistryInputError("eds: the EDS is revoked")
        for kind, value, extra in (("npi", npi, ""), ("dea", dea, ""), ("license", license_number, license_state)):
            if not value:
                continue
            key = f"{value}|{extra}"
            if key in taken[kind] or await self._identifier_taken(kind, value, extra):
                raise RegistryConflictError(f"{kind}: already registered to another user")
            taken[kind].add(key)
        return replace(
            new,
            first_name=_text(new.first_name, "first_name", required=True),
            last_name=_text(new.last_name, "last_name", required=True),
            npi=npi,
            dea=dea,
            state_license=license_number,
            license_state=license_state,
            eds_ids=eds_ids,
        )

    async def _identifier_taken(self, kind: str, value: str, license_state: str) -> bool:
        if kind == "license":
            rows = await self._fetch(
                "SELECT 1 FROM end_user WHERE state_license = ? AND license_state = ?", value, license_state
            )
        else:
            rows = await self._fetch(f"SELECT 1 FROM end_user WHERE {kind} = ?", value)  # kind: a fixed column name
        return bool(rows)

    async def _supervisor(self, ref: str, batch_npi: dict[str, tuple[str, UserRole]]) -> str:
        """The user id of a supervisor named by user id or NPI (registered, or earlier in the same batch)."""
        ref = ref.strip()
        if ref in batch_npi:
            supervisor_id, supervisor_role = batch_npi[ref]
        else:
            found = await (self.find_user_by_identifier("npi", ref) if ref.isdigit() else self.get_user(ref))
            if found is None:
                raise RegistryNotFoundError("supervisor: no registered user with this id or NPI")
            supervisor_id, supervisor_role = found.id, found.role
        if supervisor_role not in SUPERVISOR_ROLES:
            raise RegistryInputError("supervisor: must be a registered prescriber or pharmacist")
        return supervisor_id

    async def _require_user(self, user_id: str) -> EndUser:
        user = await self.get_user(user_id)
        if user is None:
            raise RegistryNotFoundError("user: no user with this id")
        return user

    async def set_user_status(self, user_id: str, status: UserStatus) -> EndUser:
        await self._require_user(user_id)
        await self._write([(sql.UPDATE_USER_STATUS, (status.value, user_id))])
        return await self._require_user(user_id)

    async def link_user(self, user_id: str, eds_id: str) -> EndUser:
        """Let the user be named through one more EDS (no-op if already linked)."""
        user = await self._require_user(user_id)
        eds = await self._require_eds(eds_id)
        if eds.status is EdsStatus.REVOKED:
            raise RegistryInputError("eds: the EDS is revoked")
        if eds_id not in user.eds_ids:
            await self._write([(sql.INSERT_USER_EDS, (user_id, eds_id))])
        return await self._require_user(user_id)

    async def add_supervision(self, delegate_id: str, supervisor: str) -> EndUser:
        """A new (pending) supervision of a delegate by a prescriber or pharmacist named by user id or NPI."""
        delegate = await self._require_user(delegate_id)
        if not delegate.role.is_delegate:
            raise RegistryInputError("supervisor: only delegates have supervisors")
        supervisor_id = await self._supervisor(supervisor, {})
        if supervisor_id == delegate_id:
            raise RegistryInputError("supervisor: a user cannot supervise themselves")
        if all(s.supervisor_id != supervisor_id for s in delegate.supervisions):
            await self._write([(sql.INSERT_SUPERVISION, (delegate_id, supervisor_id, utc_now()))])
        return await self._require_user(delegate_id)

    async def approve(self, delegate_id: str, side: ApprovalSide, *, by: str, supervisor_id: str = "") -> EndUser:
        """Record one side's approval of a delegate's supervision (``supervisor_id`` may be omitted when the
        delegate has one pending supervision). Approving twice from the same side keeps the first record."""
        delegate = await self._require_user(delegate_id)
        by = _text(by, "by", required=True)
        if supervisor_id:
            chosen = [s for s in delegate.supervisions if s.supervisor_id == supervisor_id]
            if not chosen:
                raise RegistryNotFoundError("supervisor: not a supervisor of this delegate")
        else:
            chosen = [s for s in delegate.supervisions if not s.approved]
            if not chosen:
                raise RegistryInputError("supervisor: the delegate has no supervision awaiting approval")
            if len(chosen) > 1:
                raise RegistryInputError("supervisor: several supervisions await approval; name the supervisor")
        statement = sql.APPROVE_BY_SUPERVISOR if side is ApprovalSide.SUPERVISOR else sql.APPROVE_BY_DIVISION
        await self._write([(statement, (by, utc_now(), delegate_id, chosen[0].supervisor_id))])
        return await self._require_user(delegate_id)


def _check_quota(quota: Quota | None) -> Quota | None:
    if quota is not None and (quota.rate < 1 or quota.per_seconds < 1 or quota.burst < 1):
        raise RegistryInputError("quota: rate, per_seconds and burst must be positive")
    return quota
