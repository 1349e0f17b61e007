"""The `partnerline` command as an operator meets it: `--help` loads no framework, database or
SDK (what made it take seconds); a missing configuration file says what was looked for and
how to name one; `serve` says each start-up fact in one line.

Real processes (`python -m bot.cli`), configured by environment only, as tests.support.processes
starts them.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.support.app import EXAMPLE_CONFIG, LOOPBACK_TLS, ROOT, free_port
from tests.support.processes import partnerline_env, partnerline_process

HEAVY = ("fastapi", "starlette", "sqlalchemy", "alembic", "slack_sdk", "slack_bolt", "twilio",
         "telegram", "uvicorn", "pydantic", "httpx")  # fmt: skip


def cli_env(**extra: str) -> dict[str, str]:
    """This process's environment without PARTNERLINE_CONFIG or DATABASE_URL, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if k not in ("PARTNERLINE_CONFIG", "DATABASE_URL")}
    return {**env, **extra}


def cli(*args: str, cwd: Path = ROOT, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        cwd=cwd,
        env=cli_env(**env),
        capture_output=True,
        text=True,
        timeout=60,
    )


# ---------------------------------------------------------------------------- --help


@pytest.mark.parametrize(
    "args",
    [["--help"], ["serve", "--help"], ["oncall", "--help"], ["telegram", "--help"], ["check"]],
    ids=["help", "serve-help", "oncall-help", "telegram-help", "no-command-args"],
)
def test_help_imports_no_framework_database_or_sdk(args: list[str]) -> None:
    # `check` with a missing file stands for a command that fails before it needs anything.
    program = (
        "import json, sys\n"
        "from bot.cli import main\n"
        "try:\n"
        f"    main({args!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        f"heavy = sorted({{m.split('.')[0] for m in sys.modules}} & set({list(HEAVY)!r}))\n"
        "print(json.dumps(heavy), file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", program],
        cwd=ROOT,
        env=cli_env(PARTNERLINE_CONFIG="/nonexistent/partnerline.toml"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    loaded = json.loads(done.stderr.strip().splitlines()[-1])
    assert loaded == [], f"partnerline {' '.join(args)} imported {loaded}"
    if args[-1] == "--help":
        assert "usage: partnerline" in done.stdout


def test_help_names_the_contract_and_the_config_default() -> None:
    top = cli("--help")
    assert top.returncode == 0
    assert "docs/CONTRACT.md" in top.stdout
    oncall = cli("oncall", "--help")
    assert "$PARTNERLINE_CONFIG, then ./partnerline.toml" in " ".join(oncall.stdout.split())


# ---------------------------------------------------------------------------- missing config


@pytest.mark.parametrize("command", [["oncall"], ["check"], ["serve"], ["users", "add", "x",
                                     "--staff", "jim"]])  # fmt: skip
def test_a_missing_default_config_says_what_was_looked_for_and_how_to_name_one(
    command: list[str],
) -> None:
    done = cli(*command)  # in the repository, with no ./partnerline.toml and no variable
    assert not (ROOT / "partnerline.toml").exists()
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert "looked for ./partnerline.toml" in done.stderr
    assert "--config FILE or PARTNERLINE_CONFIG=FILE" in done.stderr
    # The example that `make run` serves is at hand here, so it is named.
    assert "--config examples/agency.toml" in done.stderr


def test_a_missing_named_config_says_which_name(tmp_path: Path) -> None:
    by_flag = cli("oncall", "--config", "nowhere.toml", cwd=tmp_path)
    assert by_flag.returncode == 1
    assert by_flag.stderr.startswith("--config nowhere.toml: no such file")
    assert "examples/agency.toml" not in by_flag.stderr  # not in this directory
    by_env = cli("check", cwd=tmp_path, PARTNERLINE_CONFIG="gone.toml")
    assert by_env.returncode == 1
    assert by_env.stderr.startswith("PARTNERLINE_CONFIG=gone.toml: no such file")
    assert "--config FILE" in by_env.stderr


def test_the_readme_examples_name_the_config_they_mean() -> None:
    """`make run` serves examples/agency.toml; a README command meant for it says so."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "partnerline oncall --config examples/agency.toml" in readme
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "partnerline serve --sandbox --config" in makefile


# ---------------------------------------------------------------------------- serve's start-up


def start_up_log(env: dict[str, str], tmp_path: Path, *args: str) -> tuple[str, int]:
    """Start `serve ARGS`, wait until /readyz answers, stop it: its log, and its port."""
    port = free_port()
    log = tmp_path / f"serve-{port}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "serve", "--port", str(port), *args],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, log.read_text(errors="replace")
            assert time.monotonic() < deadline, log.read_text(errors="replace")
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", verify=LOOPBACK_TLS).is_success:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    return log.read_text(errors="replace"), port


def assert_one_line_per_fact(text: str, port: int) -> None:
    lines = text.splitlines()
    serving = [line for line in lines if "serving at" in line]
    assert len(serving) == 1, text
    assert serving[0].endswith(f"serving at http://127.0.0.1:{port}"), text
    assert not [line for line in lines if "alembic" in line], text
    assert not [line for line in lines if "uvicorn" in line.lower()], text
    assert "Started server process" not in text and "Application startup" not in text, text
    for prefix in ("database: ", "configuration: ", "sms: ", "telegram: ", "slack: "):
        assert len([line for line in lines if f"partnerline: {prefix}" in line]) == 1, (
            prefix,
            text,
        )


def test_serve_says_each_start_up_fact_once_and_how_to_make_a_login(tmp_path: Path) -> None:
    env = partnerline_env(
        f"sqlite:///{tmp_path / 'fresh.db'}", "http://127.0.0.1:9", "http://localhost:9"
    )
    text, port = start_up_log(env, tmp_path)
    assert_one_line_per_fact(text, port)
    assert "database: created, at migration" in text
    # PARTNERLINE_CONFIG names a file that is not the default: other commands need it too.
    flag = f"--config {EXAMPLE_CONFIG}"
    assert f"e.g. `partnerline oncall {flag}`" in text
    (hint,) = [line for line in text.splitlines() if "no inbox login yet" in line]
    assert hint.endswith(f"`partnerline users add LOGIN --staff jim --admin {flag}`")

    made = subprocess.run(
        [sys.executable, "-m", "bot.cli", "users", "add", "jim", "--staff", "jim",
         "--password-stdin"],
        cwd=ROOT, env=env, input="a long enough password\n", capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    again, port = start_up_log(env, tmp_path)
    assert_one_line_per_fact(again, port)
    assert "database: at migration" in again and "nothing to apply" in again
    assert "no inbox login yet" not in again


def test_serve_sandbox_says_each_fact_once_though_four_servers_run(tmp_path: Path) -> None:
    env = partnerline_env(
        f"sqlite:///{tmp_path / 'sandbox.db'}", "http://127.0.0.1:9", "http://localhost:9"
    )
    text, port = start_up_log(env, tmp_path, "--sandbox")
    assert_one_line_per_fact(text, port)
    assert f"sandbox: sign in at http://127.0.0.1:{port}/login as sandbox / " in text
    assert "no inbox login yet" not in text  # the sandbox made one
    assert "telegram.ext" not in text  # the channel's own line says the bot started


def test_db_upgrade_says_what_it_did_in_one_line(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'up.db'}"
    first = cli("db", "upgrade", DATABASE_URL=url)
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("database: created, at migration ")
    assert "alembic" not in first.stderr and "Running upgrade" not in first.stderr
    second = cli("db", "upgrade", DATABASE_URL=url)
    assert second.stdout.strip().endswith("nothing to apply")


def test_the_missing_config_check_runs_before_anything_starts(tmp_path: Path) -> None:
    env = partnerline_env(f"sqlite:///{tmp_path / 'x.db'}", "http://127.0.0.1:9", "http://x")
    env["PARTNERLINE_CONFIG"] = str(tmp_path / "missing.toml")
    process = partnerline_process("serve", env, tmp_path).start()
    assert process.proc is not None
    assert process.proc.wait(60) == 1
    log = process.log_tail()
    assert f"PARTNERLINE_CONFIG={tmp_path / 'missing.toml'}: no such file" in log
    assert not (tmp_path / "x.db").exists()  # nothing was migrated for a file that is not there
