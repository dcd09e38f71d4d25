"""``pmp-gateway partners``: the partner states this PMP exchanges with (issue 9).

- ``partners add STATE --name NAME [--taxonomy CODE …] [--require FIELD …] [--default-for ROLE …]
  [--endpoint URL --protocol pmix|fhir --token-url URL --client-id ID --key-file PATH [--scope S] [--timeout S]]
  [--agreement REF] [--contact TEXT]`` — registers the partner and the EDS (kind ``partner``) whose OAuth clients
  will be its hub: ``pmp-gateway clients add --eds <that EDS> --jwks FILE --scope pmp/interstate``. Prints the
  state and that EDS id.
- ``partners list``, ``partners show STATE [--history]``.
- ``partners set STATE …`` — the ``add`` options change what they name; ``--taxonomy``, ``--require`` and
  ``--default-for`` replace their list (``--no-taxonomies``, ``--no-required``, ``--no-default`` empty it);
  ``--no-outbound`` removes the outbound configuration, ``--outbound-off`` / ``--outbound-on`` pause and resume it.
- ``partners disable STATE`` / ``partners enable STATE`` — a disabled partner is neither answered nor asked
  (suspension, ``pmp-gateway suspend state STATE``, is the immediate, separate switch).

Inbound policy: ``--taxonomy`` lists the NUCC taxonomy codes of the requesters of that state we answer (none: we
answer none of them); ``--require`` the patient fields their requests must give (family, given, birth_date,
gender, postal_code, address). Outbound: how we ask their PMP — their endpoint and token URL, our client id there
and the file holding our private key (the database keeps its path only).

Every change takes ``--by NAME`` (default: the OS user) and ``--reason TEXT``; it is kept as a new version of the
partner's record (``show --history``) and recorded in the audit trail (``partner-add``, ``partner-set``,
``partner-disable``, ``partner-enable``). ``--json`` prints one JSON document (on failure ``{"error": …}``).
Exit status: 0 done, 2 bad input (nothing changed), 1 the registry cannot be reached — or the change was made but
the audit trail could not record it (said on stderr).
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gateway.settings import Settings
from pmpcli.command import CommandError, open_registry, print_fields, print_json, run_command

if TYPE_CHECKING:
    from gateway.interstate.partners import Outbound, Partner
    from gateway.policy.registry import PartnerRecord, RegistryStore

COMMAND = "partners"
PROTOCOLS = ("pmix", "fhir")
OUTBOUND_REQUIRED = ("endpoint", "protocol", "token_url", "client_id", "key_file")


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError("seconds, e.g. 2 or 1.5") from None
    if not 0 < value <= 60:
        raise argparse.ArgumentTypeError("more than 0 and at most 60 seconds")
    return value


def add_partner_parsers(sub: Any) -> None:
    """Register ``partners`` and its subcommands on the top-level subparsers."""
    out = argparse.ArgumentParser(add_help=False)
    out.add_argument("--json", action="store_true", help="print JSON")
    who = argparse.ArgumentParser(add_help=False)
    who.add_argument("--by", default="", help="who makes the change (default: the OS user)")
    who.add_argument("--reason", default="", help="why (recorded in the audit trail)")

    policy = argparse.ArgumentParser(add_help=False)
    policy.add_argument("--name", help="the partner's PMP (e.g. 'Nevada PMP')")
    policy.add_argument("--taxonomy", action="append", metavar="CODE", help="a NUCC taxonomy code we answer (repeat)")
    policy.add_argument("--require", action="append", metavar="FIELD", help="a patient field requests must give")
    policy.add_argument("--default-for", action="append", metavar="ROLE", help="our role whose queries ask them")
    policy.add_argument("--endpoint", help="their interstate endpoint (https)")
    policy.add_argument("--protocol", choices=PROTOCOLS, help="how they are asked")
    policy.add_argument("--token-url", help="their OAuth token endpoint")
    policy.add_argument("--client-id", help="our client id at their end")
    policy.add_argument("--key-file", type=Path, help="our private JWK (JSON) for the client assertion")
    policy.add_argument("--scope", help="scope asked at their end (default pmp/interstate)")
    policy.add_argument("--timeout", type=_seconds, help="seconds we wait for them (default 2)")

    partners = sub.add_parser(COMMAND, help="partner states: inbound policy and outbound configuration")
    partners_sub = partners.add_subparsers(dest="action", required=True)

    add = partners_sub.add_parser(
        "add", parents=[out, who, policy], help="register a partner state and its hub's EDS; prints both"
    )
    add.add_argument("state", help="USPS code")
    add.add_argument("--agreement", default="", help="the data-sharing agreement's reference")
    add.add_argument("--contact", default="", help="technical or business contact")

    partners_sub.add_parser("list", parents=[out], help="every partner state")
    show = partners_sub.add_parser("show", parents=[out], help="one partner (--history: every version)")
    show.add_argument("state")
    show.add_argument("--history", action="store_true", help="every version, oldest first")

    change = partners_sub.add_parser("set", parents=[out, who, policy], help="change a partner's record")
    change.add_argument("state")
    change.add_argument("--no-taxonomies", action="store_true", help="answer none of their requesters")
    change.add_argument("--no-required", action="store_true", help="require no patient field")
    change.add_argument("--no-default", action="store_true", help="ask them for no role by default")
    change.add_argument("--no-outbound", action="store_true", help="never ask them (remove the outbound part)")
    switch = change.add_mutually_exclusive_group()
    switch.add_argument("--outbound-off", action="store_true", help="pause asking them")
    switch.add_argument("--outbound-on", action="store_true", help="resume asking them")

    for action, text in (("disable", "no traffic either way"), ("enable", "traffic again")):
        parser = partners_sub.add_parser(action, parents=[out, who], help=text)
        parser.add_argument("state")


def run_partners(args: argparse.Namespace, settings: Settings) -> int:
    """Run one ``partners`` command; the exit status."""
    from gateway.audit import AuditUnavailableError
    from gateway.policy.registry import RegistryInputError, RegistryUnavailableError

    where = f"pmp-gateway partners {args.action}"
    failures = (((RegistryInputError, CommandError), 2), (RegistryUnavailableError, 1))
    try:
        return run_command(_run(args, settings), args, where, failures)
    except AuditUnavailableError as exc:
        print(f"{where}: the change is made but the audit trail could not record it: {exc}", file=sys.stderr)
        return 1


def _who(args: argparse.Namespace) -> str:
    if args.by:
        return str(args.by)
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"


async def _run(args: argparse.Namespace, settings: Settings) -> int:
    async with open_registry(settings) as store:
        if args.action == "list":
            return await _list(store, args)
        if args.action == "show":
            return await _show(store, args)
        if args.action == "add":
            record = await _add(store, args, settings)
        elif args.action == "set":
            record = await store.update_partner(args.state, _edit(args, settings), by=_who(args))
        else:
            from gateway.interstate.partners import PartnerStatus

            status = PartnerStatus.ACTIVE if args.action == "enable" else PartnerStatus.DISABLED
            record = await store.set_partner_status(args.state, status, by=_who(args))
    _print_record(args, record)
    await _record_in_audit(settings, args, record)
    return 0


# ---- reading


async def _list(store: RegistryStore, args: argparse.Namespace) -> int:
    found = await store.list_partners()
    if args.json:
        print_json([r.as_json() for r in found])
        return 0
    for r in found:
        p = r.partner
        out = f"{p.outbound.protocol.value} {p.outbound.endpoint}" if p.outbound else "-"
        paused = " (paused)" if p.outbound is not None and not p.outbound.enabled else ""
        print(f"{p.state}\t{p.status.value}\t{p.eds_id}\t{out}{paused}\t{p.name}")
    return 0


async def _show(store: RegistryStore, args: argparse.Namespace) -> int:
    from gateway.policy.registry import RegistryNotFoundError

    record = await store.get_partner(args.state)
    if record is None:
        raise RegistryNotFoundError("state: not a registered partner")
    shown: dict[str, Any] = record.as_json()
    if args.history:
        shown["history"] = [v.as_json() for v in await store.partner_history(args.state)]
    if args.json:
        print_json(shown)
    else:
        print_fields(shown)
    return 0


def _print_record(args: argparse.Namespace, record: PartnerRecord) -> None:
    p = record.partner
    if args.json:
        print_json(record.as_json())
        return
    if args.action == "add":
        print(f"{p.state}\t{p.eds_id}")
        print(
            f"register the hub's OAuth client: pmp-gateway clients add --eds {p.eds_id} --jwks FILE"
            " --scope pmp/interstate",
            file=sys.stderr,
        )
        if not p.inbound.allowed_taxonomies:
            print("no --taxonomy: none of that state's requesters will be answered", file=sys.stderr)
    else:
        print(f"{p.state}\t{p.status.value}\tversion {record.version}")


# ---- changing


def _check_key_file(path: Path) -> Path:
    """The key file as an absolute path, after checking that it holds a usable private key."""
    from gateway.interstate.answer import PartnerCallError
    from gateway.interstate.credentials import AssertionKey

    resolved = path.expanduser().resolve()
    try:
        AssertionKey.load(resolved)
    except PartnerCallError as exc:
        raise CommandError(f"--key-file: {exc}") from None
    return resolved


def _outbound(args: argparse.Namespace, current: Outbound | None) -> Outbound | None:
    """The outbound configuration ``args`` describe over ``current`` (None: they describe none)."""
    from gateway.interstate.partners import Outbound, PartnerProtocol

    given = {
        "endpoint": args.endpoint,
        "protocol": PartnerProtocol(args.protocol) if args.protocol else None,
        "token_url": args.token_url,
        "client_id": args.client_id,
        "key_file": _check_key_file(args.key_file) if args.key_file is not None else None,
        "scope": args.scope,
        "timeout_seconds": args.timeout,
    }
    changes = {k: v for k, v in given.items() if v is not None}
    if current is not None:
        return replace(current, **changes) if changes else current
    if not changes:
        return None
    missing = [f"--{name.replace('_', '-')}" for name in OUTBOUND_REQUIRED if name not in changes]
    if missing:
        raise CommandError(f"an outbound configuration also needs {', '.join(missing)}")
    return Outbound(**changes)


async def _add(store: RegistryStore, args: argparse.Namespace, settings: Settings) -> PartnerRecord:
    from gateway.interstate.partners import InboundPolicy

    if not args.name:
        raise CommandError("--name is required")
    if args.state.strip().upper() == settings.state_code.upper():
        raise CommandError("state: this PMP's own state cannot be its partner")
    return await store.add_partner(
        args.state,
        name=args.name,
        inbound=InboundPolicy(frozenset(args.taxonomy or ()), frozenset(args.require or ())),
        outbound=_outbound(args, None),
        default_for_roles=args.default_for or (),
        agreement=args.agreement,
        contact=args.contact,
        by=_who(args),
    )


def _edit(args: argparse.Namespace, settings: Settings) -> Callable[[Partner], Partner]:
    """The change ``partners set`` asks for, as a function of the current record (applied by the store)."""
    for flag, clear in (("taxonomy", "no_taxonomies"), ("require", "no_required"), ("default_for", "no_default")):
        if getattr(args, flag) and getattr(args, clear):
            raise CommandError(f"--{flag.replace('_', '-')} and --{clear.replace('_', '-')} contradict each other")
    outbound_given = any(getattr(args, name) is not None for name in (*OUTBOUND_REQUIRED, "scope", "timeout"))
    if args.no_outbound and (outbound_given or args.outbound_on or args.outbound_off):
        raise CommandError("--no-outbound takes no other outbound option")

    def edit(partner: Partner) -> Partner:
        inbound = partner.inbound
        if args.taxonomy or args.no_taxonomies:
            inbound = replace(inbound, allowed_taxonomies=frozenset(args.taxonomy or ()))
        if args.require or args.no_required:
            inbound = replace(inbound, required_patient_fields=frozenset(args.require or ()))
        roles = partner.default_for_roles
        if args.default_for or args.no_default:
            roles = frozenset(args.default_for or ())
        outbound = None if args.no_outbound else _outbound(args, partner.outbound)
        if outbound is not None and (args.outbound_on or args.outbound_off):
            outbound = replace(outbound, enabled=bool(args.outbound_on))
        elif outbound is None and (args.outbound_on or args.outbound_off):
            raise CommandError("the partner has no outbound configuration to pause or resume")
        return replace(
            partner, name=args.name or partner.name, inbound=inbound, outbound=outbound, default_for_roles=roles
        )

    return edit


async def _record_in_audit(settings: Settings, args: argparse.Namespace, record: PartnerRecord) -> None:
    """The change in the disclosure audit trail, as the division's act (``partner-<action>``)."""
    from gateway.audit import AuditConfig, admin_record
    from gateway.policy.registry.partners import partner_json

    store = AuditConfig.from_settings(settings).make_store()
    await store.open()
    try:
        detail = {"partner": partner_json(record.partner), "version": record.version, "reason": args.reason}
        await store.append([admin_record(f"partner-{args.action}", actor=f"cli:{_who(args)}", detail=detail)])
    finally:
        await store.close()
