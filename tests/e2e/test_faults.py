"""Fault tests: real `partnerline web`, `worker` and `serve` processes, configured by environment
as an operator runs them, meet the faults of production, and no client message is lost.

- PostgreSQL restarts while 200 SMS webhooks arrive (a private cluster, so the machine's shared
  server is left alone): every webhook answered 2xx is filed exactly once, every one refused
  was answered 5xx (or got no answer), never 4xx, so Twilio delivers it again; delivered again,
  all 200 are filed exactly once.
- Twilio is down for two minutes (answering 503, then refusing connections) while staff reply:
  once it is back every reply reaches its client once, in the order written.
- `partnerline web` is SIGKILLed mid-burst: every webhook answered 2xx before the kill is filed,
  and once the unanswered ones are delivered again each is filed exactly once.

Each test prints what it observed (answers by class, messages filed); run with `-s` to see.
"""

from __future__ import annotations

import os
import pwd
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from adapters.standins.twilio import TwilioStandIn
from storage.db import Database
from storage.tables import MessageRow, OutboxRow
from tests.conftest import REQUIRE_PG
from tests.e2e.test_sms_flow import eventually
from tests.support.app import ACCOUNT_SID, ADMIN_TOKEN, AUTH_TOKEN, free_port
from tests.support.processes import (
    Burst,
    Partnerline,
    PrivateCluster,
    partnerline_env,
    partnerline_process,
    post_signed_sms,
    postgres_bindir,
    redeliver,
    run_cli,
    send_burst,
    sms_form,
)

pytestmark = [pytest.mark.faults, pytest.mark.slow]

# Four contacts of examples/agency.toml (Dana, Omar, Lucy, George) and one unknown sender.
SENDERS = ("+13135550142", "+13135550143", "+13135550150", "+447700900123", "+13135550199")
# Three clients staff answer through the Twilio outage: Dana (Acme), Lucy (Brightside), George.
CLIENTS = ("+13135550142", "+13135550150", "+447700900123")
DOWN_FOR = 3.0  # seconds PostgreSQL stays down
OUTAGE = 120.0  # seconds Twilio is down: longer than the first tries of the backoff
ROUNDS = 4  # replies written at 0, 30, 60 and 90 s into the outage, one per client each time


def new_sid() -> str:
    return "SM" + uuid.uuid4().hex  # Twilio's shape: SM and 32 hex digits


def burst_forms(count: int, tag: str) -> dict[str, dict[str, str]]:
    forms = [sms_form(new_sid(), SENDERS[n % len(SENDERS)], f"{tag} {n}") for n in range(count)]
    return {form["MessageSid"]: form for form in forms}


def filed(db: Database, sids: list[str]) -> Counter[str]:
    """How many message rows each MessageSid has (filed in a conversation)."""
    counts: Counter[str] = Counter()
    with db.session() as s:
        for start in range(0, len(sids), 500):
            rows = s.execute(
                select(MessageRow.provider_id, func.count())
                .where(MessageRow.channel == "sms", MessageRow.provider_id.in_(sids[start:][:500]))
                .group_by(MessageRow.provider_id)
            ).all()
            counts.update({sid: n for sid, n in rows})
    return counts


def wait_filed(db: Database, sids: list[str], processes: list[Partnerline], timeout: float) -> None:
    """Until every one of `sids` is filed (the worker routes asynchronously)."""

    def all_filed() -> bool:
        for process in processes:
            process.check_alive()
        return len(filed(db, sids)) == len(sids)

    try:
        eventually(all_filed, timeout=timeout)
    except AssertionError:
        missing = sorted(set(sids) - set(filed(db, sids)))
        logs = "\n".join(f"--- {p.command}:\n{p.log_tail(3000)}" for p in processes)
        raise AssertionError(
            f"{len(missing)} of {len(sids)} never filed, e.g. {missing[:3]}\n{logs}"
        ) from None


def assert_each_filed_once(db: Database, sids: list[str]) -> None:
    counts = filed(db, sids)
    assert sorted(set(sids) - set(counts)) == []
    assert {sid: n for sid, n in counts.items() if n != 1} == {}


