"""``pmp-gateway suspend | reinstate | suspensions`` and ``pmp-gateway eds set-quota``.

- ``suspend eds|client|user|state ID --reason TEXT [--until TIME] [--by NAME]``: prints the suspension id. ``ID``
  is the registry id of the EDS, client or user (it must be registered), or a USPS state code. ``--until``: an
  ISO-8601 time (naive = UTC), a date, or a duration (``90m``, ``12h``, ``7d``). ``--by``: who (default: the OS user).
- ``reinstate SUSPENSION_ID --reason TEXT [--by NAME]``.
- ``suspensions [--all]``: the suspensions in force (``--all``: every record, newest first, with its status).
- ``eds set-quota EDS_ID --rate N --per SECONDS --burst N [--shadow]`` (or ``--clear``: the default applies again).

Every command takes ``--json`` (one JSON document on stdout; on failure ``{"error": …}``). Exit status: 0 done, 2 bad
input (nothing changed), 1 the store cannot be reached.

Where: with ``PMP_REDIS_URL`` the change goes to the gateway database (the durable journal) and then to Redis,
which pushes it to every replica at once; without it, to the gateway database (``<PMP_DATA_DIR>/gateway.sqlite3``, or
PostgreSQL with ``PMP_GATEWAY_STORE=postgres``), which a running ``serve`` checks every
``suspension_check_seconds``. Either way every replica applies it within a second.
"""

from __future__ import annotations

import argparse
import getpass
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from gateway.settings import Settings
from pmpcli.command import CommandError, open_registry, print_json, run_command

if TYPE_CHECKING:
    from gateway.policy.suspension import Suspension, SuspensionStore

COMMANDS = frozenset({"suspend", "reinstate", "suspensions"})
KINDS = ("eds", "client", "user", "state")


def add_suspension_parsers(sub: Any) -> None:
    """Register ``suspend``, ``reinstate`` and ``suspensions`` on the top-level subparsers, and ``set-quota`` under
    the registry's ``eds`` command (call after ``add_registry_parsers``)."""
    out = argparse.ArgumentParser(add_help=False)
    out.add_argument("--json", action="store_true", help="print JSON")

    suspend = sub.add_parser("suspend", parents=[out], help="suspend an EDS, client, end user or partner state now")
    suspend.add_argument("kind", choices=KINDS)
    suspend.add_argument("id", help="registry id (EDS, client, user) or USPS state code")
    suspend.add_argument("--reason", required=True, help="why (kept in the suspension's history)")
    suspend.add_argument("--until", help="end time: ISO-8601, a date, or a duration such as 12h or 7d")
    suspend.add_argument("--by", default="", help="who suspends (default: the OS user)")

    reinstate = sub.add_parser("reinstate", parents=[out], help="end a suspension now")
    reinstate.add_argument("id", help="the suspension id (sus_…)")
    reinstate.add_argument("--reason", required=True, help="why (kept in the suspension's history)")
    reinstate.add_argument("--by", default="", help="who reinstates (default: the OS user)")

    listing = sub.add_parser("suspensions", parents=[out], help="suspensions in force (--all: the whole history)")
    listing.add_argument("--all", action="store_true", help="every record, newest first, with its status")

    eds = sub.choices["eds"]
    eds_sub = next(a for a in eds._actions if isinstance(a, argparse._SubParsersAction))
    quota = eds_sub.add_parser("set-quota", parents=[out], help="an EDS's own rate-limit quota")
    quota.add_argument("id", help="the EDS id")
    quota.add_argument("--rate", type=int, help="requests per --per seconds")
    quota.add_argument("--per", type=int, help="seconds")
    quota.add_argument("--burst", type=int, help="requests allowed back to back")
    quota.add_argument("--shadow", action="store_true", help="count and report only, never refuse (dark launch)")
    quota.add_argument("--clear", action="store_true", help="remove the EDS's quota: the default applies")


def handles(args: argparse.Namespace) -> bool:
    """Whether ``args`` is one of this module's commands (``eds set-quota`` included)."""
    return args.command in COMMANDS or (args.command == "eds" and getattr(args, "action", "") == "set-quota")


