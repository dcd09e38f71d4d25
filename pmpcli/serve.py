"""``pmp-gateway serve`` and ``pmp-gateway pmpdb``.

``serve`` runs pmpdb (unless ``PMP_PMPDB_TARGET`` names a remote one) and the gateway in one process and loop,
pmpdb on a loopback port. With ``--workers N`` the parent loads the demo data if needed, then forks N workers
*before* any gRPC object exists (gRPC does not survive fork); each worker binds the HTTP port with SO_REUSEPORT and
runs its own pmpdb on a private unix socket, so the search work scales with the workers (one pmpdb process behind
them all saturated first: measured 1 ms of its CPU per request). The parent only supervises.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import shutil
import signal
import socket
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from gateway.cursor import load_or_create_key
from gateway.deployment import DeploymentError, check_deployment, default_issuer, is_loopback
from gateway.logs import configure_logging
from gateway.settings import Settings
from pmpcli.demo import load_demo_if_empty, register_demo_client
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


def dial_target(listen: str, port: int) -> str:
    """Where to reach a pmpdb that listens on ``listen`` and got ``port``: unix sockets as they are, a wildcard
    host as loopback, an explicit host as itself (IPv6 in brackets)."""
    if listen.startswith("unix:"):
        return listen
    host = listen.rsplit(":", 1)[0].strip("[]")
    if host in {"", "0.0.0.0", "::"}:  # noqa: S104 - mapping a wildcard listen address to a dialable one
        host = "127.0.0.1"
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def refuse_open_network(settings: Settings, host: str) -> None:
    """With authenticate or audit turned off, PHI is served only on loopback (unless the operator opts in)."""
    if settings.allow_unauthenticated_network or (settings.authenticate and settings.audit):
        return
    if not is_loopback(host):
        raise SystemExit(
            f"pmp-gateway: refusing to listen on {host}: authentication and audit are not enabled, so PHI would be "
            "served to anyone who can connect. Listen on loopback, or set PMP_ALLOW_UNAUTHENTICATED_NETWORK=true "
            "for a closed network you control."
        )


def refuse_open_pmpdb(settings: Settings, host: str) -> None:
    """pmpdb answers anyone who can reach it (no authentication of its own: the gateways in front do that), so it
    listens beyond loopback only when the operator says the network is closed."""
    if settings.allow_unauthenticated_network or is_loopback(host):
        return
    raise SystemExit(
        f"pmp-gateway pmpdb: refusing to listen on {host}: pmpdb does not authenticate its callers. Listen on "
        "loopback or a unix socket, or set PMP_ALLOW_UNAUTHENTICATED_NETWORK=true on a private network that only "
        "the gateways reach."
    )


async def _start_pmpdb(
    settings: Settings, *, demo: bool, listen: str, load_reference: bool = True
) -> tuple[Store, RunningServer]:
    store = await open_store(settings, load_reference=load_reference)
    try:
        if demo:
            await load_demo_if_empty(store, settings.data_dir)
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


async def _run_gateway(
    settings: Settings, target: str, sock: socket.socket | None, ready: int | None, stop: asyncio.Event | None = None
) -> None:
    """One gateway process: the app on ``sock`` (workers) or on host:port, until SIGTERM."""
    from aiohttp import web

    from gateway.app import create_app

    stop = stop or _stop_event()
    if sock is None:  # bound before the app is made: the OAuth issuer names the port actually served
        sock = _listening_socket(settings.host, settings.port, reuse_port=False)
    host, port = sock.getsockname()[:2]
    app = create_app(
        settings,
        target,
        cursor_key=load_or_create_key(settings.data_dir),
        issuer=default_issuer(settings, settings.host, port),
    )
    runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
    await runner.setup()
    try:
        site = web.SockSite(runner, sock)
        await site.start()
        if ready is not None:
            os.write(ready, b"1")
            os.close(ready)
        else:
            print(f"pmp-gateway listening on http://{host}:{port} (pmpdb at {target})", flush=True)
        gc.freeze()  # start-up objects never need collecting; a full pass over them stalls ~60 ms
        await stop.wait()
    finally:
        await runner.cleanup()


async def _demo_client(settings: Settings) -> None:
    path = await register_demo_client(settings)
    if path is not None:
        print(f"pmp-gateway: demo client registered; get a token with: pmp-gateway token --client {path}", flush=True)


async def _serve_one(settings: Settings, demo: bool) -> None:
    store: Store | None = None
    pmpdb: RunningServer | None = None
    target = settings.pmpdb_target
    try:
        if not target:
            store, pmpdb = await _start_pmpdb(settings, demo=demo, listen=settings.pmpdb_listen)
            target = dial_target(settings.pmpdb_listen, pmpdb.port)
        await _run_gateway(settings, target, None, None)
    finally:
        if pmpdb is not None:
            await pmpdb.stop()
        if store is not None:
            await store.close()


def _reuseport_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


def _listening_socket(host: str, port: int, *, reuse_port: bool) -> socket.socket:
    sock = _reuseport_socket(host, port) if reuse_port else socket.create_server((host, port), reuse_port=False)
    sock.listen(1024)
    sock.setblocking(False)
    return sock


async def _worker(settings: Settings, sock: socket.socket, ready: int, index: int, runtime: Path) -> None:
    """A worker: its own pmpdb on a private unix socket (unless a remote one is configured) and the gateway."""
    stop = _stop_event()
    if settings.pmpdb_target:
        await _run_gateway(settings, settings.pmpdb_target, sock, ready, stop)
        return
    path = runtime / f"pmpdb-{index}.sock"
    path.unlink(missing_ok=True)
    target = f"unix:{path}"
    store, pmpdb = await _start_pmpdb(settings, demo=False, listen=target, load_reference=False)
    try:
        await _run_gateway(settings, target, sock, ready, stop)
    finally:
        await pmpdb.stop()
        await store.close()
        path.unlink(missing_ok=True)


def _fork_worker(settings: Settings, port: int, ready: int, index: int, runtime: Path) -> int:
    pid = os.fork()
    if pid:
        return pid
    # child: its own listening socket on the shared port, its own loop, pmpdb and gRPC channel
    code = 0
    try:
        run(_worker(settings, _listening_socket(settings.host, port, reuse_port=True), ready, index, runtime))
    except BaseException:
        logging.getLogger("pmpcli.worker").exception("gateway worker failed")
        code = 1
    finally:
        os._exit(code)


async def _prepare_store(settings: Settings, demo: bool) -> None:
    """Before the workers fork: create the schema, load the drug reference and (if empty) the demo data."""
    store = await open_store(settings)
    try:
        if demo:
            await load_demo_if_empty(store, settings.data_dir)
    finally:
        await store.close()


async def _supervise(
    settings: Settings, port: int, pids: list[int], ready_r: int, relay_sock: socket.socket | None
) -> None:
    stop = _stop_event()
    async with _audit_relay(settings, relay_sock):
        try:
            loop = asyncio.get_running_loop()
            for _ in pids:
                if not await loop.run_in_executor(None, os.read, ready_r, 1):
                    raise RuntimeError("a gateway worker failed to start")
            where = f"at {settings.pmpdb_target}" if settings.pmpdb_target else "in each worker"
            print(
                f"pmp-gateway listening on http://{settings.host}:{port} ({len(pids)} workers, pmpdb {where})",
                flush=True,
            )
            children_done: asyncio.Future[Any] = loop.run_in_executor(None, os.waitpid, -1, 0)
            stopped: asyncio.Future[Any] = asyncio.ensure_future(stop.wait())
            await asyncio.wait([children_done, stopped], return_when=asyncio.FIRST_COMPLETED)
            if children_done.done():
                log.error("a gateway worker exited; shutting down")
        finally:
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGTERM)
            if relay_sock is not None:  # the workers drain their last records through the relay: keep it up
                await asyncio.get_running_loop().run_in_executor(None, _reap, pids, 30.0)


def _reap(pids: list[int], timeout: float) -> None:
    """Wait for the workers to exit (at most ``timeout`` seconds in all)."""
    import time

    deadline = time.monotonic() + timeout
    waiting = set(pids)
    while waiting and time.monotonic() < deadline:
        for pid in list(waiting):
            with contextlib.suppress(ChildProcessError):
                if os.waitpid(pid, os.WNOHANG)[0] == 0:
                    continue
            waiting.discard(pid)
        time.sleep(0.05)


@contextlib.asynccontextmanager
async def _audit_relay(settings: Settings, sock: socket.socket | None) -> AsyncIterator[None]:
    """The host's one audit writer, fed by the workers (gateway.audit.relay says why)."""
    if sock is None:
        yield
        return
    from gateway.audit import AuditConfig, AuditWriter
    from gateway.audit.relay import AuditRelay

    config = AuditConfig.from_settings(settings)
    store = config.make_store()
    await store.open()
    writer = AuditWriter(store, max_batch=config.max_batch, commit_timeout=config.commit_timeout)
    relay = AuditRelay(writer, sock)
    try:
        await writer.start()
        await relay.start()
        yield
    finally:
        await relay.stop()
        await writer.stop()
        await store.close()


