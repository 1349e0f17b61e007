"""Run the real Partnerline app (create_app, worker included) on loopback for tests."""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from adapters.standins.server import LoopbackServer
from bot.bootstrap import build_container, create_app
from bot.config import load_config
from bot.container import Container
from bot.settings import Settings
from routing.clock import Clock
from tests.support.twilio_signing import signed_form_post_headers

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_CONFIG = ROOT / "examples" / "agency.toml"
ADMIN_TOKEN = "test-admin-token"
ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "test-twilio-auth-token"
AGENCY_NUMBER = "+13135550100"
# One TLS context for every test client (`verify=LOOPBACK_TLS`): httpx otherwise builds one
# per client, loading the CA bundle, about 20 ms of CPU each, for clients that speak plain
# HTTP to loopback; the suite makes thousands of them.
LOOPBACK_TLS = ssl.create_default_context()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class RunningApp:
    container: Container
    server: LoopbackServer
    public_url: str

    @property
    def url(self) -> str:
        return self.server.url

    def api(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.url,
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
            timeout=10,
            verify=LOOPBACK_TLS,
        )

    def sms_form(self, sid: str, sender: str, body: str, **extra: str) -> dict[str, str]:
        return {
            "MessageSid": sid,
            "SmsSid": sid,
            "AccountSid": ACCOUNT_SID,
            "From": sender,
            "To": AGENCY_NUMBER,
            "Body": body,
            "NumMedia": "0",
            "ApiVersion": "2010-04-01",
            **extra,
        }

    def post_sms(
        self,
        params: dict[str, str],
        *,
        sign_url: str | None = None,
        token: str = AUTH_TOKEN,
        client: httpx.Client | None = None,
        wait: bool = True,
    ) -> httpx.Response:
        """POST an inbound SMS webhook signed as Twilio signs it (over the public URL); with
        `wait`, return once the worker has routed what was journalled."""
        path = "/webhooks/twilio/sms"
        headers, body = signed_form_post_headers(token, sign_url or self.public_url + path, params)
        if client is not None:
            response = client.post(self.url + path, content=body, headers=headers)
        else:
            response = httpx.post(
                self.url + path, content=body, headers=headers, timeout=10, verify=LOOPBACK_TLS
            )
        if wait:
            self.wait_routed()
        return response

    def wait_routed(self, timeout: float = 10.0) -> None:
        """Until no journalled delivery nor its follow-up (commitment, acknowledgement, page)
        waits for the worker (routing is asynchronous)."""
        deadline = time.monotonic() + timeout
        while True:
            with self.container.services.uow() as uow:
                if uow.inbound.pending_count() == 0 and not uow.timers.pending("message:"):
                    return
            if time.monotonic() > deadline:
                raise AssertionError("the worker did not route the inbound messages in time")
            time.sleep(0.02)


def app_settings(db_url: str, twilio_url: str, public_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "DATABASE_URL": db_url,
        "PARTNERLINE_ADMIN_TOKEN": ADMIN_TOKEN,
        "PARTNERLINE_SECRET_KEY": "test-secret-key",
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_API_URL": twilio_url,
        "PUBLIC_URL": public_url,
        "PARTNERLINE_OUTBOX_BACKOFF": 0.05,
        "PARTNERLINE_OUTBOX_BACKOFF_CAP": 0.2,
        "PARTNERLINE_OUTBOX_MAX_ATTEMPTS": 4,
        "PARTNERLINE_SEND_TIMEOUT": 5,
    }
    values.update(overrides)
    return Settings(**values)


@contextmanager
def running_app(
    db_url: str,
    twilio_url: str,
    *,
    clock: Clock | None = None,
    config_path: Path = EXAMPLE_CONFIG,
    **overrides: Any,
) -> Iterator[RunningApp]:
    port = free_port()
    # "localhost" is what the provider signed; requests arrive at 127.0.0.1, as behind a proxy.
    public_url = f"http://localhost:{port}"
    settings = app_settings(db_url, twilio_url, public_url, **overrides)
    container = build_container(settings, load_config(config_path), clock=clock)
    server = LoopbackServer(create_app(container, run_worker=True), port=port, lifespan="on")
    server.start()
    try:
        yield RunningApp(container, server, public_url)
    finally:
        server.stop()
        container.db.dispose()
