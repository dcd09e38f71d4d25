"""``pmp-gateway eds | clients | users``: the division's registry of EDSs, their OAuth clients and end users.

Every command takes ``--json`` (one JSON document on stdout; on failure ``{"error": …}``). Without it, ``add``
prints the new id (and, for ``clients add --secret``, the secret on a second line: shown this once only), ``list``
one line per record, ``show`` the record. Exit status: 0 done, 2 bad input (nothing changed), 1 the registry
cannot be reached. Errors are one line on stderr, never a traceback, and never echo an identifier.

The registry is the one ``serve`` uses: ``<PMP_DATA_DIR>/gateway.sqlite3``, or PostgreSQL with
``PMP_GATEWAY_STORE=postgres`` (``PMP_GATEWAY_POSTGRES_DSN`` else ``PMP_POSTGRES_DSN``; schema
``PMP_GATEWAY_POSTGRES_SCHEMA``).

``users import FILE.csv``: UTF-8, a header row, then one user per row. Columns (order free; the first four
required): ``role, first_name, last_name, eds`` and ``npi, dea, license, license_state, supervisor, expires,
status``. ``eds`` and ``supervisor`` may hold several values separated by spaces or ``;``; a supervisor is a user
id or an NPI (registered, or on an earlier row of the file). The file is imported in one transaction, all or
nothing; the report names each refused row by its number in the file (the header is row 1) and the rule it broke.
"""

from __future__ import annotations

import argparse
import csv
import getpass
import io
import sys
from collections.abc import Awaitable, Callable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from gateway.settings import Settings
from pmpcli.command import CommandError, open_registry, print_fields, print_json, run_command

if TYPE_CHECKING:
    from gateway.policy.registry import EndUser, NewUser, RegistryStore, RejectedRow

COMMANDS = frozenset({"eds", "clients", "users"})
ROLES = (
    "prescriber",
    "pharmacist",
    "licensed_delegate",
    "unlicensed_delegate",
    "law_enforcement",
    "regulator",
    "administrator",
)
CSV_COLUMNS = frozenset(
    {
        "role",
        "first_name",
        "last_name",
        "eds",
        "npi",
        "dea",
        "license",
        "license_state",
        "supervisor",
        "expires",
        "status",
    }
)
CSV_REQUIRED = ("role", "first_name", "last_name", "eds")
MAX_CSV_BYTES = 50 << 20


def _role(text: str) -> str:
    value = text.strip().lower().replace("-", "_")
    if value not in ROLES:
        raise argparse.ArgumentTypeError(f"unknown role (one of: {', '.join(ROLES)})")
    return value


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError("not a YYYY-MM-DD date") from None


