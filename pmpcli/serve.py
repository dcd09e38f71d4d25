"""``pmp-gateway serve`` (gateway, with pmpdb in-process on a loopback port unless a target is set) and
``pmp-gateway pmpdb`` (pmpdb alone)."""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
import sys

from aiohttp import web

from gateway.app import create_app
from gateway.settings import Settings
from pmpcli.demo import load_demo
from pmpcli.loop import run
from pmpcli.stores import open_store, search_limits
from pmpdb.runtime import serve_store
from pmpdb.server import RunningServer
from pmpdb.store.base import Store

log = logging.getLogger("pmpcli.serve")


def _stop_event() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


async def _start_pmpdb(settings: Settings, *, demo: bool, listen: str) -> tuple[Store, RunningServer]:
    store = await open_store(settings)
    try:
        if demo and await store.is_empty():
            await load_demo(store, settings.data_dir / "demo")
        server = await serve_store(
            store,
            listen,
            limits=search_limits(settings),
            state_code=settings.state_code,
            reflection_enabled=settings.pmpdb_reflection,
        )
    except BaseException:
        await store.close()
        raise
    return store, server


async def _serve(settings: Settings, host: str, port: int, demo: bool) -> None:
    stop = _stop_event()
    store: Store | None = None
    pmpdb: RunningServer | None = None
    target = settings.pmpdb_target
    if not target:
        store, pmpdb = await _start_pmpdb(settings, demo=demo, listen=settings.pmpdb_listen)
        target = f"127.0.0.1:{pmpdb.port}"
    runner = web.AppRunner(create_app(settings, target), access_log=None, handler_cancellation=True)
    try:
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound = runner.addresses[0]
        print(f"pmp-gateway listening on http://{bound[0]}:{bound[1]} (pmpdb at {target})", flush=True)
        gc.freeze()  # start-up objects never need collecting; a full pass over them stalls ~60 ms
        await stop.wait()
    finally:
        await runner.cleanup()
        if pmpdb is not None:
            await pmpdb.stop()
        if store is not None:
            await store.close()


def serve(settings: Settings, *, host: str | None, port: int | None, demo: bool) -> int:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    run(_serve(settings, host or settings.host, settings.port if port is None else port, demo))
    return 0


async def _serve_pmpdb(settings: Settings, listen: str) -> None:
    stop = _stop_event()
    store, server = await _start_pmpdb(settings, demo=False, listen=listen)
    print(f"pmpdb listening on port {server.port}", flush=True)
    try:
        await stop.wait()
    finally:
        await server.stop()
        await store.close()


def serve_pmpdb(settings: Settings, *, listen: str | None) -> int:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    run(_serve_pmpdb(settings, listen or settings.pmpdb_listen))
    return 0
