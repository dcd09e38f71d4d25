"""The latency the interstate fan-out adds: FHIR ``$pdmp-history`` at state A asking two healthy partner states (B over
FHIR, C over PMIX) against the same query at A for A only (``pdmp-states`` ``NONE``), same gateway, same people,
alternating runs in the same process tree. Three ``pmp-gateway serve`` processes on loopback, each with the demo
data (so each partner returns the person's fills too: the merged answer is three states' records), OAuth and audit
on everywhere, A's hub an OAuth client of B and C (``private_key_jwt``), registered with the CLI.

The baseline is the local-only query, so the ratio is what a user pays for the other states' records: the partner
calls run concurrently with A's own search, so the added latency is about one partner round trip (token cached,
connections kept alive) plus merging; on this 2-core box the three gateways share the CPU, so throughput under load
falls with the work every query now does three times.

    python -m bench.interstate --seconds 10 --connections 2
    python -m bench.interstate --quick        # smoke run: a second per run, one round
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import orjson

from bench.common import drive, free_port, load_rows, median_run, print_table, start_cli, stop
from bench.gateway import fetch_one, fetch_token
from bench.loadgen import LoadResult

NPI = "1928340565"
EHR_SCOPE = "system/MedicationDispense.rs pmp/ncpdp.history"
TAXONOMY = "208D00000X"  # what A tells its partners its prescribers are (gateway.interstate.taxonomy)
ACTIVITY_PERIOD = "http://hl7.org/fhir/us/pdmp/StructureDefinition/pdmp-activity-period-extension"
PATH = "/fhir/Patient/$pdmp-history"
HEADERS = {"Content-Type": "application/fhir+json", "Accept": "application/fhir+json"}
STATES = {"UT": None, "CO": "fhir", "NM": "pmix"}  # A, and how A asks each partner
HIGH = "100000000/60,burst=1000000"  # quotas nobody reaches: the bench measures, it is not refused
SETTINGS = {
    "PMP_STORE": "sqlite",
    "PMP_RATE_LIMIT_EDS": HIGH,
    "PMP_RATE_LIMIT_USER": HIGH,
    "PMP_RATE_LIMIT_STATE": HIGH,
    "PMP_REQUEST_BUDGET_SECONDS": "10",
}


@dataclasses.dataclass
class Gateway:
    state: str
    data: Path
    port: int
    proc: subprocess.Popen[str] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def _cli(gateway: Gateway, *args: str) -> Any:
    env = {**os.environ, "PMP_DATA_DIR": str(gateway.data), "PMP_STATE_CODE": gateway.state, **SETTINGS}
    out = subprocess.run([sys.executable, "-m", "pmpcli", *args, "--json"], env=env, capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(f"{gateway.state}: pmp-gateway {' '.join(args[:2])} failed: {out.stderr.strip()[-500:]}")
    return json.loads(out.stdout)


def register(gateways: dict[str, Gateway], root: Path) -> tuple[str, Any]:
    """B and C know A as a partner (A's hub is their OAuth client); A asks both for its prescribers' queries; A's
    EHR and prescriber. Returns the EHR's client id and key."""
    from gateway.auth.client_key import ClientKey

    a = gateways["UT"]
    hub = ClientKey.generate(kid="ut-hub-1")
    (root / "hub-key.json").write_text(json.dumps(hub.private_jwk()))
    (root / "hub-jwks.json").write_text(json.dumps(hub.jwks()))
    for state, protocol in STATES.items():
        if protocol is None:
            continue
        partner = gateways[state]
        eds = _cli(partner, "partners", "add", "UT", "--name", "UT PMP", "--taxonomy", TAXONOMY)["eds_id"]
        jwks = str(root / "hub-jwks.json")
        client = _cli(partner, "clients", "add", "--eds", eds, "--jwks", jwks, "--scope", "pmp/interstate")
        endpoint = f"{partner.base}/fhir" if protocol == "fhir" else f"{partner.base}/interstate/pmix"
        _cli(
            a,
            *("partners", "add", state, "--name", f"{state} PMP", "--taxonomy", TAXONOMY),
            *("--endpoint", endpoint, "--protocol", protocol, "--token-url", f"{partner.base}/oauth/token"),
            *("--client-id", client["client_id"], "--key-file", str(root / "hub-key.json")),
            *("--timeout", "5", "--default-for", "ROLE_PRESCRIBER"),
        )
    ehr = ClientKey.generate(kid="bench-1")
    (root / "ehr-jwks.json").write_text(json.dumps(ehr.jwks()))
    eds = _cli(a, "eds", "add", "--name", "Bench EHR", "--state", "UT")["id"]
    client = _cli(a, "clients", "add", "--eds", eds, "--jwks", str(root / "ehr-jwks.json"), "--scope", EHR_SCOPE)
    _cli(a, "users", "add", "--role", "prescriber", "--first", "ADAM", "--last", "AMSTER", "--npi", NPI, "--eds", eds)
    return client["client_id"], ehr


def bodies(truth: dict[str, Any], count: int, seed: int, *, local_only: bool) -> list[bytes]:
    """``$pdmp-history`` for demo people with a few fills; ``local_only`` adds ``pdmp-states`` NONE."""
    rng = random.Random(seed)
    people = [p for p in truth["people"] if 3 <= len(p["dispensations"]) <= 40]
    out = []
    for person in (people[rng.randrange(len(people))] for _ in range(count)):
        q = person["query"]
        parameters: list[dict[str, Any]] = [
            {
                "name": "patient",
                "extension": [{"url": ACTIVITY_PERIOD, "valuePeriod": {"start": truth["start"], "end": truth["end"]}}],
                "resource": {
                    "resourceType": "Patient",
                    "name": [{"family": q["last_name"], "given": [q["first_name"]]}],
                    "birthDate": q["birth_date"],
                    "gender": {"F": "female", "M": "male"}.get(q["gender"], "unknown"),
                    "address": [{"postalCode": q["zip"]}],
                },
            },
            {
                "name": "authorized-practitioner",
                "resource": {
                    "resourceType": "Practitioner",
                    "identifier": [{"system": "http://hl7.org/fhir/sid/us-npi", "value": NPI}],
                    "name": [{"family": "Amster", "given": ["Adam"]}],
                },
            },
        ]
        if local_only:
            parameters.append({"name": "pdmp-states", "valueCode": "NONE"})
        out.append(orjson.dumps({"resourceType": "Parameters", "parameter": parameters}))
    return out


def sources_of(answer: bytes) -> dict[str, int]:
    """MedicationDispense entries by ``meta.source`` (our records under our base URL)."""
    counts: dict[str, int] = {}
    for parameter in orjson.loads(answer)["parameter"]:
        if parameter["name"] == "pdmp-history-data":
            for entry in parameter["resource"]["entry"]:
                if entry["resource"]["resourceType"] == "MedicationDispense":
                    source = entry["resource"]["meta"]["source"]
                    counts[source] = counts.get(source, 0) + 1
    return counts


def partner_calls(a: Gateway) -> dict[str, float]:
    """A's partner call counters, ``state/outcome`` → calls."""
    import urllib.request

    with urllib.request.urlopen(f"{a.base}/metrics", timeout=10) as reply:
        text = reply.read().decode()
    found: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("pmp_gateway_partner_calls_total{"):
            labels, value = line.rsplit(" ", 1)
            parts = dict(p.split("=", 1) for p in labels[labels.index("{") + 1 : -1].split(","))
            found[f"{parts['state'].strip(chr(34))}/{parts['outcome'].strip(chr(34))}"] = float(value)
    return found


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--connections", type=int, default=2, help="at least 2 (wrk runs two threads)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating runs of each query")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 s runs, one round, no warm-up")
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.warmup, args.rounds = 1.0, 0.0, 1

    from bench.common import workdir

    root = Path(tempfile.mkdtemp(prefix="interstate-", dir=workdir()))
    gateways = {state: Gateway(state, root / state.lower(), free_port()) for state in STATES}
    for g in gateways.values():
        g.data.mkdir()
    client_id, key = register(gateways, root)
    fan_out: list[LoadResult] = []
    local: list[LoadResult] = []
    try:
        for g in gateways.values():  # serve loads the demo data into each empty store
            env = {"PMP_STATE_CODE": g.state, **SETTINGS}
            g.proc, _ = start_cli(g.data, "serve", "--port", str(g.port), env=env)
        a = gateways["UT"]
        truth = json.loads((a.data / "demo" / "ground-truth.json").read_text())
        both, alone = (bodies(truth, 200, args.seed, local_only=flag) for flag in (False, True))
        headers = {**HEADERS, "Authorization": f"Bearer {fetch_token(a.port, client_id, key)}"}
        merged_sample = fetch_one(a.port, (PATH, headers), both[0])
        local_sample = fetch_one(a.port, (PATH, headers), alone[0])
        for _ in range(max(1, args.rounds)):
            headers = {**HEADERS, "Authorization": f"Bearer {fetch_token(a.port, client_id, key)}"}  # 5-minute tokens
            # the CPU per request is that of all three gateways (the partners' work included)
            pids = [g.proc.pid for g in gateways.values() if g.proc is not None]
            fan_out.append(drive(a.port, (PATH, headers), both, args, *pids))
            local.append(drive(a.port, (PATH, headers), alone, args, *pids))
        calls = partner_calls(a)
    finally:
        stop(g.proc for g in gateways.values())
        shutil.rmtree(root, ignore_errors=True)
    report(args, fan_out, local, sources_of(merged_sample), sources_of(local_sample), calls)