def add_registry_parsers(sub: Any) -> None:
    """Register ``eds``, ``clients`` and ``users`` on the top-level subparsers."""
    out = argparse.ArgumentParser(add_help=False)
    out.add_argument("--json", action="store_true", help="print JSON")

    eds = sub.add_parser("eds", help="EDSs (electronic data systems) under agreement")
    eds_sub = eds.add_subparsers(dest="action", required=True)
    add = eds_sub.add_parser("add", parents=[out], help="register an EDS (active unless --pending); prints its id")
    add.add_argument("--name", required=True, help="organisation")
    add.add_argument("--agreement", default="", help="the data-use agreement's reference")
    add.add_argument("--state", default="", help="state of the EDS (USPS code)")
    add.add_argument("--contact", default="", help="technical or business contact")
    add.add_argument("--pending", action="store_true", help="register as pending, not yet active")
    eds_sub.add_parser("list", parents=[out], help="all EDSs")
    show = eds_sub.add_parser("show", parents=[out], help="one EDS and its clients")
    show.add_argument("id")

    clients = sub.add_parser("clients", help="OAuth clients of EDSs")
    clients_sub = clients.add_subparsers(dest="action", required=True)
    add = clients_sub.add_parser("add", parents=[out], help="register a client; prints its client_id")
    add.add_argument("--eds", required=True, help="the EDS id")
    how = add.add_mutually_exclusive_group(required=True)
    how.add_argument("--jwks", type=Path, help="file with the client's public JWK Set (private_key_jwt)")
    how.add_argument("--jwks-url", help="https URL of the client's JWK Set (private_key_jwt)")
    how.add_argument("--secret", action="store_true", help="generate a client secret (client_secret_basic)")
    add.add_argument("--scope", required=True, help='allowed scopes, space-separated: "system/MedicationDispense.rs"')
    listing = clients_sub.add_parser("list", parents=[out], help="clients (of one EDS with --eds)")
    listing.add_argument("--eds", help="only this EDS's clients")
    for action, text in (("show", "one client"), ("disable", "disable a client: it gets no more tokens")):
        parser = clients_sub.add_parser(action, parents=[out], help=text)
        parser.add_argument("client_id")

    users = sub.add_parser("users", help="registered end users")
    users_sub = users.add_subparsers(dest="action", required=True)
    add = users_sub.add_parser("add", parents=[out], help="register a user; prints its id")
    add.add_argument("--role", required=True, type=_role, help=", ".join(ROLES))
    add.add_argument("--first", required=True, help="first name")
    add.add_argument("--last", required=True, help="last name")
    add.add_argument("--npi", default="")
    add.add_argument("--dea", default="")
    add.add_argument("--license", default="", help="state licence (or credential) number")
    add.add_argument("--license-state", default="", help="the licence's state (default: setting state_code)")
    add.add_argument("--eds", action="append", required=True, help="an EDS the user may be named through (repeat)")
    add.add_argument("--supervisor", action="append", default=[], help="delegates: supervisor user id or NPI")
    add.add_argument("--expires", type=_date, help="registration expiry (YYYY-MM-DD)")
    add.add_argument("--pending", action="store_true", help="register as pending, not yet active")
    listing = users_sub.add_parser("list", parents=[out], help="users (filtered by --eds, --role)")
    listing.add_argument("--eds", help="only users linked to this EDS")
    listing.add_argument("--role", type=_role)
    show = users_sub.add_parser("show", parents=[out], help="one user, their EDSs and supervisions")
    show.add_argument("id")
    approve = users_sub.add_parser("approve", parents=[out], help="approve a delegate's supervision (one side)")
    approve.add_argument("id", help="the delegate's user id")
    approve.add_argument("--by", required=True, choices=("supervisor", "division"), help="which side approves")
    approve.add_argument("--supervisor", default="", help="which supervision, when several await approval")
    approve.add_argument("--actor", default="", help="who approves (default: the OS user)")
    link = users_sub.add_parser("link", parents=[out], help="let a user be named through one more EDS")
    link.add_argument("id")
    link.add_argument("--eds", required=True)
    imports = users_sub.add_parser("import", parents=[out], help="register users from a CSV file, all or nothing")
    imports.add_argument("file", type=Path)


def run_registry(args: argparse.Namespace, settings: Settings) -> int:
    """Run one registry command; the exit status."""
    from gateway.policy.registry import RegistryInputError, RegistryUnavailableError

    where = f"pmp-gateway {args.command} {args.action}"
    failures = (((RegistryInputError, CommandError), 2), (RegistryUnavailableError, 1))
    return run_command(_run(args, settings), args, where, failures)


async def _run(args: argparse.Namespace, settings: Settings) -> int:
    handler = _HANDLERS[(args.command, args.action)]
    async with open_registry(settings) as store:
        return await handler(store, args, settings)


def _show(args: argparse.Namespace, record: dict[str, Any]) -> None:
    if args.json:
        print_json(record)
    else:
        print_fields(record)


# ---- eds


async def _eds_add(store: RegistryStore, args: argparse.Namespace, settings: Settings) -> int:
    from gateway.policy.registry import EdsStatus

    status = EdsStatus.PENDING if args.pending else EdsStatus.ACTIVE
    eds = await store.add_eds(
        name=args.name, agreement=args.agreement, state=args.state, contact=args.contact, status=status
    )
    if args.json:
        print_json(eds.as_json())
    else:
        print(eds.id)
    return 0


async def _eds_list(store: RegistryStore, args: argparse.Namespace, settings: Settings) -> int:
    found = await store.list_eds()
    if args.json:
        print_json([e.as_json() for e in found])
    for e in [] if args.json else found:
        print(f"{e.id}\t{e.status.value}\t{e.state or '-'}\t{e.name}")
    return 0


async def _eds_show(store: RegistryStore, args: argparse.Namespace, settings: Settings) -> int:
    from gateway.policy.registry import RegistryNotFoundError

    eds = await store.get_eds(args.id)
    if eds is None:
        raise RegistryNotFoundError("no EDS with this id")
    clients = await store.list_clients(eds.id)
    _show(args, {**eds.as_json(), "clients": [c.client_id for c in clients]})
    return 0


# ---- clients


def _read_jwks(path: Path) -> object:
    try:
        data = path.read_bytes()
    except OSError:
        raise CommandError("cannot read the JWKS file") from None
    if len(data) > 1 << 20:
        raise CommandError("the JWKS file is larger than 1 MiB")
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        raise CommandError("the JWKS file is not JSON") from None