def _serve_workers(settings: Settings, demo: bool) -> None:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    load_or_create_key(settings.data_dir)  # once, before the workers read it
    # This instance's sockets and metrics files, private (0700) and its own: another serve on the same data
    # directory (a second instance, a rolling restart) must not unlink or read them. Short, as unix socket
    # paths must be.
    runtime = Path(tempfile.mkdtemp(prefix="pmp-gateway-"))
    try:
        _serve_workers_in(settings, demo, runtime)
    finally:
        shutil.rmtree(runtime, ignore_errors=True)


def _serve_workers_in(settings: Settings, demo: bool, runtime: Path) -> None:
    metrics_dir = runtime / "metrics"
    metrics_dir.mkdir()
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    if not settings.pmpdb_target:
        run(_prepare_store(settings, demo))  # no gRPC object exists yet: forking after this is safe
    relay_sock = None
    if settings.audit and settings.gateway_store == "sqlite":  # one audit writer for the host's workers
        from gateway.audit.relay import relay_socket  # after PROMETHEUS_MULTIPROC_DIR: it loads the metrics

        relay_path = runtime / "audit.sock"
        relay_sock = relay_socket(relay_path)
        settings = settings.model_copy(update={"audit_relay_socket": str(relay_path)})
    placeholder = _reuseport_socket(settings.host, settings.port)  # holds the port number for the workers
    port = placeholder.getsockname()[1]
    ready_r, ready_w = os.pipe()
    pids = [_fork_worker(settings, port, ready_w, i, runtime) for i in range(settings.workers)]
    os.close(ready_w)
    try:
        run(_supervise(settings, port, pids, ready_r, relay_sock))
    finally:
        placeholder.close()
        if relay_sock is not None:
            relay_sock.close()
        for pid in pids:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)