def report(
    args: argparse.Namespace,
    fan_out: list[LoadResult],
    local: list[LoadResult],
    merged: dict[str, int],
    alone: dict[str, int],
    calls: dict[str, float],
) -> None:
    ours, base = median_run(fan_out), median_run(local)
    print_table(
        f"$pdmp-history at UT asking CO (FHIR) and NM (PMIX) against UT only (pdmp-states NONE), {args.connections} "
        f"connections, the median of {len(fan_out)} alternating runs; first answer: {sum(merged.values())} "
        f"MedicationDispense from {len(merged)} states against {sum(alone.values())}",
        load_rows(ours, base, "CPU per request, all 3 gateways"),
    )
    added = [f.percentile(0.5) - b.percentile(0.5) for f, b in zip(fan_out, local, strict=True)]
    print(f"  latency p50 added by the fan-out, run by run: {', '.join(f'{x:+.1f} ms' for x in added)}")
    print(f"  median p50 added: {statistics.median(added):+.1f} ms")
    outcomes = ", ".join(f"{k} {v:,.0f}" for k, v in sorted(calls.items()))
    # a call cut short when a measured run ends is "cancelled": not a partner's failure
    failed = sum(v for k, v in calls.items() if not k.endswith(("/complete", "/no-data", "/cancelled")))
    errors = sum(r.errors for r in (*fan_out, *local))
    print(f"  partner calls by outcome: {outcomes}")
    print(
        f"  partner calls that failed: {failed:,.0f}; failed or non-2xx answers: {errors}; load generator: {ours.tool}"
    )


if __name__ == "__main__":
    main()
