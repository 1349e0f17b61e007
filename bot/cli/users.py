"""`partnerline users add|revoke`: web-inbox logins (the rules: bot/usecases/accounts.py)."""

from __future__ import annotations

import argparse
import getpass
import sys

from bot.cli.common import (
    CliError,
    add_config_argument,
    config_path,
    load_config,
    require_migrated,
)


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Again: ") != first:
        raise ValueError("the two passwords differ")
    return first


def cmd_users_add(args: argparse.Namespace) -> int:
    """`partnerline users add LOGIN --staff ID [--admin] [--password-stdin]`."""
    config = load_config(args)  # a missing or bad file is said before the heavy imports
    from bot.config.directory import build_directory
    from bot.settings import Settings
    from bot.usecases.accounts import StaffAccounts
    from routing.clock import SystemClock
    from storage.accounts import StaffAccountRepository
    from storage.db import Database
    from storage.migrate import upgrade

    settings = Settings()
    names = build_directory(config).staff_names
    if args.staff not in names:
        known = ", ".join(sorted(names)) or "none"
        raise CliError(f"{config_path(args)}: no staff member {args.staff!r} (staff: {known})")
    login = args.login.strip()
    if not login or len(login) > 100:
        raise CliError("LOGIN must have 1 to 100 characters")
    try:
        password = _read_password(args.password_stdin)
    except (ValueError, EOFError) as exc:
        raise CliError(str(exc) or "no password given") from exc
    if settings.is_sqlite:
        upgrade(settings.database_url)
    else:
        require_migrated(settings)
    db = Database(settings.database_url)
    try:
        with db.session() as session:
            try:
                account = StaffAccounts(StaffAccountRepository(session)).add(
                    login, args.staff, password, is_admin=args.admin, now=SystemClock().now()
                )
            except ValueError as exc:
                raise CliError(str(exc)) from exc
            session.commit()
    finally:
        db.dispose()
    role = "admin" if account.is_admin else "staff"
    print(f"login {account.login!r} created for {names[args.staff]} ({role})")
    return 0


def cmd_users_revoke(args: argparse.Namespace) -> int:
    """`partnerline users revoke LOGIN`: ends every session of that login."""
    from bot.settings import Settings
    from bot.usecases.accounts import StaffAccounts
    from routing.clock import SystemClock
    from storage.accounts import StaffAccountRepository
    from storage.db import Database

    settings = Settings()
    require_migrated(settings)
    db = Database(settings.database_url)
    try:
        with db.session() as session:
            try:
                ended = StaffAccounts(StaffAccountRepository(session)).revoke_sessions(
                    args.login, SystemClock().now()
                )
            except ValueError as exc:
                raise CliError(str(exc)) from exc
            session.commit()
    finally:
        db.dispose()
    print(f"login {args.login!r}: {ended} session{'' if ended == 1 else 's'} ended")
    return 0


def add_users_arguments(users: argparse.ArgumentParser) -> None:
    """The `users` command group; the caller sets nothing else."""
    sub = users.add_subparsers(dest="users_command", required=True)
    add = sub.add_parser("add", help="create a web-inbox login for a staff member")
    add.add_argument("login", metavar="LOGIN")
    add.add_argument("--staff", required=True, metavar="ID", help="the staff member's id")
    add.add_argument("--admin", action="store_true", help="give the login admin rights")
    add.add_argument(
        "--password-stdin", action="store_true", help="read the password from one line of stdin"
    )
    add_config_argument(add)
    add.set_defaults(func=cmd_users_add)
    revoke = sub.add_parser("revoke", help="end every session of a login")
    revoke.add_argument("login", metavar="LOGIN")
    revoke.set_defaults(func=cmd_users_revoke)