async def _clients_add(store: RegistryStore, args: argparse.Namespace, settings: Settings) -> int:
    jwks = _read_jwks(args.jwks) if args.jwks is not None else None
    issued = await store.add_client(
        args.eds, scope=args.scope, jwks=jwks, jwks_url=args.jwks_url or "", with_secret=args.secret
    )
    if args.json:
        record = issued.client.as_json()
        if issued.secret is not None:
            record["client_secret"] = issued.secret
        print_json(record)
    else:
        print(issued.client.client_id)
        if issued.secret is not None:
            print(issued.secret)
            print("the client secret is shown this once; the registry keeps only its hash", file=sys.stderr)
    return 0


async def _clients_list(store: RegistryStore, args: argparse.Namespace, settings: Settings) -> int:
    found = await store.list_clients(args.eds)
    if args.json:
        print_json([c.as_json() for c in found])
    for c in [] if args.json else found:
        print(f"{c.client_id}\t{c.eds_id}\t{c.status.value}\t{c.auth_method.value}\t{' '.join(sorted(c.scopes))}")
    return 0


async def _clients_show(store: RegistryStore, args: argparse.Namespace, settings: Settings) -> int:
    from gateway.policy.registry import RegistryNotFoundError

    client = await store.get_client(args.client_id)
    if client is None:
        raise RegistryNotFoundError("no client with this id")
    _show(args, client.as_json())
    return 0


async def _clients_disable(store: RegistryStore, args: argparse.Namespace, settings: Settings) -> int:
    client = await store.disable_client(args.client_id)
    _show(args, client.as_json())
    return 0


# ---- users


def _new_user(
    settings: Settings,
    *,
    role: str,
    first: str,
    last: str,
    eds: list[str],
    npi: str = "",
    dea: str = "",
    license_number: str = "",
    license_state: str = "",
    supervisors: list[str] | None = None,
    expires: date | None = None,
    pending: bool = False,
) -> NewUser:
    from gateway.policy.registry import NewUser, UserRole, UserStatus

    return NewUser(
        role=UserRole.parse(role),
        first_name=first,
        last_name=last,
        eds_ids=tuple(eds),
        npi=npi,
        dea=dea,
        state_license=license_number,
        license_state=license_state or (settings.state_code if license_number.strip() else ""),
        supervisor_ids=tuple(supervisors or ()),
        expires=expires,
        status=UserStatus.PENDING if pending else UserStatus.ACTIVE,
    )


async def _users_add(store: RegistryStore, args: argparse.Namespace, settings: Settings) -> int:
    new = _new_user(
        settings,
        role=args.role,
        first=args.first,
        last=args.last,
        eds=args.eds,
        npi=args.npi,
        dea=args.dea,
        license_number=args.license,
        license_state=args.license_state,
        supervisors=args.supervisor,
        expires=args.expires,
        pending=args.pending,
    )
    user = await store.add_user(new)
    if args.json:
        print_json(user.as_json())
    else:
        print(user.id)
        if user.role.is_delegate:
            print(
                "a delegate is usable once the supervisor and the division approve: "
                f"pmp-gateway users approve {user.id} --by supervisor|division",
                file=sys.stderr,
            )
    return 0


async def _users_list(store: RegistryStore, args: argparse.Namespace, settings: Settings) -> int:
    from gateway.policy.registry import UserRole

    found = await store.list_users(eds_id=args.eds, role=UserRole(args.role) if args.role else None)
    if args.json:
        print_json([u.as_json() for u in found])
    for u in [] if args.json else found:
        ident = u.npi or u.dea or f"{u.license_state}:{u.state_license}"
        print(f"{u.id}\t{u.role.value}\t{u.status.value}\t{ident}\t{u.last_name}, {u.first_name}")
    return 0


async def _users_show(store: RegistryStore, args: argparse.Namespace, settings: Settings) -> int:
    from gateway.policy.registry import RegistryNotFoundError

    user = await store.get_user(args.id)
    if user is None:
        raise RegistryNotFoundError("no user with this id")
    _show(args, user.as_json())
    return 0


async def _users_approve(store: RegistryStore, args: argparse.Namespace, settings: Settings) -> int:
    from gateway.policy.registry import ApprovalSide

    actor = args.actor or getpass.getuser()
    user = await store.approve(args.id, ApprovalSide(args.by), by=actor, supervisor_id=args.supervisor)
    _show(args, user.as_json())
    return 0


async def _users_link(store: RegistryStore, args: argparse.Namespace, settings: Settings) -> int:
    _show(args, (await store.link_user(args.id, args.eds)).as_json())
    return 0


def _split(value: str) -> list[str]:
    return value.replace(";", " ").split()


