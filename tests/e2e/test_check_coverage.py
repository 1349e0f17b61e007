"""`partnerline check` lists the coverage gaps of the next 90 days (issue 17, point 2): as
warnings that leave the exit status 0, as errors under `--strict`. Through the real command."""

from __future__ import annotations

import re
import shutil
from datetime import date, timedelta
from pathlib import Path

import pytest

from bot.cli import main as cli_main
from tests.support.app import EXAMPLE_CONFIG

SHARED_EXAMPLE = EXAMPLE_CONFIG.parents[2] / "shared" / "examples" / "agency.toml"

# An office open 09:00-17:00 on weekdays, and a night rotation that takes over only when the
# evening calendar (09:00-20:00) closes: 17:00-20:00 on every weekday nobody is on call.
GAPPY = """\
[agency]
name = "Gappy PR"
timezone = "America/Detroit"

[hours.office]
timezone = "America/Detroit"
monday = ["09:00-17:00"]
tuesday = ["09:00-17:00"]
wednesday = ["09:00-17:00"]
thursday = ["09:00-17:00"]
friday = ["09:00-17:00"]

[hours.evening]
timezone = "America/Detroit"
monday = ["09:00-20:00"]
tuesday = ["09:00-20:00"]
wednesday = ["09:00-20:00"]
thursday = ["09:00-20:00"]
friday = ["09:00-20:00"]

[commitments.priority]
hours = "office"
business = "30m"
after_hours = "1h"
page_oncall = "after_hours"

[commitments.standard]
hours = "office"
business = "4h"
after_hours = "next_business_day"

[[staff]]
id = "jim"
name = "Jim Miller"
sms = "+13135550101"
notify = ["sms"]

[[rotations]]
id = "nights"
members = ["jim"]
start = "2026-11-02T09:00"
shift = "1w"
hours = "evening"
only = "after_hours"

[escalations.default]
steps = [{ notify = ["rotation:nights"], wait = "10m" }]

[[clients]]
id = "acme"
name = "Acme Robotics"
commitment = "priority"
escalation = "default"
account_team = ["jim"]

[[clients.contacts]]
name = "Dana Reyes"
sms = "+13135550142"

[[clients]]
id = "bakery"
name = "Brightside Bakery"
commitment = "standard"
escalation = "default"
account_team = ["jim"]

[[clients.contacts]]
name = "Lucy Chen"
sms = "+13135550150"

[unknown_senders]
commitment = "standard"
account_team = ["jim"]
"""


def check(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[str]]:
    code = cli_main(["check", *args])
    return code, capsys.readouterr().out.splitlines()


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "agency.toml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def weekdays(first: date, days: int) -> int:
    return sum((first + timedelta(days=n)).weekday() < 5 for n in range(days))


@pytest.mark.parametrize("at", [[], ["--at", "2026-12-07T06:00:00+00:00"]], ids=["now", "at"])
def test_the_example_agency_has_no_coverage_gaps_and_passes_strict(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, at: list[str]
) -> None:
    for example in [p for p in (SHARED_EXAMPLE, EXAMPLE_CONFIG) if p.is_file()]:
        copy = tmp_path / "agency.toml"
        shutil.copy(example, copy)
        for strict in ([], ["--strict"]):
            code, out = check(capsys, "--config", str(copy), *strict, *at)
            assert (code, out) == (0, [f"{copy}: ok"])


def test_gaps_are_warnings_in_the_agency_zone_with_the_clients_and_exit_zero(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = write(tmp_path, GAPPY)
    code, out = check(capsys, "--config", path, "--at", "2026-12-07T12:00")  # agency time
    assert code == 0
    *gaps, last = out
    line = GAPPY[: GAPPY.index("[escalations.default]")].count("\n") + 1
    assert gaps[0] == (
        f"{path}:{line}: escalations.default: warning: coverage gap from Dec 7, 5:00 PM EST "
        "to Dec 7, 8:00 PM EST: nobody to page: rotation 'nights' is on call only after hours, "
        "and its calendar is open; clients: Acme Robotics (acme)"
    )
    # Every weekday evening of the 90 days; the bakery's tier never pages, so it is not named.
    assert len(gaps) == weekdays(date(2026, 12, 7), 90)
    assert all("clients: Acme Robotics (acme)" in g and "bakery" not in g for g in gaps)
    assert re.search(r"Mar 5 2027, 5:00 PM EST to Mar 5 2027, 8:00 PM EST", gaps[-1])
    assert last == f"{path}: ok, with {len(gaps)} coverage gap(s) in the next 90 days (warnings)"


def test_strict_makes_gaps_errors_with_the_error_exit_code(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = write(tmp_path, GAPPY)
    _, warned = check(capsys, "--config", path, "--at", "2026-12-07T17:00:00Z")
    code, out = check(capsys, "--config", path, "--at", "2026-12-07T17:00:00Z", "--strict")
    assert code == 1
    assert out == [w.replace(": warning: ", ": error: ") for w in warned[:-1]]
    # The same code as for a broken file.
    broken = write(tmp_path, GAPPY.replace('sms = "+13135550101"', 'sms = "555"'))
    assert check(capsys, "--config", broken)[0] == 1


def test_the_90_days_start_at_the_clock_and_a_gap_under_way_is_cut_there(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = write(tmp_path, GAPPY)
    _, out = check(capsys, "--config", path, "--at", "2026-12-07T18:30-05:00")
    assert "coverage gap from Dec 7, 6:30 PM EST to Dec 7, 8:00 PM EST" in out[0]
    assert len(out) - 1 == weekdays(date(2026, 12, 7), 90)


def test_a_filled_gap_is_no_warning(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    # The night rotation on the office's own calendar covers every closed hour.
    path = write(tmp_path, GAPPY.replace('hours = "evening"', 'hours = "office"'))
    assert check(capsys, "--config", path, "--strict") == (0, [f"{path}: ok"])


def test_a_bad_at_is_said_without_a_traceback(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = write(tmp_path, GAPPY)
    assert cli_main(["check", "--config", path, "--at", "tomorrow"]) == 1
    assert "--at 'tomorrow' is not an ISO 8601 date and time" in capsys.readouterr().err
