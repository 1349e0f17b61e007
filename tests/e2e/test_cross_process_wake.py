"""`partnerline web` wakes the workers of other processes on PostgreSQL (LISTEN/NOTIFY,
storage/work_signal.py): with the workers' own look at what is due set to once a minute,
messages journalled by `web` are still filed within moments, one after another."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from adapters.standins.twilio import TwilioStandIn
from storage.db import Database
from tests.e2e.test_faults import burst_forms, wait_filed
from tests.support.app import free_port
from tests.support.processes import (
    Partnerline,
    partnerline_env,
    partnerline_process,
    post_signed_sms,
)

LOOK_EVERY_S = "60"  # PARTNERLINE_WORKER_MAX_SLEEP: without a signal, a minute's wait
FILED_WITHIN_S = 10.0  # each message, from its webhook's answer (a minute without the signal)


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_messages_journalled_by_web_wake_an_idle_worker_elsewhere(
    db_url: str,
    twilio: TwilioStandIn,
    tmp_path: Path,
    started: list[Partnerline],
) -> None:
    port = free_port()
    public = f"http://localhost:{port}"
    env = partnerline_env(db_url, twilio.url, public, PARTNERLINE_WORKER_MAX_SLEEP=LOOK_EVERY_S)
    web = partnerline_process("web", env, tmp_path, port=port).start()
    worker = partnerline_process("worker", env, tmp_path).start()
    started += [web, worker]
    web.wait_ready()
    worker.wait_ready()
    db = Database(db_url)
    took = []
    try:
        with httpx.Client(timeout=15) as client:
            for sid, form in burst_forms(3, "wake").items():
                time.sleep(1.0)  # the worker idle again: only a signal wakes it now
                status, _ = post_signed_sms(client, web.url, public, form)
                assert status == 200
                answered = time.monotonic()
                wait_filed(db, [sid], [web, worker], timeout=FILED_WITHIN_S)
                took.append(round(time.monotonic() - answered, 3))
    finally:
        db.dispose()
    print(f"\n[wake] filed after the webhook's answer, seconds: {took}")
    assert max(took) < FILED_WITHIN_S