def run_suspension(args: argparse.Namespace, settings: Settings) -> int:
    """Run one command; the exit status."""
    from gateway.policy.ratelimit import QuotaSyntaxError
    from gateway.policy.registry import RegistryInputError, RegistryUnavailableError
    from gateway.policy.suspension import SuspensionInputError, SuspensionUnavailableError

    where = f"pmp-gateway {args.command}" + (f" {args.action}" if args.command == "eds" else "")
    failures = (
        ((SuspensionInputError, RegistryInputError, QuotaSyntaxError, CommandError), 2),
        ((SuspensionUnavailableError, RegistryUnavailableError), 1),
    )
    return run_command(_run(args, settings), args, where, failures)


@asynccontextmanager
async def _suspensions(settings: Settings) -> AsyncIterator[SuspensionStore]:
    import redis.asyncio as aioredis

    from gateway.policy.suspension import make_suspension_store

    redis = (
        aioredis.from_url(settings.redis_url, socket_connect_timeout=2.0, socket_timeout=2.0)
        if settings.redis_url
        else None
    )
    store = make_suspension_store(settings, redis)
    try:
        await store.open()
        try:
            yield store
        finally:
            await store.close()
    finally:
        if redis is not None:
            await redis.aclose()


async def _run(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "eds":
        return await _set_quota(args, settings)
    if args.command == "suspend":
        return await _suspend(args, settings)
    if args.command == "reinstate":
        return await _reinstate(args, settings)
    return await _list(args, settings)


async def _check_registered(settings: Settings, kind: str, target: str) -> None:
    from gateway.policy.suspension import SuspensionNotFoundError

    if kind == "state":
        return
    async with open_registry(settings) as registry:
        if kind == "eds":
            found: object = await registry.get_eds(target)
        elif kind == "client":
            found = await registry.get_client(target)
        else:
            found = await registry.get_user(target)
    if found is None:
        raise SuspensionNotFoundError(f"no registered {kind} with this id")


async def _suspend(args: argparse.Namespace, settings: Settings) -> int:
    from gateway.policy.suspension import SuspensionKind, actions, parse_until
    from gateway.policy.suspension.model import normalize_target

    now = datetime.now(UTC)
    kind = SuspensionKind.parse(args.kind)
    target = normalize_target(kind, args.id)
    until = parse_until(args.until, now) if args.until else None
    await _check_registered(settings, kind.value, target)
    async with _suspensions(settings) as store:
        record = await actions.suspend(
            store, kind, target, reason=args.reason, by=args.by or getpass.getuser(), until=until, now=now
        )
    _show(args, record)
    return 0


async def _reinstate(args: argparse.Namespace, settings: Settings) -> int:
    from gateway.policy.suspension import actions

    async with _suspensions(settings) as store:
        record = await actions.reinstate(
            store, args.id, by=args.by or getpass.getuser(), reason=args.reason, now=datetime.now(UTC)
        )
    _show(args, record)
    return 0


def _show(args: argparse.Namespace, record: Suspension) -> None:
    if args.json:
        print_json(record.as_json(datetime.now(UTC).timestamp()))
    elif record.reinstated:
        print(f"reinstated {record.id}")
    else:
        print(record.id)


async def _list(args: argparse.Namespace, settings: Settings) -> int:
    now = datetime.now(UTC).timestamp()
    async with _suspensions(settings) as store:
        if args.all:
            records = await store.history(100_000)
        else:
            snapshot = await store.snapshot()
            records = sorted(
                (r for r in snapshot.suspensions if r.in_force(now)), key=lambda r: (r.at, r.id), reverse=True
            )
    if args.json:
        print_json([r.as_json(now) for r in records])
        return 0
    for r in records:
        print(f"{r.id}\t{r.status(now)}\t{r.kind.value}\t{r.target}\t{r.at}\t{r.until or '-'}\t{r.by}\t{r.reason}")
    return 0


async def _set_quota(args: argparse.Namespace, settings: Settings) -> int:
    from gateway.policy.ratelimit import quota_text
    from gateway.policy.registry import Quota

    if args.clear:
        if args.rate is not None or args.per is not None or args.burst is not None or args.shadow:
            raise CommandError("--clear takes no --rate, --per, --burst or --shadow")
        quota = None
    else:
        if args.rate is None or args.per is None or args.burst is None:
            raise CommandError("give --rate, --per and --burst (or --clear)")
        quota = Quota(args.rate, args.per, args.burst, args.shadow)
    async with open_registry(settings) as registry:
        eds = await registry.set_eds_quota(args.id, quota)
    if args.json:
        print_json(eds.as_json())
    else:
        print(f"{eds.id}\t{quota_text(eds.quota)}")
    return 0
