"""How fast the what-if simulator replays: a year of traffic for 50 clients (about 100,000
messages, with their pages) under two configurations, one core.

Run from the project root: `python -m bench.simulate` or `python bench/simulate.py`.
Options: `--messages N` (a year's total, default 100,000), `--clients N` (default 50),
`--seed S`, `--config FILE` (default examples/agency.toml). Prints figures only; nothing
here is asserted.

The agency is examples/agency.toml with its clients replaced by N generated ones (every
other one on the priority tier, which pages after hours through the default escalation).
The proposal beside it: the priority tier's after-hours promise 1h -> 2h, and Kim on the
escalation's first step too. Traffic is `partnerline simulate`'s synthetic profile
(bot/usecases/simulation/traffic.py), so each message is answered after a drawn delay and a
page runs until then.

Times are the process's CPU time (one core; the wall time beside it grows when other work
shares the machine). Baseline, in the same run: the same messages through `routing` alone,
the decisions with no simulation around them: each message's due time (`due_for`) and
whether it pages (`should_page`) under both configurations, and for every page the
simulator opened, the targets of each step it reached resolved at its opening
(`on_call_lookup` and `resolve_targets`). The ratio of the two is the simulator's overhead.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from datetime import date
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the project importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.config import check_text, load_config
from bot.config.directory import build_directory
from bot.usecases.directory import Directory
from bot.usecases.simulation.compare import compare
from bot.usecases.simulation.result import Comparison
from bot.usecases.simulation.traffic import TrafficMessage, synthetic
from routing import escalation as esc
from routing.commitments_policy import due_for, should_page
from routing.directory import ClientEntry, ContactEntry
from routing.messages import Channel

TARGET_SECONDS = 10.0
START, END = date(2026, 1, 1), date(2026, 12, 31)


def _agency(directory: Directory, clients: int) -> Directory:
    """The directory with its clients replaced by `clients` generated ones."""
    escalation = directory.escalations[next(iter(directory.escalations))]
    made: dict[str, ClientEntry] = {}
    for i in range(clients):
        cid = f"client{i:02d}"
        priority = i % 2 == 0
        made[cid] = ClientEntry(
            id=cid,
            name=f"Client {i:02d}",
            commitment="priority" if priority else "standard",
            escalation="default" if priority else None,
            timezone=None,
            account_team=("ana", "jim"),
            contacts=(ContactEntry(f"Contact {i:02d}", ((Channel.SMS, f"+1313555{i:04d}"),)),),
        )
    escalations = {cid: escalation for cid, c in made.items() if c.escalation}
    return replace(directory, clients=made, escalations=escalations)


def _proposal(path: str) -> Directory:
    text = Path(path).read_text(encoding="utf-8")
    text = text.replace('after_hours = "1h"', 'after_hours = "2h"', 1)
    text = text.replace(
        '{ notify = ["rotation:after-hours"],', '{ notify = ["rotation:after-hours", "staff:kim"],'
    )
    config, problems = check_text(text, path)
    if config is None:
        raise SystemExit("\n".join(str(p) for p in problems))
    return build_directory(config)


def _routing_alone(
    directories: tuple[Directory, Directory], messages: list[TrafficMessage], result: Comparison
) -> None:
    for directory in directories:
        for m in messages:
            policy = directory.commitments[directory.terms_of(m.client).tier]
            due = due_for(policy, m.at)
            should_page(policy, due.after_hours)
    for directory, outcome in zip(directories, (result.current, result.proposed), strict=True):
        for page in outcome.pages:
            chain = directory.escalations[page.client or ""]
            who = esc.on_call_lookup(directory.rotations, page.opened_at)
            for step in chain.steps[: page.steps_reached]:
                esc.resolve_targets(step.targets, chain.account_team, who)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--config", default="examples/agency.toml")
    args = parser.parse_args(argv)

    current = _agency(build_directory(load_config(args.config)), args.clients)
    proposed = _agency(_proposal(args.config), args.clients)
    days = (END - START).days + 1
    messages = synthetic(current, START, END, args.messages / days, args.seed)

    wall, started = time.perf_counter(), time.process_time()
    result = compare(current, proposed, messages, START, END, traffic="bench")
    simulated_s, simulated_wall = time.process_time() - started, time.perf_counter() - wall

    wall, started = time.perf_counter(), time.process_time()
    _routing_alone((current, proposed), messages, result)
    routing_s, routing_wall = time.process_time() - started, time.perf_counter() - wall

    a, b = result.current, result.proposed
    print(f"traffic: {len(messages):,} messages over {START.year}, {args.clients} clients")
    for outcome in (a, b):
        t = outcome.totals()
        print(
            f"  {outcome.label:<9} {t['commitments_started']:>7,} commitments, "
            f"{t['pages_opened']:>6,} pages, {t['notifications_sent']:>6,} notifications, "
            f"{t['breaches']:>6,} breaches, {len(outcome.acknowledgements):>6,} acknowledgements"
        )
    print(f"differences: {', '.join(f'{d.kind} {d.count:,}' for d in result.differences)}")
    print(f"simulate, both configurations: {simulated_s:8.2f} s CPU ({simulated_wall:.2f} s wall)")
    print(f"routing alone, same messages:  {routing_s:8.2f} s CPU ({routing_wall:.2f} s wall)")
    print(f"ratio (the simulator's overhead): {simulated_s / routing_s:.1f}x")
    verdict = "met" if simulated_s < TARGET_SECONDS else "NOT met"
    print(f"target under {TARGET_SECONDS:.0f} s: {verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