def report(name: str, **figures: Any) -> None:
    print(f"\n[faults] {name}: " + ", ".join(f"{k}={v}" for k, v in figures.items()))


# --- 1. PostgreSQL restarts while 200 messages arrive ----------------------------------------


@pytest.fixture
def cluster() -> Iterator[PrivateCluster]:
    bindir = postgres_bindir()
    reason = None
    if bindir is None:
        reason = "PostgreSQL server binaries (initdb, pg_ctl) not in /usr/lib/postgresql/*/bin"
    elif os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            reason = "running as root and there is no `postgres` user to run a private cluster"
    if reason is not None:
        if REQUIRE_PG:
            pytest.fail(f"PARTNERLINE_REQUIRE_POSTGRES=1 but {reason}")
        pytest.skip(reason)
    assert bindir is not None
    private = PrivateCluster(bindir)
    try:
        yield private.create()
    finally:
        private.destroy()


def test_a_postgresql_restart_while_200_messages_arrive_loses_none(
    cluster: PrivateCluster, twilio: TwilioStandIn, tmp_path: Path, started: list[Partnerline]
) -> None:
    began = time.monotonic()
    port = free_port()
    public = f"http://localhost:{port}"
    env = partnerline_env(cluster.url, twilio.url, public)
    run_cli(["db", "upgrade"], env)
    web = partnerline_process("web", env, tmp_path, port=port).start()
    worker = partnerline_process("worker", env, tmp_path).start()
    started += [web, worker]
    web.wait_ready()
    worker.wait_ready()

    forms = burst_forms(200, "pg restart")
    burst = Burst()
    # Four senders, each pausing 0.1 s: about five seconds of traffic around the restart.
    sending = threading.Thread(
        target=send_burst, args=(web.url, public, forms.values(), burst),
        kwargs={"threads": 4, "pace": 0.1}, daemon=True,
    )  # fmt: skip
    sending.start()
    eventually(lambda: burst.answered() >= 50, timeout=60)
    stopped_at = time.monotonic()
    cluster.stop("fast")  # aborts the open transactions, closes every connection
    # Down for three seconds (the worker's own retries meet it too), and until at least 20
    # webhooks have been answered while no database ran.
    eventually(
        lambda: (
            time.monotonic() - stopped_at >= DOWN_FOR
            and sum(burst.tally(since=stopped_at).values()) >= 20
        ),
        timeout=30,
    )
    cluster.start()
    restarted_at = time.monotonic()
    sending.join(120)
    assert not sending.is_alive()

    first = burst.tally()
    accepted, refused = burst.accepted(), burst.not_accepted()
    report(
        "postgresql restart, first delivery",
        answered_2xx=first["2xx"], answered_5xx=first["5xx"], answered_4xx=first["4xx"],
        dropped=first["dropped"], why_dropped=dict(burst.drops),
        between_stop_and_start=dict(burst.tally(since=stopped_at, until=restarted_at)),
        after_restart=dict(burst.tally(since=restarted_at)),
    )  # fmt: skip
    # Refused means "deliver again": 5xx or no answer, never 4xx (Twilio would give up).
    assert first["4xx"] == 0, first
    assert first["5xx"] + first["dropped"] == len(refused) > 0, first
    db = Database(cluster.url)
    try:
        wait_filed(db, accepted, [web, worker], timeout=90)
        assert_each_filed_once(db, accepted)  # every 2xx was on disk before it was answered
        refused_but_stored = len(filed(db, refused))
        resent = redeliver(web.url, public, forms, burst)
        wait_filed(db, list(forms), [web, worker], timeout=90)
        assert_each_filed_once(db, list(forms))
        total_filed = sum(filed(db, list(forms)).values())
    finally:
        db.dispose()
    report(
        "postgresql restart, after redelivery",
        refused_but_already_stored=refused_but_stored, redelivered_requests=resent,
        filed=total_filed, seconds=round(time.monotonic() - began, 1),
    )  # fmt: skip


# --- 2. Twilio down for two minutes while staff reply -----------------------------------------


def admin_api(process: Partnerline) -> httpx.Client:
    return httpx.Client(
        base_url=process.url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=15
    )


