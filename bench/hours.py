"""How fast due times are computed: one million (instant, tier) pairs over a year, one core.

Run from the project root: `python -m bench.hours` or `python bench/hours.py`.
Options: `--pairs N` (default 1,000,000), `--seed S`, `--config FILE` (default
examples/agency.toml). Prints figures only; nothing here is asserted.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the project importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.config import load_config
from bot.config.directory import build_directory
from routing.commitments_policy import due_epoch, due_for

TARGET_PER_SECOND = 200_000


def _timed(run: Callable[[], object]) -> float:
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--config", default="examples/agency.toml")
    args = parser.parse_args(argv)

    config = load_config(args.config)
    policies = build_directory(config).commitments
    tiers = [policies["standard"], policies["priority"]]

    rng = random.Random(args.seed)
    year_start = datetime(2026, 1, 1, tzinfo=UTC).timestamp()
    year_seconds = 365 * 86400
    pairs = [
        (year_start + rng.random() * year_seconds, tiers[rng.getrandbits(1)])
        for _ in range(args.pairs)
    ]
    for policy in tiers:  # load the year (and the next) before timing, as a warm process has
        due_epoch(policy, year_start + year_seconds - 1)
        due_epoch(policy, year_start)

    def fast() -> None:
        for ts, policy in pairs:
            due_epoch(policy, ts)

    def baseline() -> None:
        for ts, _policy in pairs:
            ts + 3600  # the loop and one addition: what any per-pair work costs at least

    sample = pairs[: max(1, len(pairs) // 20)]
    sample_dt = [(datetime.fromtimestamp(ts, UTC), policy) for ts, policy in sample]

    def with_datetimes() -> None:
        for t, policy in sample_dt:
            due_for(policy, t)

    # Sanity: both paths agree on the sample before anything is timed.
    for (ts, policy), (t, _) in zip(sample[:2000], sample_dt[:2000], strict=True):
        expected = due_for(policy, t).due_at.timestamp()
        if abs(due_epoch(policy, ts) - expected) > 1e-3:
            raise SystemExit(f"due_epoch and due_for disagree at {t.isoformat()}")

    fast_s = _timed(fast)
    base_s = _timed(baseline)
    dt_s = _timed(with_datetimes)
    rate = len(pairs) / fast_s
    base_rate = len(pairs) / base_s
    dt_rate = len(sample_dt) / dt_s

    print(f"pairs: {len(pairs):,} over 2026, tiers standard (4h / next business day) and")
    print("       priority (30m / 1h after hours) on the 'office' calendar (America/Detroit)")
    print(f"due_epoch:               {rate:>12,.0f} due times/s  ({fast_s:.3f} s)")
    print(f"baseline loop ts + 3600: {base_rate:>12,.0f} /s           ({base_s:.3f} s)")
    print(f"due_for (datetimes):     {dt_rate:>12,.0f} due times/s  (sample of {len(sample_dt):,})")
    print(f"ratio: due_epoch takes {base_rate / rate:.1f}x the bare loop's time per pair;")
    print(f"       due_for takes {rate / dt_rate:.1f}x due_epoch's")
    verdict = "met" if rate >= TARGET_PER_SECOND else "NOT met"
    print(f"target {TARGET_PER_SECOND:,} due times/s: {verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
