"""`partnerline serve|web|worker`: the web app, the worker, or both in one process."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal

from bot.cli.common import CliError, load_config, port, require_migrated
from bot.settings import Settings

log = logging.getLogger("partnerline")


def add_web_arguments(parser: argparse.ArgumentParser) -> None:
    """`serve` and `web`: where to listen."""
    parser.add_argument("--config", help="configuration file (default $PARTNERLINE_CONFIG)")
    parser.add_argument(
        "--host",
        default=os.environ.get("PARTNERLINE_HOST", "127.0.0.1"),
        help="default $PARTNERLINE_HOST, then 127.0.0.1 (set 0.0.0.0 behind a platform router)",
    )
    parser.add_argument("--port", type=int, default=None, help="default $PORT, then 8000")


def _run_web(
    args: argparse.Namespace, *, run_worker: bool, migrate: bool, sandbox: bool = False
) -> int:
    from bot.bootstrap import build_container, channel_report, create_app
    from bot.http import server as http_server
    from storage.migrate import upgrade

    settings = Settings()
    config = load_config(args, settings)
    listen = port(args, settings)
    host = "127.0.0.1" if args.host in ("0.0.0.0", "::") else args.host
    box = None
    if sandbox:
        from bot.http.web.sandbox import Sandbox

        box = Sandbox(config).start()
        settings = Settings(**box.settings_overrides(f"http://{host}:{listen}"))
    try:
        if not settings.is_sqlite and settings.secret_key is None:
            raise CliError("PARTNERLINE_SECRET_KEY must be set outside `serve` on SQLite")
        if migrate and settings.is_sqlite:
            upgrade(settings.database_url)
        else:
            require_migrated(settings)
        container = build_container(settings, config)
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
        app = create_app(container, run_worker=run_worker, sandbox=box)
        http_server.run(app, host=args.host, port=listen, log_level="info", access_log=False)
    finally:
        if box is not None:
            box.stop()
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    return _run_web(args, run_worker=True, migrate=True, sandbox=args.sandbox)


def cmd_web(args: argparse.Namespace) -> int:
    return _run_web(args, run_worker=False, migrate=False)


def cmd_worker(args: argparse.Namespace) -> int:
    from bot.bootstrap import build_container, build_worker, channel_report

    settings = Settings()
    config = load_config(args, settings)
    require_migrated(settings)
    container = build_container(settings, config)
    for line in channel_report(settings, config):
        log.info("%s", line)
    worker = build_worker(container)
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
        await worker.run(stop)

    asyncio.run(main())
    container.db.dispose()
    return 0