def open_conversations(serve: Partnerline, public: str) -> dict[str, int]:
    """Each of CLIENTS texts in; their conversation ids, once the worker has filed them."""
    with httpx.Client(timeout=15) as client:
        for n, number in enumerate(CLIENTS):
            form = sms_form(new_sid(), number, f"are you there? ({n})")
            assert post_signed_sms(client, serve.url, public, form) == (200, None)

    def ids() -> dict[str, int]:
        serve.check_alive()
        with admin_api(serve) as api:
            response = api.get("/api/conversations", params={"channel": "sms", "limit": 500})
        assert response.status_code == 200, response.text
        found = {c["contact"]["address"]: int(c["id"]) for c in response.json()["items"]}
        return {number: found[number] for number in CLIENTS if number in found}

    return eventually(lambda: len(ids()) == len(CLIENTS) and ids(), timeout=60)  # type: ignore[no-any-return]


def replies_received(twilio: TwilioStandIn) -> dict[str, list[str]]:
    """What each client received of the test's replies (acknowledgements left out), in the
    order Twilio accepted them."""
    return {
        number: [m["body"] for m in twilio.sent_to(number) if m["body"].startswith("Reply ")]
        for number in CLIENTS
    }


def reply_states(db: Database) -> Counter[str]:
    with db.session() as s:
        return Counter(
            s.execute(select(OutboxRow.state).where(OutboxRow.kind == "reply")).scalars()
        )


def sends_tried(twilio: TwilioStandIn) -> int:
    return sum(1 for r in twilio.requests.all() if r.path.endswith("/Messages.json"))


def sleep_until(instant: float) -> None:
    time.sleep(max(0.0, instant - time.monotonic()))


@pytest.mark.slow
@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_replies_written_through_a_two_minute_twilio_outage_arrive_once_in_order(
    db_url: str, tmp_path: Path, started: list[Partnerline]
) -> None:
    began = time.monotonic()
    # A stand-in of its own: this test stops its server, and others share the session's.
    twilio = TwilioStandIn(ACCOUNT_SID, AUTH_TOKEN).start()
    port = free_port()
    public = f"http://localhost:{port}"
    # Retries at most 5 s apart, and none given up within the outage.
    env = partnerline_env(
        db_url, twilio.url, public,
        PARTNERLINE_OUTBOX_BACKOFF="0.5", PARTNERLINE_OUTBOX_BACKOFF_CAP="5",
        PARTNERLINE_OUTBOX_MAX_ATTEMPTS="1000", PARTNERLINE_SEND_TIMEOUT="5",
    )  # fmt: skip
    serve = partnerline_process("serve", env, tmp_path, port=port).start()
    started.append(serve)
    db = Database(db_url)
    written: dict[str, list[str]] = {number: [] for number in CLIENTS}
    try:
        serve.wait_ready()
        conversations = open_conversations(serve, public)
        # For the first half of the outage Twilio answers 503; for the second it refuses
        # connections. Staff write to every client four times over the two minutes.
        tried_before = sends_tried(twilio)
        twilio.fail_always(503, 20503, "Service Unavailable")
        down_at = time.monotonic()
        tried_while_503 = 0
        for round_ in range(ROUNDS):
            sleep_until(down_at + round_ * OUTAGE / ROUNDS)  # the outage goes on meanwhile
            if round_ == ROUNDS // 2:
                tried_while_503 = sends_tried(twilio) - tried_before
                twilio.recover()
                twilio.stop()
            serve.check_alive()
            assert replies_received(twilio) == {n: [] for n in CLIENTS}
            with admin_api(serve) as api:
                for i, number in enumerate(CLIENTS):
                    text = f"Reply {round_ + 1} of {ROUNDS} to client {i}"
                    path = f"/api/conversations/{conversations[number]}/reply"
                    response = api.post(path, json={"text": text})
                    assert response.status_code == 202, response.text
                    written[number].append(text)
        sleep_until(down_at + OUTAGE)
        during = reply_states(db)
        twilio.start()
        back_at = time.monotonic()

        def all_arrived_or_given_up() -> bool:
            serve.check_alive()
            received = replies_received(twilio)
            arrived = all(len(received[n]) >= len(written[n]) for n in CLIENTS)
            return arrived or reply_states(db)["failed"] > 0  # the latter fails below

        eventually(all_arrived_or_given_up, timeout=90)
        arrived_after = time.monotonic() - back_at
        # Settled: no reply waits or is in flight, so none can still arrive a second time.
        eventually(lambda: not {"pending", "sending"} & set(reply_states(db)), timeout=30)
        settled = reply_states(db)
        received = replies_received(twilio)
        with admin_api(serve) as api:
            shown = {n: api.get(f"/api/conversations/{c}").json() for n, c in conversations.items()}
    finally:
        db.dispose()
        twilio.stop()
    report(
        "twilio outage",
        replies=sum(map(len, written.values())), sends_answered_503=tried_while_503,
        outbox_at_end_of_outage=dict(during), outbox_settled=dict(settled),
        received=sum(map(len, received.values())),
        all_arrived_seconds_after_recovery=round(arrived_after, 1),
        seconds=round(time.monotonic() - began, 1),
    )  # fmt: skip
    assert tried_while_503 > 0  # the worker met the outage and kept trying
    assert during["failed"] == 0, during  # nothing given up while Twilio was down
    assert set(settled) == {"sent"}, settled
    assert received == written  # each reply once, per client in the order written
    for number, conversation in shown.items():
        out = [m for m in conversation["messages"] if m["direction"] == "out"]
        assert [m["text"] for m in out] == written[number]
        assert {m["delivery"] for m in out} == {"sent"}