def _read_csv(path: Path, settings: Settings) -> tuple[list[tuple[int, NewUser]], list[RejectedRow]]:
    """(file row number, user) for the rows that parse, and the rows that do not."""
    from gateway.policy.registry import RejectedRow

    try:
        if path.stat().st_size > MAX_CSV_BYTES:
            raise CommandError("the CSV file is larger than 50 MiB")
        text = path.read_bytes().decode("utf-8-sig")
    except OSError:
        raise CommandError("cannot read the CSV file") from None
    except UnicodeDecodeError:
        raise CommandError("the CSV file is not UTF-8") from None
    reader = csv.DictReader(io.StringIO(text, newline=""), restkey="\x00extra")
    header = [h.strip().lower() for h in reader.fieldnames or []]
    if not header:
        raise CommandError("the CSV file has no header row")
    unknown = set(header) - CSV_COLUMNS
    missing = [c for c in CSV_REQUIRED if c not in header]
    if unknown or missing or len(set(header)) != len(header):
        raise CommandError(
            f"the CSV header must name columns among: {', '.join(sorted(CSV_COLUMNS))} "
            f"(required: {', '.join(CSV_REQUIRED)}; each once)"
        )
    reader.fieldnames = header
    parsed: list[tuple[int, NewUser]] = []
    rejected: list[RejectedRow] = []
    try:
        for raw in reader:
            row_number = reader.line_num  # the header is row 1 (rows with quoted line breaks: their last line)
            if "\x00extra" in raw:
                rejected.append(RejectedRow(row_number, "more fields than the header has columns"))
                continue
            values = {k: (v or "").strip() for k, v in raw.items()}
            try:
                role = _role(values.get("role", ""))
            except argparse.ArgumentTypeError:
                rejected.append(RejectedRow(row_number, f"role: one of {', '.join(ROLES)}"))
                continue
            expires = None
            if values.get("expires"):
                try:
                    expires = date.fromisoformat(values["expires"])
                except ValueError:
                    rejected.append(RejectedRow(row_number, "expires: not a YYYY-MM-DD date"))
                    continue
            status = values.get("status", "").lower() or "active"
            if status not in ("active", "pending"):
                rejected.append(RejectedRow(row_number, "status: active or pending"))
                continue
            new = _new_user(
                settings,
                role=role,
                first=values.get("first_name", ""),
                last=values.get("last_name", ""),
                eds=_split(values.get("eds", "")),
                npi=values.get("npi", ""),
                dea=values.get("dea", ""),
                license_number=values.get("license", ""),
                license_state=values.get("license_state", ""),
                supervisors=_split(values.get("supervisor", "")),
                expires=expires,
                pending=status == "pending",
            )
            parsed.append((row_number, new))
    except csv.Error:
        raise CommandError(f"the CSV file is malformed near row {reader.line_num}") from None
    return parsed, rejected


async def _users_import(store: RegistryStore, args: argparse.Namespace, settings: Settings) -> int:
    from gateway.policy.registry import RegistryImportError, RejectedRow

    parsed, rejected = _read_csv(args.file, settings)
    rows = [new for _, new in parsed]
    imported: list[EndUser] = []
    try:
        imported = await store.import_users(rows, dry_run=bool(rejected))
    except RegistryImportError as exc:
        rejected += [RejectedRow(parsed[r.row - 1][0], r.reason) for r in exc.rejected]
    rejected.sort(key=lambda r: r.row)
    report = {
        "file": str(args.file),
        "status": "rejected" if rejected else "imported",
        "imported": 0 if rejected else len(imported),
        "rejected": [{"row": r.row, "reason": r.reason} for r in rejected],
        "users": [] if rejected else [u.id for u in imported],
    }
    if args.json:
        print_json(report)
    elif rejected:
        print(f"rejected {args.file}: {len(rejected)} bad row(s); nothing imported", file=sys.stderr)
        for r in rejected:
            print(f"  row {r.row}: {r.reason}", file=sys.stderr)
    else:
        print(f"imported {len(imported)} user(s) from {args.file}")
    return 2 if rejected else 0


Handler = Callable[["RegistryStore", argparse.Namespace, Settings], Awaitable[int]]
_HANDLERS: dict[tuple[str, str], Handler] = {
    ("eds", "add"): _eds_add,
    ("eds", "list"): _eds_list,
    ("eds", "show"): _eds_show,
    ("clients", "add"): _clients_add,
    ("clients", "list"): _clients_list,
    ("clients", "show"): _clients_show,
    ("clients", "disable"): _clients_disable,
    ("users", "add"): _users_add,
    ("users", "list"): _users_list,
    ("users", "show"): _users_show,
    ("users", "approve"): _users_approve,
    ("users", "link"): _users_link,
    ("users", "import"): _users_import,
}
