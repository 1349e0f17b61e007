"""The `partnerline` command (CONTRACT.md, "Command line")."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from collections.abc import Sequence

from bot.channels.telegram.cli import add_telegram_arguments
from bot.cli.oncall import add_oncall_arguments, cmd_oncall
from bot.log_safety import protect_logs
from bot.settings import Settings
from bot.usecases.accounts import add_users_arguments

log = logging.getLogger("partnerline")


class CliError(Exception):
    """A problem to print for the user, without a traceback, exiting 1."""


def _config_path(args: argparse.Namespace, settings: Settings) -> str:
    return args.config or os.environ.get("PARTNERLINE_CONFIG") or settings.config_path


def _load(args: argparse.Namespace, settings: Settings):  # type: ignore[no-untyped-def]
    from bot.config import ConfigError, load_config

    try:
        return load_config(_config_path(args, settings))
    except ConfigError as exc:
        raise CliError(str(exc)) from exc


def _port(args: argparse.Namespace, settings: Settings) -> int:
    return int(args.port) if args.port is not None else settings.port


def _require_migrated(settings: Settings) -> None:
    from storage.migrate import current_revision, head_revision

    try:
        current = current_revision(settings.database_url)
    except Exception as exc:
        raise CliError(f"cannot reach the database at DATABASE_URL: {exc}") from exc
    if current != head_revision():
        raise CliError(
            f"the database is at migration {current or 'none'}, not {head_revision()}: "
            "run `partnerline db upgrade` first"
        )


def _run_web(
    args: argparse.Namespace, *, run_worker: bool, migrate: bool, sandbox: bool = False
) -> int:
    from bot.bootstrap import build_container, channel_report
    from bot.http import server as http_server
    from bot.http.app import create_app
    from storage.migrate import upgrade

    settings = Settings()
    config = _load(args, settings)
    port = _port(args, settings)
    host = "127.0.0.1" if args.host in ("0.0.0.0", "::") else args.host
    box = None
    if sandbox:
        from bot.http.web.sandbox import Sandbox

        box = Sandbox(config).start()
        settings = Settings(**box.settings_overrides(f"http://{host}:{port}"))
    try:
        if not settings.is_sqlite and settings.secret_key is None:
            raise CliError("PARTNERLINE_SECRET_KEY must be set outside `serve` on SQLite")
        if migrate and settings.is_sqlite:
            upgrade(settings.database_url)
        else:
            _require_migrated(settings)
        container = build_container(settings, config)
        for line in channel_report(settings, config):
            log.info("%s", line)
        if box is not None:
            from bot.http.web.sandbox import ensure_sandbox_login

            created = ensure_sandbox_login(container)
            if created:
                log.info("sandbox: sign in at http://%s:%d/login as %s / %s", host, port, *created)
            log.info("sandbox: play any client at http://%s:%d/sandbox", host, port)
        app = create_app(container, run_worker=run_worker, sandbox=box)
        http_server.run(app, host=args.host, port=port, log_level="info", access_log=False)
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
    config = _load(args, settings)
    _require_migrated(settings)
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


def cmd_check(args: argparse.Namespace) -> int:
    from bot.config import check_config

    settings = Settings()
    path = _config_path(args, settings)
    problems = check_config(path)
    for problem in problems:
        print(problem)
    if problems:
        return 1
    print(f"{path}: ok")
    return 0


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from storage.migrate import current_revision, upgrade

    settings = Settings()
    try:
        upgrade(settings.database_url)
    except Exception as exc:
        raise CliError(f"migration failed: {exc}") from exc
    print(f"database at migration {current_revision(settings.database_url)}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="partnerline", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    def web_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("--config", help="configuration file (default $PARTNERLINE_CONFIG)")
        p.add_argument(
            "--host",
            default=os.environ.get("PARTNERLINE_HOST", "127.0.0.1"),
            help="default $PARTNERLINE_HOST, then 127.0.0.1 (set 0.0.0.0 behind a platform router)",
        )
        p.add_argument("--port", type=int, default=None, help="default $PORT, then 8000")

    serve = sub.add_parser("serve", help="web and worker in one process (embedded default)")
    web_args(serve)
    serve.add_argument("--sandbox", action="store_true", help="local provider stand-ins")
    serve.set_defaults(func=cmd_serve)

    web = sub.add_parser("web", help="the web half alone")
    web_args(web)
    web.set_defaults(func=cmd_web)

    worker = sub.add_parser("worker", help="the worker half alone")
    worker.add_argument("--config")
    worker.set_defaults(func=cmd_worker)

    check = sub.add_parser("check", help="validate a configuration file")
    check.add_argument("--config")
    check.set_defaults(func=cmd_check)

    oncall = sub.add_parser("oncall", help="who is on call now (or --at), per rotation")
    add_oncall_arguments(oncall)
    oncall.set_defaults(func=cmd_oncall)

    users = sub.add_parser("users", help="web-inbox logins")
    add_users_arguments(users)

    telegram = sub.add_parser("telegram", help="Telegram webhook set-up")
    add_telegram_arguments(telegram)

    db = sub.add_parser("db", help="database maintenance")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    up = db_sub.add_parser("upgrade", help="run migrations to head")
    up.set_defaults(func=cmd_db_upgrade)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # The twilio client logs every request's headers at INFO: noise, and no use to operators.
    logging.getLogger("twilio.http_client").setLevel(logging.WARNING)
    protect_logs()  # httpx would log every Bot API URL, and the Telegram token is in it
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except CliError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
