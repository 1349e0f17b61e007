"""An unexpected error answers 500 with a reference id that is in the log, and the keep-alive
connection it came on keeps working (uvicorn drops it when an error reaches the server).

The failure is real: the overrides table is renamed away for one request, so the on-call
queries of `/inbox/oncall` and `/api/oncall` raise inside the repository.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager

import httpx
import pytest
from fastapi.responses import StreamingResponse
from sqlalchemy import text

from adapters.standins.server import LoopbackServer
from adapters.standins.twilio import TwilioStandIn
from bot.bootstrap import build_container, create_app
from bot.config import load_config
from bot.http.server_errors import REFERENCE_HEADER
from routing.clock import FrozenClock
from storage.db import Database
from tests.browser.inbox_support import add_login, inbox_app, signed_in
from tests.e2e.conftest import MONDAY_MORNING
from tests.support.app import EXAMPLE_CONFIG, RunningApp, app_settings, free_port


@pytest.fixture
def web(db_url: str, twilio: TwilioStandIn) -> Iterator[RunningApp]:
    with inbox_app(db_url, twilio.url, clock=FrozenClock(MONDAY_MORNING)) as running:
        add_login(running.container, "jim", "jim", admin=True)
        yield running


@contextmanager
def overrides_table_gone(db_url: str) -> Iterator[None]:
    """Every query of the on-call overrides fails until the block ends."""
    db = Database(db_url)
    try:
        with db.engine.begin() as conn:
            conn.execute(text("ALTER TABLE oncall_overrides RENAME TO oncall_overrides_gone"))
        try:
            yield
        finally:
            with db.engine.begin() as conn:
                conn.execute(text("ALTER TABLE oncall_overrides_gone RENAME TO oncall_overrides"))
    finally:
        db.dispose()


@contextmanager
def connections_used(client: httpx.Client) -> Iterator[list[tuple[str, int]]]:
    """The local address of the connection each response came on."""
    seen: list[tuple[str, int]] = []

    def record(response: httpx.Response) -> None:
        stream = response.extensions["network_stream"]
        seen.append(stream.get_extra_info("client_addr"))

    client.event_hooks["response"] = [record]
    yield seen


def logged_with(caplog: pytest.LogCaptureFixture, reference: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if reference in r.getMessage() and r.exc_info is not None]


def test_a_failing_inbox_page_is_a_500_page_and_the_connection_survives(
    web: RunningApp, db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="bot.http.server_errors")
    with signed_in(web.url, "jim") as browser, connections_used(browser) as used:
        assert browser.get("/inbox/oncall").status_code == 200
        with overrides_table_gone(db_url):
            failed = browser.get("/inbox/oncall")
        after = browser.get("/inbox/oncall")

    assert failed.status_code == 500
    assert failed.headers["content-type"].startswith("text/html")
    reference = failed.headers[REFERENCE_HEADER]
    assert f"<code>{reference}</code>" in failed.text
    assert "Traceback" not in failed.text and "oncall_overrides" not in failed.text
    [record] = logged_with(caplog, reference)
    assert "/inbox/oncall" in record.getMessage()
    # The next page load works, on the very connection the error came on.
    assert after.status_code == 200 and "On call" in after.text
    assert len(used) == 3 and len(set(used)) == 1


def test_a_failing_api_route_is_a_json_500_and_the_connection_survives(
    web: RunningApp, db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="bot.http.server_errors")
    with web.api() as api, connections_used(api) as used:
        assert api.get("/api/oncall").status_code == 200
        with overrides_table_gone(db_url):
            failed = api.get("/api/oncall")
        after = api.get("/api/oncall")

    assert failed.status_code == 500
    body = failed.json()
    reference = body["reference"]
    assert failed.headers[REFERENCE_HEADER] == reference and reference in body["detail"]
    assert logged_with(caplog, reference)
    assert after.status_code == 200 and after.json()["rotations"]
    assert len(used) == 3 and len(set(used)) == 1


def test_a_stream_that_fails_midway_is_cut_off_not_passed_as_whole(
    db_url: str, twilio: TwilioStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    """Once a response has started, a 500 page is no longer possible: the connection is closed
    so that the client sees a cut-off body, and the reference is in the log all the same."""
    caplog.set_level(logging.ERROR, logger="bot.http.server_errors")
    port = free_port()
    settings = app_settings(db_url, twilio.url, f"http://127.0.0.1:{port}")
    container = build_container(settings, load_config(EXAMPLE_CONFIG))
    app = create_app(container)

    async def halfway() -> AsyncIterator[bytes]:
        yield b"first half\n"
        raise RuntimeError("the source of the stream failed")

    @app.get("/api/test-stream")  # test-only: a stream that fails after its first chunk
    async def stream() -> StreamingResponse:
        return StreamingResponse(halfway(), media_type="text/plain")

    server = LoopbackServer(app, port=port)
    server.start()
    try:
        with httpx.Client(base_url=server.url, timeout=10) as client:
            with pytest.raises(httpx.RemoteProtocolError):
                client.get("/api/test-stream")
            assert client.get("/healthz").status_code == 200  # on a new connection
    finally:
        server.stop()
        container.db.dispose()
    [record] = [r for r in caplog.records if "/api/test-stream" in r.getMessage()]
    assert record.exc_info is not None and "reference" in record.getMessage()
