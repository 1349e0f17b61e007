"""`partnerline simulate` as an operator runs it: CSV, synthetic and recorded (database)
traffic, the JSON figures, the text summary, the HTML file, and one-line errors for bad input.

The configurations are the story agency (tests/data/story_agency.toml) and a proposal made
from it: the priority tier's after-hours promise 1h -> 2h and a second person (Kim) on the
first step of the escalation."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text as sql

from bot.cli import main as cli_main
from storage.db import Database
from tests.usecases.rig import ANA_AUTHOR, DANA, LUCY, STORY_CONFIG, build_rig

ROOT = Path(__file__).resolve().parents[2]
DETROIT_OFFSET = "-05:00"
COUNTS = "select (select count(*) from messages), (select count(*) from commitments)"


@pytest.fixture
def proposed(tmp_path: Path) -> Path:
    text = STORY_CONFIG.read_text(encoding="utf-8")
    text = text.replace('after_hours = "1h"', 'after_hours = "2h"', 1)
    text = text.replace(
        '{ notify = ["rotation:after-hours"], wait = "3s" }',
        '{ notify = ["rotation:after-hours", "staff:kim"], wait = "3s" }',
        1,
    )
    path = tmp_path / "proposed.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def traffic_csv(tmp_path: Path) -> Path:
    path = tmp_path / "traffic.csv"
    path.write_text(
        "at,client,contact,channel,answered_after\n"
        # Tuesday evening: after hours, priority (pages), answered after 90 minutes.
        f"2026-12-08T19:05:00{DETROIT_OFFSET},acme,Dana Reyes,sms,1h30m\n"
        # Wednesday morning, open: standard, answered in 20 minutes.
        "2026-12-09T10:00:00,brightside,Lucy Chen,sms,20m\n"
        # An unknown sender on Saturday, never answered.
        "2026-12-12T11:00:00,,+13135550199,sms,\n",
        encoding="utf-8",
    )
    return path


def simulate(*args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = cli_main(["simulate", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def figures(*args: str, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    code, out, err = simulate(*args, "--json", capsys=capsys)
    assert code == 0, err
    found: dict[str, Any] = json.loads(out)
    return found


def test_a_csv_replayed_under_the_same_configuration_differs_in_nothing(
    traffic_csv: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    story = str(STORY_CONFIG)
    result = figures(
        "--config", story, "--against", story, "--from", "2026-12-07", "--to", "2026-12-13",
        "--traffic", str(traffic_csv), capsys=capsys,
    )  # fmt: skip
    assert result["messages"] == 3
    assert result["differences"] == []
    current, proposed = result["current"], result["proposed"]
    assert current["totals"] == proposed["totals"]
    assert current["totals"]["commitments_started"] == 3
    assert current["totals"]["pages_opened"] == 1
    # Dana's after-hours promise is 1 hour; the recorded reply took 90 minutes: a breach.
    dana = current["commitments"][0]
    assert (dana["tier"], dana["after_hours"], dana["breached"]) == ("priority", True, True)
    assert datetime.fromisoformat(dana["due_at"]) == datetime.fromisoformat(
        f"2026-12-08T20:05:00{DETROIT_OFFSET}"
    )
    [ack_dana, ack_stranger] = current["acknowledgements"]
    assert "Raj is on call" in ack_dana["text"] and ack_dana["oncall_name"] == "Raj"
    assert ack_stranger["text"].startswith("Thanks there,")
    # The unknown sender was never answered and their due time (Monday) is past the week.
    assert [c["breached"] for c in current["commitments"]] == [True, False, False]


def test_a_proposal_shows_its_differences_with_examples(
    traffic_csv: Path, proposed: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = figures(
        "--config", str(proposed), "--against", str(STORY_CONFIG),
        "--from", "2026-12-07", "--to", "2026-12-13", "--traffic", str(traffic_csv),
        capsys=capsys,
    )  # fmt: skip
    kinds = {d["kind"]: d for d in result["differences"]}
    assert {"due_at", "promised_at", "breach", "paged_people"} <= set(kinds)
    [example] = kinds["breach"]["examples"]
    assert (example["client"], example["contact"]) == ("acme", "Dana Reyes")
    assert (example["current"], example["proposed"]) == ("breached", "met")
    assert result["current"]["totals"]["breaches"] == 1
    assert result["proposed"]["totals"]["breaches"] == 0
    kim = {p["staff"]: p for p in result["proposed"]["people"]}["kim"]
    assert kim["by_step"][0] == [1, 1]  # Kim is now paged at step 1

    code, text, _ = simulate(
        "--config", str(proposed), "--against", str(STORY_CONFIG),
        "--from", "2026-12-07", "--to", "2026-12-13", "--traffic", str(traffic_csv),
        capsys=capsys,
    )  # fmt: skip
    assert code == 0
    assert "breaches" in text and "Differences:" in text
    assert "acme / Dana Reyes: breached -> met" in text


def test_synthetic_traffic_is_the_same_for_the_same_seed(
    proposed: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def run(*seed: str) -> dict[str, Any]:
        return figures(
            "--config", str(proposed), "--against", str(STORY_CONFIG),
            "--from", "2026-12-01", "--to", "2026-12-14", "--traffic", "synthetic:25/day",
            *seed, capsys=capsys,
        )  # fmt: skip

    first, again, other = run(), run(), run("--seed", "5")
    assert first == again
    assert first["traffic"] == "synthetic 25/day, seed 17"
    assert first["proposed"]["commitments"] != other["proposed"]["commitments"]
    assert 14 * 25 * 0.7 < first["messages"] < 14 * 25 * 1.3
    night = sum(w["night_notifications"] for w in first["proposed"]["weeks"])
    assert night > 0  # a synthetic fortnight of this agency wakes people
    assert len(first["proposed"]["weeks"]) == 3  # Mondays Nov 30, Dec 7 and Dec 14


def test_recorded_traffic_comes_from_the_database_read_only(
    database: Database, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    tuesday_evening = datetime.fromisoformat(f"2026-12-08T19:05:00{DETROIT_OFFSET}")
    rig = build_rig(database, tuesday_evening)
    try:
        dana = rig.client_writes(DANA, "Our statement has a typo!")
        rig.advance_to(tuesday_evening + timedelta(seconds=2))
        rig.services.acknowledge(rig.page_of(dana).id, "raj", via="test")  # type: ignore[union-attr]
        rig.advance_to(tuesday_evening + timedelta(minutes=40))
        rig.services.reply(dana, "Fixed.", ANA_AUTHOR)
        rig.advance_to(tuesday_evening + timedelta(hours=15))  # Wednesday 10:05, open
        lucy = rig.client_writes(LUCY, "Are you open on the 24th?")
        rig.client_writes(LUCY, "And the 31st?")  # joins Lucy's commitment
        with rig.services.reader() as uow:
            live = [c for conv in (dana, lucy) for c, _ in uow.commitments.history(conv)]
            counts = uow.session.execute(sql(COUNTS)).one()
    finally:
        rig.container.inbound.stop()
    monkeypatch.setenv("DATABASE_URL", database.url)
    story = str(STORY_CONFIG)
    result = figures(
        "--config", story, "--against", story, "--from", "2026-12-08", "--to", "2026-12-09",
        capsys=capsys,
    )  # fmt: skip

    assert result["traffic"] == "recorded in the database" and result["messages"] == 3
    simulated = result["current"]["commitments"]
    assert [
        (datetime.fromisoformat(c["message_at"]), datetime.fromisoformat(c["due_at"]), c["tier"])
        for c in simulated
    ] == [(c.started_at, c.due_at, c.tier) for c in live]
    assert simulated[1]["messages"] == 2
    # The recorded answer (40 minutes) and acknowledgement (2 seconds) were replayed.
    assert simulated[0]["breached"] is False
    [page] = result["current"]["pages"]
    assert page["ended"] == "acknowledged" and page["steps_reached"] == 1
    assert [n["staff"] for n in page["notifications"]] == ["raj"]
    with database.engine.connect() as conn:  # nothing was written
        after = conn.execute(sql(COUNTS)).one()
    assert tuple(after) == tuple(counts)


def test_the_installed_command_writes_the_html_report(
    traffic_csv: Path, proposed: Path, tmp_path: Path
) -> None:
    out = tmp_path / "whatif.html"
    env = {**os.environ, "PARTNERLINE_CONFIG": str(STORY_CONFIG)}  # --against's default
    run = subprocess.run(
        [sys.executable, "-m", "bot.cli", "simulate", "--config", str(proposed),
         "--from", "2026-12-07", "--to", "2026-12-13", "--traffic", str(traffic_csv),
         "--out", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert run.stdout == f"wrote {out}\n"
    html = out.read_text(encoding="utf-8")
    assert html.lstrip().lower().startswith("<!doctype html>")
    assert "<script src" not in html and "<link" not in html  # self-contained

    with_json = subprocess.run(
        [sys.executable, "-m", "bot.cli", "simulate", "--config", str(proposed),
         "--from", "2026-12-07", "--to", "2026-12-13", "--traffic", str(traffic_csv),
         "--out", str(out), "--json"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert with_json.returncode == 0, with_json.stderr
    assert json.loads(with_json.stdout)["messages"] == 3  # stdout stays JSON
    assert f"wrote {out}" in with_json.stderr


@pytest.mark.parametrize(
    ("args", "code", "said"),
    [
        (["--from", "2026-02-30", "--to", "2026-03-01"], 2, "--from '2026-02-30' is not a date"),
        (["--from", "2026-03-02", "--to", "2026-03-01"], 2, "--to 2026-03-01 is before --from"),
        (["--from", "2020-01-01", "--to", "2026-03-01"], 2, "at most 1098 days"),
        (["--traffic", "synthetic:lots"], 2, "expected synthetic:N/day with N > 0"),
        (["--traffic", "synthetic:400000/day"], 2, "2,800,000 messages; at most 2,000,000"),
        (["--traffic", "nowhere.csv"], 2, "'nowhere.csv': no such file"),
        (["--traffic", "db", "--seed", "3"], 2, "--seed is for --traffic synthetic:N/day"),
    ],
)
def test_bad_arguments_are_one_line_and_exit_2(
    args: list[str], code: int, said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    base = {"--from": "2026-12-07", "--to": "2026-12-13", "--traffic": "synthetic:5/day"}
    for option, value in zip(args[::2], args[1::2], strict=True):
        base[option] = value
    flat = [x for pair in base.items() for x in pair]
    story = str(STORY_CONFIG)
    got, out, err = simulate("--config", story, "--against", story, *flat, capsys=capsys)
    assert (got, out) == (code, "")
    assert err.count("\n") == 1 and said in err, err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("row", "said"),
    [
        ("yesterday,acme,Dana Reyes,sms", "traffic.csv:2: at: 'yesterday' is not an ISO 8601"),
        ("2026-12-08T10:00,acme,Dana Reyes,fax", "traffic.csv:2: channel: 'fax' is not one of"),
        ("2026-12-08T10:00,acme,,sms", "traffic.csv:2: contact: empty"),
        ("2026-12-08T10:00,acme", "traffic.csv:2: expected at, client, contact, channel"),
        ("2026-12-08T10:00,acme,Dana,sms,soon", "traffic.csv:2: answered_after: 'soon'"),
    ],
)
def test_a_bad_csv_row_is_named_by_its_line(
    row: str, said: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "traffic.csv"
    path.write_text(f"at,client,contact,channel\n{row}\n", encoding="utf-8")
    story = str(STORY_CONFIG)
    code, out, err = simulate(
        "--config", story, "--against", story, "--from", "2026-12-07", "--to", "2026-12-13",
        "--traffic", str(path), capsys=capsys,
    )  # fmt: skip
    assert (code, out) == (1, "")
    assert said in err and err.count("\n") == 1, err


def test_without_a_current_configuration_it_says_how_to_name_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PARTNERLINE_CONFIG", raising=False)
    code, _, err = simulate(
        "--config", str(STORY_CONFIG), "--from", "2026-12-07", "--to", "2026-12-13",
        "--traffic", "synthetic:5/day", capsys=capsys,
    )  # fmt: skip
    assert code == 2 and "name one with --against FILE" in err
    broken = tmp_path / "broken.toml"
    broken.write_text("[agency]\nname = 1\n", encoding="utf-8")
    code, _, err = simulate(
        "--config", str(broken), "--against", str(STORY_CONFIG), "--from", "2026-12-07",
        "--to", "2026-12-13", "--traffic", "synthetic:5/day", capsys=capsys,
    )  # fmt: skip
    assert code == 1 and "broken.toml" in err and "Traceback" not in err
