"""``pmp-gateway audit``: the disclosure audit trail — check it, report from it, purge it, hold records.

- ``audit verify [--json]`` — check the hash chain; name the first bad record. Prints the head (seq and hash):
  keep it elsewhere to anchor the chain.
- ``audit accounting --last L --dob D [--first F] [--patient-id P] [--from D --to D] [--include-refused] [--json]``
  — the accounting of disclosures for one individual (records under an investigation hold left out, and said so).
  Reading it is itself recorded in the trail, with ``--reason``.
- ``audit usage [--from D --to D] [--format json|csv]`` — requests and outcomes per user, EDS, partner state, day.
- ``audit purge [--before D] [--json]`` — delete records made before ``D`` (default: the retention period, 6 years,
  ago; never later than that) and write a checkpoint record; the chain must verify first.
- ``audit hold add (--patient-id P | --case-number C) --until D [--reason R]``, ``hold remove ID``,
  ``hold list [--active] [--json]`` — investigation holds; adding and removing one is recorded in the trail.

The trail is the one ``serve`` writes: ``<PMP_DATA_DIR>/audit.sqlite3``, or the gateway's PostgreSQL schema with
``PMP_GATEWAY_STORE=postgres``. Exit status: 0 done, 2 bad input (nothing changed), 1 the database cannot be
reached, 3 the chain does not verify. Errors are one line on stderr, never a traceback, never PHI.
"""

from __future__ import annotations

import argparse
import csv
import getpass
import sys
from datetime import date
from typing import TYPE_CHECKING, Any

from gateway.settings import Settings
from pmpcli.command import open_registry, print_json, run_command

if TYPE_CHECKING:
    from gateway.audit import AuditStore

EXIT_BROKEN = 3


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError("not a YYYY-MM-DD date") from None


def add_audit_parsers(sub: Any) -> None:
    """Register ``audit`` and its subcommands on the top-level subparsers."""
    out = argparse.ArgumentParser(add_help=False)
    out.add_argument("--json", action="store_true", help="print JSON")
    period = argparse.ArgumentParser(add_help=False)
    period.add_argument("--from", dest="start", type=_date, help="first day (YYYY-MM-DD, UTC)")
    period.add_argument("--to", dest="end", type=_date, help="last day (YYYY-MM-DD, UTC)")

    audit = sub.add_parser("audit", help="the disclosure audit trail: verify, accounting, usage, purge, holds")
    audit_sub = audit.add_subparsers(dest="action", required=True)
    audit_sub.add_parser("verify", parents=[out], help="check the hash chain; name the first bad record")

    accounting = audit_sub.add_parser(
        "accounting", parents=[out, period], help="accounting of disclosures for one individual"
    )
    accounting.add_argument("--last", default="", help="last name")
    accounting.add_argument("--first", default="", help="first name (optional)")
    accounting.add_argument("--dob", default="", help="birth date (YYYY-MM-DD)")
    accounting.add_argument("--patient-id", default="", help="a matched patient id (pmpdb's)")
    accounting.add_argument("--include-refused", action="store_true", help="list refused requests too")
    accounting.add_argument("--reason", default="", help="why the accounting is read (recorded in the trail)")

    usage = audit_sub.add_parser("usage", parents=[period], help="requests and outcomes per user, EDS, state, day")
    usage.add_argument("--format", choices=("json", "csv"), default="json")

    purge = audit_sub.add_parser("purge", parents=[out], help="delete records past retention; write a checkpoint")
    purge.add_argument("--before", type=_date, help="delete records made before this day (default: retention)")

    hold = audit_sub.add_parser("hold", help="investigation holds")
    hold_sub = hold.add_subparsers(dest="hold_action", required=True)
    add = hold_sub.add_parser("add", parents=[out], help="withhold records from accountings until a date")
    key = add.add_mutually_exclusive_group(required=True)
    key.add_argument("--patient-id", default="", help="every record about this matched patient id")
    key.add_argument("--case-number", default="", help="every record made under this case number")
    add.add_argument("--until", type=_date, required=True, help="last day of the hold (YYYY-MM-DD)")
    add.add_argument("--reason", default="", help="why (recorded)")
    remove = hold_sub.add_parser("remove", parents=[out], help="end a hold now")
    remove.add_argument("id")
    remove.add_argument("--reason", default="", help="why (recorded)")
    listing = hold_sub.add_parser("list", parents=[out], help="holds (in force today with --active)")
    listing.add_argument("--active", action="store_true")


def run_audit(args: argparse.Namespace, settings: Settings) -> int:
    """Run one audit command; the exit status."""
    from gateway.audit import AuditInputError, AuditIntegrityError, AuditUnavailableError
    from gateway.policy.registry import RegistryUnavailableError

    where = f"pmp-gateway audit {args.action}"
    failures = (
        (AuditInputError, 2),
        (AuditIntegrityError, EXIT_BROKEN),
        ((AuditUnavailableError, RegistryUnavailableError), 1),
    )
    return run_command(_run(args, settings), args, where, failures)


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (OSError, KeyError):
        return "cli:unknown"


