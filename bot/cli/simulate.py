"""`partnerline simulate --config PROPOSED.toml [--against CURRENT.toml] --from DATE --to DATE
[--traffic db|FILE.csv|synthetic:N/day] [--seed N] [--out FILE.html] [--json]`: what a proposed
configuration would have done with a period's client messages, beside the configuration in
force (bot/usecases/simulation). Nothing is written to the database, nothing is sent.

`--against` defaults to the configuration `serve` uses ($PARTNERLINE_CONFIG, then
./partnerline.toml). `--traffic db` (the default) reads the recorded client messages of the
period from DATABASE_URL, read only. Dates are days in the proposed configuration's agency
zone, both included. Without `--json` or `--out`, a side-by-side summary is printed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from bot.cli.common import (
    DEFAULT_CONFIG,
    CliError,
    config_path,
    load_config,
    require_migrated,
)

if TYPE_CHECKING:
    from bot.usecases.directory import Directory
    from bot.usecases.simulation.result import Comparison, Outcome
    from bot.usecases.whatif import Traffic
    from storage.unit_of_work import UnitOfWork

# A longer replay is refused: three years of days is more than any what-if needs.
MAX_DAYS = 3 * 366
# Synthetic messages in all: 20 times bench.simulate's year (about two minutes of replay), so
# that a typo in N/day is refused rather than run out of memory.
MAX_SYNTHETIC = 2_000_000


class UsageError(Exception):
    """An argument that cannot be used: said in one line, exit 2."""


def add_simulate_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config", metavar="PROPOSED.toml", required=True, help="the proposed configuration"
    )
    parser.add_argument(
        "--against",
        metavar="CURRENT.toml",
        help="the configuration to compare with "
        f"(default $PARTNERLINE_CONFIG, then {DEFAULT_CONFIG})",
    )
    parser.add_argument("--from", dest="start", metavar="DATE", required=True, help="YYYY-MM-DD")
    parser.add_argument("--to", dest="end", metavar="DATE", required=True, help="YYYY-MM-DD")
    parser.add_argument(
        "--traffic",
        default="db",
        help="db (the recorded messages, default), FILE.csv, or synthetic:N/day",
    )
    parser.add_argument(
        "--seed", type=int, default=None, help="seed of synthetic traffic (default fixed)"
    )
    parser.add_argument("--out", metavar="FILE.html", help="write the HTML report here")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.set_defaults(func=cmd_simulate)


def cmd_simulate(args: argparse.Namespace) -> int:
    try:
        return _simulate(args)
    except UsageError as exc:
        print(f"partnerline simulate: {exc}", file=sys.stderr)
        return 2


def _simulate(args: argparse.Namespace) -> int:
    start, end = _day("--from", args.start), _day("--to", args.end)
    if end < start:
        raise UsageError(f"--to {end} is before --from {start}")
    if (end - start).days >= MAX_DAYS:
        raise UsageError(f"--from {start} --to {end}: at most {MAX_DAYS} days at a time")
    traffic = str(args.traffic)
    if args.seed is not None and not traffic.startswith("synthetic:"):
        raise UsageError("--seed is for --traffic synthetic:N/day")
    # What `serve` would read: --against in the place of its --config.
    against = config_path(argparse.Namespace(config=args.against))
    if not args.against and not os.path.lexists(against):
        raise UsageError(
            f"no current configuration to compare with: looked for {against}; "
            "name one with --against FILE"
        )
    proposed_config = load_config(argparse.Namespace(config=args.config))
    current_config = load_config(argparse.Namespace(config=against))

    from bot.config.directory import build_directory
    from bot.settings import Settings
    from bot.usecases.whatif import what_if
    from routing.clock import SystemClock

    proposed, current = build_directory(proposed_config), build_directory(current_config)
    with _reader(traffic) as reader:
        result = what_if(
            current,
            proposed,
            start,
            end,
            _traffic(traffic, args.seed, proposed, (end - start).days + 1),
            reader,
            SystemClock().now(),
            current_name=against,
            proposed_name=args.config,
            # Pages coalesce as the running worker's do.
            coalesce=timedelta(seconds=Settings().page_coalesce_seconds),
        )
    if args.json:
        print(json.dumps(result.to_json(), indent=2))
    if args.out:
        names = {c.id: c.name for d in (current, proposed) for c in d.clients.values()}
        # With --json on stdout, the line saying so goes to stderr: stdout stays JSON.
        _write_report(result, args.out, names, quiet_stdout=bool(args.json))
    if not args.json and not args.out:
        print(summary(result))
    return 0


def _traffic(spec: str, seed: int | None, directory: Directory, days: int) -> Traffic:
    from bot.usecases.simulation import traffic as tr
    from bot.usecases.whatif import Traffic

    if spec.startswith("synthetic:"):
        try:
            rate = tr.parse_rate(spec)
        except tr.TrafficError as exc:
            raise UsageError(str(exc)) from None
        if rate * days > MAX_SYNTHETIC:
            raise UsageError(
                f"--traffic {spec!r} for {days} days is {rate * days:,.0f} messages; "
                f"at most {MAX_SYNTHETIC:,} in all"
            )
        return Traffic("synthetic", rate, tr.DEFAULT_SEED if seed is None else seed)
    if spec == "db":
        return Traffic("db")
    if not Path(spec).is_file():
        raise UsageError(
            f"--traffic {spec!r}: no such file (expected db, FILE.csv or synthetic:N/day)"
        )
    try:
        messages = tr.read_csv(spec, directory.zone)
    except tr.TrafficError as exc:
        raise CliError(str(exc)) from None
    return Traffic("given", given=tuple(messages), words=f"file {spec}")


@contextlib.contextmanager
def _reader(spec: str) -> Iterator[Callable[[], UnitOfWork] | None]:
    """Read-only units of work on DATABASE_URL, for recorded traffic (None otherwise)."""
    if spec != "db":
        yield None
        return
    from bot.settings import Settings
    from storage.db import Database
    from storage.unit_of_work import UnitOfWork

    settings = Settings()
    require_migrated(settings, why=" (the recorded messages live there; or use --traffic FILE)")
    db = Database(settings.database_url)
    try:
        yield lambda: UnitOfWork(db, read_only=True)
    finally:
        db.dispose()


def _day(option: str, text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{option} {text!r} is not a date (YYYY-MM-DD)") from None


def _write_report(
    result: Comparison, out: str, client_names: dict[str, str], *, quiet_stdout: bool = False
) -> None:
    from bot.http.web.simulation_report import render_simulation_report

    html = render_simulation_report(result, client_names)
    if out == "-":
        if quiet_stdout:
            raise UsageError("--out - and --json would both print to stdout: name a file")
        sys.stdout.write(html)
        return
    try:
        Path(out).write_text(html, encoding="utf-8")
    except OSError as exc:
        raise CliError(f"--out {out}: {exc.strerror or exc}") from exc
    print(f"wrote {out}", file=sys.stderr if quiet_stdout else sys.stdout)


# ---------------------------------------------------------------------------- text summary
def summary(result: Comparison) -> str:
    a, b = result.current, result.proposed
    width = 26
    lines = [
        f"What-if {result.period_from} to {result.period_to} ({result.zone}), "
        f"{result.messages} client messages ({result.traffic})",
        f"  current:  {a.config}",
        f"  proposed: {b.config}",
        "",
        f"{'':{width}}{'current':>10}{'proposed':>10}{'change':>10}",
    ]

    def row(label: str, x: int, y: int) -> None:
        change = f"{y - x:+d}" if y != x else ""
        lines.append(f"{label:{width}}{x:>10}{y:>10}{change:>10}")

    for key, label in (
        ("commitments_started", "commitments started"),
        ("acknowledgements_sent", "acknowledgements sent"),
        ("pages_opened", "pages opened"),
        ("notifications_sent", "page notifications"),
        ("nights_woken", "nights woken (people)"),
        ("breaches", "breaches"),
    ):
        row(label, a.totals()[key], b.totals()[key])
    lines += ["", "Per person (notifications / nights woken / pages by step):"]
    people = {p.staff: p for p in a.people} | {p.staff: p for p in b.people}
    for staff in sorted(people):
        lines.append(f"  {people[staff].name} ({staff})")
        lines.append(f"    current:  {_person(a, staff)}")
        lines.append(f"    proposed: {_person(b, staff)}")
    lines += ["", "Per week (pages / breaches, current -> proposed):"]
    for x, y in zip(a.weeks, b.weeks, strict=True):
        lines.append(
            f"  week of {x.week_start}: pages {x.pages} -> {y.pages}, "
            f"breaches {x.breaches} -> {y.breaches}"
        )
    lines.append("")
    if not result.differences:
        lines.append("No differences: both configurations decide every message alike.")
    else:
        lines.append("Differences:")
        for d in result.differences:
            lines.append(f"  {d.summary}")
            for e in d.examples:
                at = f"{e.message_at:%Y-%m-%d %H:%M}Z " if e.message_at is not None else ""
                who = f"{e.client or 'unknown'} / {e.contact}" if e.message_at else e.contact
                lines.append(f"    {at}{who}: {e.current} -> {e.proposed}")
    lines.append("")
    if result.coverage_gaps:
        lines.append(f"Coverage gaps in the next 90 days (proposed): {len(result.coverage_gaps)}")
        for gap in result.coverage_gaps[:10]:
            lines.append(
                f"  {gap.start:%Y-%m-%d %H:%M}Z to {gap.end:%Y-%m-%d %H:%M}Z: "
                f"{', '.join(gap.clients)}: {gap.reason}"
            )
    else:
        lines.append("Coverage gaps in the next 90 days (proposed): none")
    return "\n".join(lines)


def _person(outcome: Outcome, staff: str) -> str:
    found = next((p for p in outcome.people if p.staff == staff), None)
    if found is None:
        return "never paged"
    steps = ", ".join(f"step {s}: {n}" for s, n in found.by_step)
    return f"{found.notifications} / {found.nights_woken} / {steps}"