def serve(settings: Settings, *, host: str | None, port: int | None, workers: int | None, demo: bool) -> int:
    configure_logging()
    overrides = {k: v for k, v in (("host", host), ("port", port), ("workers", workers)) if v is not None}
    settings = settings.model_copy(update=overrides)
    refuse_open_network(settings, settings.host)
    try:
        check_deployment(settings)
    except DeploymentError as exc:
        raise SystemExit(f"pmp-gateway: {exc}") from None
    if demo and settings.authenticate:
        run(_demo_client(settings))  # before any fork: no gRPC object exists yet
    if settings.workers == 1:
        run(_serve_one(settings, demo))
    else:
        _serve_workers(settings, demo)
    return 0


async def _serve_pmpdb(settings: Settings, listen: str) -> None:
    if not listen.startswith("unix:"):
        refuse_open_pmpdb(settings, listen.rsplit(":", 1)[0].strip("[]") or "0.0.0.0")  # noqa: S104
    stop = _stop_event()
    store, server = await _start_pmpdb(settings, demo=False, listen=listen)
    print(f"pmpdb listening on port {server.port}", flush=True)
    gc.freeze()
    try:
        await stop.wait()
    finally:
        await server.stop()
        await store.close()


def serve_pmpdb(settings: Settings, *, listen: str | None) -> int:
    configure_logging()
    run(_serve_pmpdb(settings, listen or settings.pmpdb_listen))
    return 0
