"""`partnerline serve|web|worker`: the web app, the worker, or both in one process.

Start-up says each fact once, on the "partnerline" logger: the database's migration, each
channel, a sign-in hint when there is no login yet, and where the app serves (bot/http/server.py).
"""

from __future__ import annotations

import argparse
import logging
import os
import shlex
from typing import TYPE_CHECKING

from bot.cli.common import (
    DEFAULT_CONFIG,
    CliError,
    add_config_argument,
    config_path,
    load_config,
    migrated,
    port,
    require_migrated,
    settle_heap,
)

if TYPE_CHECKING:
    from bot.container import Container

log = logging.getLogger("partnerline")


def add_web_arguments(parser: argparse.ArgumentParser) -> None:
    """`serve` and `web`: where to listen."""
    add_config_argument(parser)
    parser.add_argument(
        "--host",
        default=os.environ.get("PARTNERLINE_HOST", "127.0.0.1"),
        help="default $PARTNERLINE_HOST, then 127.0.0.1 (set 0.0.0.0 behind a platform router)",
    )
    parser.add_argument("--port", type=int, default=None, help="default $PORT, then 8000")


def config_flag(args: argparse.Namespace) -> str:
    """` --config FILE` for the commands this one suggests, unless FILE is the default, which
    another shell (without this one's --config or PARTNERLINE_CONFIG) would read anyway."""
    path = config_path(args)
    return "" if path == DEFAULT_CONFIG else f" --config {shlex.quote(path)}"


def config_line(args: argparse.Namespace) -> str:
    flag = config_flag(args)
    line = f"configuration: {config_path(args)}"
    if flag:
        line += f" (other commands need{flag}, e.g. `partnerline oncall{flag}`)"
    return line


def login_hint(container: Container, args: argparse.Namespace) -> str | None:
    """How to make the first web-inbox login, while none exists."""
    from storage.accounts import StaffAccountRepository

    with container.db.session() as session:
        if StaffAccountRepository(session).count():
            return None
    staff = container.config.staff[0].id if container.config.staff else "ID"
    return (
        f"no inbox login yet: make one with `partnerline users add LOGIN --staff {staff} "
        f"--admin{config_flag(args)}`"
    )


def _run_web(
    args: argparse.Namespace, *, run_worker: bool, migrate: bool, sandbox: bool = False
) -> int:
    from bot.settings import Settings

    config = load_config(args)  # a missing or bad file is said before the heavy imports
    settings = Settings()

    from bot.bootstrap import build_container, channel_report, create_app
    from bot.http import server as http_server
    from storage.migrate import upgrade

    listen = port(args, settings)
    host = "127.0.0.1" if args.host in ("0.0.0.0", "::") else args.host
    box = None
    signal = None
    if sandbox:
        from bot.http.web.sandbox import Sandbox

        box = Sandbox(config).start()
        settings = Settings(**box.settings_overrides(f"http://{host}:{listen}"))
    try:
        if not settings.is_sqlite and settings.secret_key is None:
            raise CliError("PARTNERLINE_SECRET_KEY must be set outside `serve` on SQLite")
        if migrate and settings.is_sqlite:
            log.info("%s", migrated(*upgrade(settings.database_url)))
        else:
            require_migrated(settings)
        log.info("%s", config_line(args))
        container = build_container(settings, config)
        if not run_worker and not settings.is_sqlite:
            from storage.work_signal import WorkSignal

            # This process's commits wake the workers of others (no worker runs here).
            signal = WorkSignal(settings.database_url)
            container.wakeup.elsewhere = signal.send
        for line in channel_report(settings, config):
            log.info("%s", line)
        if box is not None:
            from bot.http.web.sandbox import ensure_sandbox_login

            created = ensure_sandbox_login(container)
            if created:
                log.info(
                    "sandbox: sign in at http://%s:%d/login as %s / %s", host, listen, *created
                )
            log.info("sandbox: play any client at http://%s:%d/sandbox", host, listen)
        elif (hint := login_hint(container, args)) is not None:
            log.info("%s", hint)
        app = create_app(container, run_worker=run_worker, sandbox=box)
        settle_heap()
        http_server.run(app, host=args.host, port=listen)
    finally:
        if signal is not None:
            signal.stop()
        if box is not None:
            box.stop()
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    return _run_web(args, run_worker=True, migrate=True, sandbox=args.sandbox)


def cmd_web(args: argparse.Namespace) -> int:
    return _run_web(args, run_worker=False, migrate=False)


def cmd_worker(args: argparse.Namespace) -> int:
    import asyncio
    import signal

    import uvloop

    from bot.settings import Settings

    config = load_config(args)  # a missing or bad file is said before the heavy imports
    settings = Settings()

    from bot.bootstrap import build_container, build_worker, channel_report
    from bot.reloading import Reloader

    require_migrated(settings)
    container = build_container(settings, config)
    for line in channel_report(settings, config):
        log.info("%s", line)
    worker = build_worker(container)
    stop_listening = None
    if not settings.is_sqlite:
        from storage.work_signal import start_listening

        # Woken by the commits of `web` processes, not only at each look (storage/work_signal.py).
        stop_listening = start_listening(settings.database_url, container.wakeup.notify)
    if settings.worker_metrics_port is not None:
        from prometheus_client import start_http_server

        host = os.environ.get("PARTNERLINE_HOST", "127.0.0.1")
        start_http_server(settings.worker_metrics_port, addr=host)
        log.info("worker metrics on http://%s:%d/metrics", host, settings.worker_metrics_port)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        # SIGHUP, and following `partnerline reload` (bot/reloading.py).
        reloader = Reloader(container)
        reloading = asyncio.create_task(reloader.run(), name="reloader")
        try:
            await worker.run(stop)
        finally:
            reloader.stop()
            await reloading

    settle_heap()
    uvloop.run(main())  # the loop `serve` and `web` run on too (uvicorn takes uvloop)
    if stop_listening is not None:
        stop_listening()
    container.db.dispose()
    return 0