# --- 3. `partnerline web` SIGKILLed mid-burst ------------------------------------------------


def test_web_killed_mid_burst_loses_no_journalled_delivery(
    db_url: str, twilio: TwilioStandIn, tmp_path: Path, started: list[Partnerline]
) -> None:
    began = time.monotonic()
    port = free_port()
    public = f"http://localhost:{port}"
    env = partnerline_env(db_url, twilio.url, public)
    web = partnerline_process("web", env, tmp_path, port=port).start()
    worker = partnerline_process("worker", env, tmp_path).start()
    started += [web, worker]
    web.wait_ready()
    worker.wait_ready()

    forms = burst_forms(300, "web kill")
    burst = Burst()
    sending = threading.Thread(
        target=send_burst, args=(web.url, public, forms.values(), burst),
        kwargs={"threads": 4, "pace": 0.02}, daemon=True,
    )  # fmt: skip
    sending.start()
    eventually(lambda: burst.answered() >= 100, timeout=60)
    web.kill()
    killed_at = time.monotonic()
    sending.join(120)  # the rest meet a closed port: no answer, so Twilio will retry them
    assert not sending.is_alive()
    first = burst.tally()
    accepted, unanswered = burst.accepted(), burst.not_accepted()
    report(
        f"web SIGKILL ({db_url.split(':')[0]})",
        answered_2xx=first["2xx"], answered_5xx=first["5xx"], answered_4xx=first["4xx"],
        dropped=first["dropped"], cut_by_kill=burst.tally(until=killed_at)["dropped"],
        why_dropped=dict(burst.drops),
    )  # fmt: skip
    assert first["4xx"] == 0, first
    assert first["dropped"] > 0, first  # the kill landed inside the burst

    db = Database(db_url)
    try:
        # Before web is back: what was answered 2xx is journalled, and the worker files it.
        wait_filed(db, accepted, [worker], timeout=90)
        assert_each_filed_once(db, accepted)
        unanswered_but_stored = len(filed(db, unanswered))
        web.start()
        web.wait_ready()
        resent = redeliver(web.url, public, forms, burst)
        wait_filed(db, list(forms), [web, worker], timeout=90)
        assert_each_filed_once(db, list(forms))
        total_filed = sum(filed(db, list(forms)).values())
    finally:
        db.dispose()
    report(
        "web SIGKILL, after redelivery",
        unanswered_but_already_stored=unanswered_but_stored, redelivered_requests=resent,
        filed=total_filed, seconds=round(time.monotonic() - began, 1),
    )  # fmt: skip
