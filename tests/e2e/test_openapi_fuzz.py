"""The staff API against its own OpenAPI document, fuzzed by schemathesis: no input is a 5xx,
and every answer (status, content type, body) is one the document declares.

A fixed seed and a bounded number of examples per operation keep it the same build to build;
the app holds a few real conversations, a page and an override so that ids 1..n exist and the
success answers are checked as well as the refusals.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters.standins.twilio import TwilioStandIn
from routing.clock import OffsetClock
from tests.e2e.test_escalation import DANA, GEORGE, STORY_CONFIG, TUESDAY_EVENING, pages, text
from tests.e2e.test_sms_flow import eventually
from tests.support.app import ADMIN_TOKEN, RunningApp, running_app

EXAMPLES = 15


@pytest.fixture
def seeded(db_url: str, twilio: TwilioStandIn) -> Iterator[RunningApp]:
    with running_app(
        db_url, twilio.url, clock=OffsetClock(TUESDAY_EVENING), config_path=STORY_CONFIG
    ) as app:
        text(app, DANA, "The statement has a typo!")
        text(app, GEORGE, "Our launch post is wrong")
        eventually(lambda: len(pages(app)) == 2)
        with app.api() as api:
            override = {
                "rotation": "after-hours",
                "staff": "jim",
                "start": "2026-12-09T09:00:00-05:00",
                "end": "2026-12-09T17:00:00-05:00",
            }
            assert api.post("/api/overrides", json=override).status_code == 201
        yield app


# On PostgreSQL alone: its 32-bit keys and strict types are where input overflows (about a
# minute of fuzzing; test_no_server_errors.py walks the known edges on both databases).
@pytest.mark.slow
@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_the_api_answers_as_its_document_says(seeded: RunningApp, tmp_path: Path) -> None:
    # The command line rather than schemathesis' pytest plugin, which pytest 9 broke: it runs
    # every phase (examples, coverage of the edges of each schema, fuzzing, stateful links).
    command = [
        str(Path(sys.executable).with_name("st")),
        "run",
        f"{seeded.url}/openapi.json",
        "--header",
        f"Authorization: Bearer {ADMIN_TOKEN}",
        "--checks",
        "all",
        # A schema cannot say "a rotation that exists": a well-formed override for an unknown
        # rotation is rightly a 400, which this check would call a rejected valid request.
        "--exclude-checks",
        "positive_data_acceptance",
        "--max-examples",
        str(EXAMPLES),
        "--seed",
        "20261206",
        "--generation-database",
        "none",
        "--workers",
        "1",
        "--no-color",
        "--report",
        "junit",
        "--report-dir",
        str(tmp_path),
    ]
    run = subprocess.run(
        command, capture_output=True, text=True, timeout=600, check=False, cwd=tmp_path
    )
    summary = run.stdout[-6000:]
    assert run.returncode == 0, f"schemathesis found problems:\n{summary}\n{run.stderr[-2000:]}"
    # It did test every operation of the document, not an empty or unreachable one.
    [tested] = re.findall(r"Tested: (\d+)", run.stdout)
    assert int(tested) >= 19, summary
