"""What the division's commands (registry, partners, suspensions, audit) share: the registry they open, JSON on
stdout, a record shown as ``key: value`` lines, and a failure as one line on stderr (``{"error": …}`` with
``--json``) with its exit status — never a traceback."""

from __future__ import annotations

import argparse
import sys
from collections.abc import AsyncIterator, Coroutine, Sequence
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import orjson

from gateway.settings import Settings
from pmpcli.loop import run

if TYPE_CHECKING:
    from gateway.policy.registry import RegistryStore

# (the exceptions, the exit status they give), first match wins
Failures = Sequence[tuple[type[Exception] | tuple[type[Exception], ...], int]]


class CommandError(Exception):
    """Bad input found by the CLI itself (a file it cannot read, options that contradict each other): exit 2."""


def run_command(main: Coroutine[Any, Any, int], args: argparse.Namespace, where: str, failures: Failures) -> int:
    """Run one command's coroutine; its exit status, or that of the first of ``failures`` its exception is."""
    try:
        return run(main)
    except Exception as exc:
        for kinds, status in failures:
            if isinstance(exc, kinds):
                return fail(args, where, str(exc), status)
        raise


def fail(args: argparse.Namespace, where: str, message: str, status: int) -> int:
    """Say what failed (``where: message`` on stderr; with ``--json`` also ``{"error": message}``); ``status``."""
    if getattr(args, "json", False):
        print_json({"error": message})
    print(f"{where}: {message}", file=sys.stderr)
    return status


def print_json(value: object) -> None:
    sys.stdout.write(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode() + "\n")


def print_fields(record: dict[str, Any]) -> None:
    """One ``key: value`` line per field; lists and objects as compact JSON."""
    for key, value in record.items():
        if isinstance(value, list | dict):
            value = orjson.dumps(value).decode()
        print(f"{key}: {'' if value is None else value}")


@asynccontextmanager
async def open_registry(settings: Settings) -> AsyncIterator[RegistryStore]:
    """The registry ``serve`` uses (SQLite in the data directory, or the gateway's PostgreSQL schema), open."""
    from gateway.policy.registry import make_registry

    store = make_registry(
        settings.gateway_store,
        data_dir=settings.data_dir,
        postgres_dsn=settings.gateway_dsn,
        postgres_schema=settings.gateway_postgres_schema,
    )
    await store.open()
    try:
        yield store
    finally:
        await store.close()
