"""``pmp-gateway ingest FILE…``: each file all or nothing, a report per file, exit 1 if any was rejected."""

from __future__ import annotations

import sys
from functools import partial
from pathlib import Path

import orjson
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn, TransferSpeedColumn

from gateway.settings import Settings
from pmpcli.loop import run
from pmpcli.stores import open_store
from pmpdb.ingest import IngestReport, ingest_path


async def _ingest_all(settings: Settings, files: list[Path], show_progress: bool) -> list[IngestReport]:
    store = await open_store(settings)
    reports: list[IngestReport] = []
    try:
        for path in files:
            if not show_progress:
                reports.append(await ingest_path(store, path))
                continue
            with Progress(
                "[progress.description]{task.description}",
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                TimeRemainingColumn(),
                transient=True,
            ) as bar:
                task = bar.add_task(path.name, total=path.stat().st_size)
                reports.append(await ingest_path(store, path, progress=partial(bar.advance, task)))
    finally:
        await store.close()
    return reports


def _print_human(console: Console, report: IngestReport) -> None:
    data = report.as_json()
    if report.rejected:
        console.print(f"[bold red]rejected[/] {report.file}: {len(report.errors)} error(s); nothing loaded")
        for e in data["errors"][:50]:
            console.print(f"  segment {e['segment_number']} {e['segment']} {e['field']}: {e['reason']}")
        return
    verb = "already ingested" if report.already_ingested else "accepted"
    console.print(
        f"[bold green]{verb}[/] {report.file}: {data['accepted']} new, {data['revised']} revised, "
        f"{data['voided']} voided, {data['zero_reports']} zero reports, {data['duplicates']} duplicates"
    )


def ingest(settings: Settings, files: list[Path], *, as_json: bool) -> int:
    missing = [f for f in files if not f.is_file()]
    if missing:
        print(f"pmp-gateway ingest: no such file: {', '.join(map(str, missing))}", file=sys.stderr)
        return 2
    show_progress = sys.stdout.isatty() and not as_json
    reports = run(_ingest_all(settings, files, show_progress))
    console = Console()
    for report in reports:
        if as_json:
            sys.stdout.write(orjson.dumps(report.as_json()).decode() + "\n")
        else:
            _print_human(console, report)
    return 1 if any(r.rejected for r in reports) else 0
