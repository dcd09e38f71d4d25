"""``pmp-gateway``: argument parsing and dispatch. Each command reads the same settings as ``serve``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from pydantic import ValidationError

from gateway.settings import Settings, load_settings
from pmpcli.audit import add_audit_parsers
from pmpcli.partners import add_partner_parsers
from pmpcli.registry import COMMANDS as REGISTRY_COMMANDS
from pmpcli.registry import add_registry_parsers
from pmpcli.suspend import add_suspension_parsers
from pmpcli.suspend import handles as suspension_handles


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pmp-gateway", description="State PMP interoperability gateway")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the gateway (and pmpdb in-process unless PMP_PMPDB_TARGET is set)")
    serve.add_argument("--host", help="listen address (default: setting host)")
    serve.add_argument("--port", type=int, help="listen port (default: setting port)")
    serve.add_argument("--workers", type=int, help="gateway processes sharing the port (default: setting workers)")
    serve.add_argument("--no-demo", action="store_true", help="never load demo data, even into an empty store")

    ingest = sub.add_parser("ingest", help="load ASAP 4.2 files into pmpdb (each file all or nothing)")
    ingest.add_argument("files", nargs="+", type=Path)
    ingest.add_argument("--json", action="store_true", help="print one JSON object per file")

    demo = sub.add_parser("demo-data", help="write realistic ASAP 4.2 demo files and their ground truth")
    demo.add_argument("--out", type=Path, required=True)
    demo.add_argument("--patients", type=int, default=200)
    demo.add_argument("--seed", type=int, default=0)

    pmpdb = sub.add_parser("pmpdb", help="run the pmpdb gRPC service alone (scaled-out deployments)")
    pmpdb.add_argument("--listen", help="host:port (default: setting pmpdb_listen)")

    drugs = sub.add_parser("drugs", help="the drug reference")
    drugs_sub = drugs.add_subparsers(dest="drugs_command", required=True)
    drugs_load = drugs_sub.add_parser("load", help="replace the drug reference with a CSV")
    drugs_load.add_argument("file", type=Path)

    token = sub.add_parser("token", help="get an access token from a running gateway with a client key file")
    token.add_argument("--client", type=Path, help="client key file (default: <data_dir>/demo/client.json)")
    token.add_argument("--url", default="", help="the gateway's base URL (default: http://<host>:<port>)")
    token.add_argument("--scope", help="space-separated scopes (default: the client file's)")

    add_registry_parsers(sub)  # eds, clients, users
    add_audit_parsers(sub)  # audit verify, accounting, usage, purge, hold
    add_suspension_parsers(sub)  # suspend, reinstate, suspensions; eds set-quota
    add_partner_parsers(sub)  # partners add, list, show, set, disable, enable
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings()
    except ValidationError as exc:
        print(f"pmp-gateway: invalid settings:\n{exc}", file=sys.stderr)
        return 2
    return _dispatch(args, settings)


def _dispatch(args: argparse.Namespace, settings: Settings) -> int:
    # Imports are per command so that `pmp-gateway ingest` does not pay for aiohttp and the reverse.
    if args.command == "serve":
        from pmpcli.serve import serve

        return serve(settings, host=args.host, port=args.port, workers=args.workers, demo=not args.no_demo)
    if args.command == "ingest":
        from pmpcli.ingest import ingest

        return ingest(settings, args.files, as_json=args.json)
    if args.command == "demo-data":
        from pmpcli.demo import demo_data

        return demo_data(args.out, patients=args.patients, seed=args.seed)
    if args.command == "pmpdb":
        from pmpcli.serve import serve_pmpdb

        return serve_pmpdb(settings, listen=args.listen)
    if args.command == "token":
        from pmpcli.token import token

        url = args.url or f"http://{settings.host}:{settings.port}"
        return token(args.client or settings.data_dir / "demo" / "client.json", url, args.scope)
    if args.command == "drugs":
        from pmpcli.drugs import drugs_load

        return drugs_load(settings, args.file)
    if suspension_handles(args):
        from pmpcli.suspend import run_suspension

        return run_suspension(args, settings)
    if args.command == "audit":
        from pmpcli.audit import run_audit

        return run_audit(args, settings)
    if args.command == "partners":
        from pmpcli.partners import run_partners

        return run_partners(args, settings)
    if args.command in REGISTRY_COMMANDS:
        from pmpcli.registry import run_registry

        return run_registry(args, settings)
    raise AssertionError(args.command)  # argparse rejects unknown commands first