async def _run(args: argparse.Namespace, settings: Settings) -> int:
    from gateway.audit import AuditConfig

    config = AuditConfig.from_settings(settings)
    store = config.make_store()
    await store.open()
    try:
        if args.action == "verify":
            return await _verify(store, args)
        if args.action == "accounting":
            return await _accounting(store, args, settings)
        if args.action == "usage":
            return await _usage(store, args)
        if args.action == "purge":
            return await _purge(store, args, config.retention_years)
        return await _hold(store, args)
    finally:
        await store.close()


async def _verify(store: AuditStore, args: argparse.Namespace) -> int:
    from gateway.audit import verify

    result = await verify(store)
    if args.json:
        print_json(result.as_json())
    else:
        print(result.summary(), file=sys.stdout if result.ok else sys.stderr)
    return 0 if result.ok else EXIT_BROKEN


async def _accounting(store: AuditStore, args: argparse.Namespace, settings: Settings) -> int:
    from gateway.audit import Subject, accounting
    from gateway.audit.reports import access_record

    subject = Subject(last=args.last, first=args.first, dob=args.dob, patient_id=args.patient_id).checked()
    async with open_registry(settings) as registry:
        found = await accounting(
            store, subject, start=args.start, end=args.end, registry=registry, include_refused=args.include_refused
        )
    await store.append([access_record(subject, actor=_actor(), reason=args.reason, count=len(found.disclosures))])
    if args.json:
        print_json(found.as_json())
        return 0
    for d in found.disclosures:
        behalf = f" for {d.on_behalf_of}" if d.on_behalf_of else ""
        span = f"{d.date_range[0] or '…'}..{d.date_range[1] or '…'}"
        print(
            f"{d.when}\t{d.role or '-'}\t{d.requester or '-'}{behalf}\t{d.eds or d.eds_id or '-'}\t{span}\t{d.outcome}"
        )
    if not found.disclosures:
        print("no disclosures in the period")
    if found.withheld:
        print(found.as_json()["note"])
    return 0


async def _usage(store: AuditStore, args: argparse.Namespace) -> int:
    from gateway.audit import usage

    report = await usage(store, start=args.start, end=args.end)
    if args.format == "csv":
        out = csv.writer(sys.stdout, lineterminator="\n")
        out.writerow(("dimension", "key", "outcome", "count"))
        out.writerows(report.csv_rows())
    else:
        print_json(report.as_json())
    return 0


async def _purge(store: AuditStore, args: argparse.Namespace, retention_years: int) -> int:
    from gateway.audit import AuditInputError, AuditIntegrityError, retention_cutoff, verify

    cutoff = retention_cutoff(date.today(), retention_years)
    before = args.before or cutoff
    if before > cutoff:
        raise AuditInputError(f"--before: records are kept {retention_years} years (purge before {cutoff} at most)")
    checked = await verify(store)
    if not checked.ok:
        raise AuditIntegrityError(f"the chain does not verify ({checked.summary()}): nothing purged")
    result = await store.purge(before, actor=_actor())
    if args.json:
        print_json({"before": before.isoformat(), **result.as_json()})
    elif result.purged:
        print(
            f"purged {result.purged} record(s) through {result.purged_through_seq}; checkpoint {result.checkpoint_seq}"
        )
    else:
        print("nothing to purge")
    if result.kept_for_hold:
        print("some records past retention are kept: they are under an investigation hold", file=sys.stderr)
    return 0


async def _hold(store: AuditStore, args: argparse.Namespace) -> int:
    from gateway.audit import admin_record

    if args.hold_action == "list":
        holds = await store.list_holds(active_on=date.today() if args.active else None)
        if args.json:
            print_json([h.as_json() for h in holds])
        for h in [] if args.json else holds:
            key = f"patient:{h.patient_id}" if h.patient_id else f"case:{h.case_number}"
            print(f"{h.id}\t{key}\tuntil {h.until.isoformat()}\t{h.created_by}\t{h.reason}")
        return 0
    actor = _actor()
    if args.hold_action == "add":
        hold = await store.add_hold(
            patient_id=args.patient_id,
            case_number=args.case_number,
            until=args.until,
            reason=args.reason,
            created_by=actor,
        )
        operation = "hold-add"
    else:
        hold = await store.remove_hold(args.id)
        operation = "hold-remove"
    await store.append([admin_record(operation, actor=actor, detail={"hold": hold.as_json(), "reason": args.reason})])
    if args.json:
        print_json(hold.as_json())
    else:
        print(hold.id)
    return 0
