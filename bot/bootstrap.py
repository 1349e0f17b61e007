"""The composition root: configuration and settings in, a wired Container out."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING

from fastapi import FastAPI

from adapters.base import Sender
from adapters.slack import SlackAdapter
from adapters.telegram import TelegramAdapter
from bot.channels.chat_common import ChatDeps
from bot.channels.slack.bot import SLACK_MESSAGE, SlackBot, start_slack, stop_slack
from bot.channels.telegram.bot import TelegramBot, start_telegram, stop_telegram
from bot.config import AgencyConfig
from bot.container import Container
from bot.http.app import build_http_app
from bot.jobs.wakeup import Wakeup
from bot.jobs.worker import RetryPolicy, StartupHook, TimerHandler, Worker
from bot.reloading import Reloader, build_configured
from bot.settings import Settings
from bot.usecases.availability import AT_RISK, BREACH
from bot.usecases.configured import LiveConfig
from bot.usecases.handoffs import HANDOFF, Handoffs
from bot.usecases.paging import PAGE_NOTIFY, PAGE_STEP, Paging
from bot.usecases.services import FOLLOWUP, Services
from routing.clock import Clock, SystemClock
from routing.messages import Channel
from storage.db import Database
from storage.directory import sync_directory
from storage.journal import InboundJournal

if TYPE_CHECKING:
    from bot.http.web.sandbox import Sandbox


def build_adapters(settings: Settings, config: AgencyConfig) -> dict[Channel, Sender]:
    adapters: dict[Channel, Sender] = {}
    sms_from = config.channels.sms.from_ if config.channels.sms else None
    if settings.twilio_enabled and sms_from:
        from adapters.sms import TwilioSmsAdapter

        assert settings.twilio_account_sid and settings.twilio_auth_token
        sms = TwilioSmsAdapter(
            account_sid=settings.twilio_account_sid,
            auth_token=settings.twilio_auth_token.get_secret_value(),
            from_number=sms_from,
            api_url=settings.twilio_api_url,
            timeout=settings.send_timeout_seconds,
        )
        adapters[Channel.SMS] = sms
        if settings.public_url:  # Twilio must be able to fetch the call's TwiML
            from adapters.voice import TwilioVoiceAdapter

            adapters[Channel.VOICE] = TwilioVoiceAdapter(sms, settings.public_url)
    if settings.telegram_enabled:
        from adapters.telegram import TelegramAdapter

        assert settings.telegram_bot_token
        secret = settings.telegram_webhook_secret
        adapters[Channel.TELEGRAM] = TelegramAdapter(
            settings.telegram_bot_token.get_secret_value(),
            secret.get_secret_value() if secret else None,
            api_url=settings.telegram_api_url,
            timeout=settings.send_timeout_seconds,
        )
    if settings.slack_enabled:
        from adapters.slack import SlackAdapter

        assert settings.slack_bot_token and settings.slack_signing_secret
        adapters[Channel.SLACK] = SlackAdapter(
            settings.slack_bot_token.get_secret_value(),
            settings.slack_signing_secret.get_secret_value(),
            api_url=settings.slack_api_url,
            timeout=settings.send_timeout_seconds,
        )
    return adapters


def channel_report(settings: Settings, config: AgencyConfig) -> list[str]:
    """One line per channel saying whether it is on, and what is missing when it is off."""
    lines = []
    if not settings.twilio_enabled:
        lines.append("sms: off (set TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN)")
    elif not config.channels.sms:
        lines.append("sms: off (no [channels.sms] from number in the configuration)")
    else:
        lines.append(f"sms: on, from {config.channels.sms.from_}")
    lines.append(
        "telegram: on" if settings.telegram_enabled else "telegram: off (set TELEGRAM_BOT_TOKEN)"
    )
    lines.append(
        "slack: on"
        if settings.slack_enabled
        else "slack: off (set SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET)"
    )
    return lines


def build_container(
    settings: Settings,
    config: AgencyConfig,
    *,
    clock: Clock | None = None,
    adapters: Mapping[Channel, Sender] | None = None,
    db: Database | None = None,
) -> Container:
    clock = clock or SystemClock()
    db = db or Database(settings.database_url)
    wakeup = Wakeup()
    services = Services(db, clock, on_commit=wakeup.notify)
    # The parts the configuration decides, built together; a reload swaps them whole.
    services.live = LiveConfig(build_configured(settings, config, clock=clock, uow=services.uow))
    container = Container(
        settings=settings,
        live=services.live,
        db=db,
        clock=clock,
        services=services,
        wakeup=wakeup,
        inbound=InboundJournal(db, on_commit=wakeup.notify),
        adapters=dict(adapters) if adapters is not None else build_adapters(settings, config),
    )
    container.inbound_handlers["message"] = services.route_journalled
    # Here, not in the web app: a worker-only process mirrors into Slack too.
    install_chat_apps(container)
    return container


def install_chat_apps(container: Container) -> None:
    """Build the chat apps of the channels that are on, and register what they add: the
    Slack app's journal kind, and its staff-inbox mirror (a hook in every transaction that
    records messages, and the worker's job kinds that sync the threads). Synchronous and offline;
    the web app's lifespan starts them."""
    deps = ChatDeps(
        settings=container.settings,
        live=container.live,
        services=container.services,
        clock=container.clock,
        inbound=container.inbound,
    )
    slack = container.adapters.get(Channel.SLACK)
    if isinstance(slack, SlackAdapter) and container.settings.slack_enabled:
        bot = SlackBot(deps, slack)
        container.slack = bot
        container.inbound_handlers[SLACK_MESSAGE] = bot.route_message
        if bot.inbox is not None:
            container.services.before_commit.append(bot.inbox.before_commit)
            container.job_handlers.update(bot.inbox.job_handlers())
    telegram = container.adapters.get(Channel.TELEGRAM)
    if isinstance(telegram, TelegramAdapter) and container.settings.telegram_bot_token is not None:
        container.telegram = TelegramBot(deps, telegram)


def sync_config(container: Container) -> None:
    with container.services.uow() as uow:
        clients = tuple(container.directory.clients.values())
        sync_directory(uow.session, clients, container.clock.now())
        uow.commit()


def timer_handlers(container: Container) -> dict[str, TimerHandler]:
    """Each handler reads the configuration in force as its timer fires (a reload swaps it)."""
    live = container.live

    def paging() -> Paging:
        found = live.current.availability.paging
        assert found is not None  # build_configured always builds it
        return found

    return {
        "noop": lambda uow, timer, now: None,
        FOLLOWUP: container.services.follow_up,
        AT_RISK: lambda uow, t, now: live.current.availability.fire_at_risk(uow, t, now),
        BREACH: lambda uow, t, now: live.current.availability.fire_breach(uow, t, now),
        PAGE_STEP: lambda uow, t, now: paging().fire_step(uow, t, now),
        PAGE_NOTIFY: lambda uow, t, now: paging().fire_notify(uow, t, now),
        HANDOFF: lambda uow, t, now: Handoffs(live.current.directory).fire_handoff(uow, t, now),
    }


def build_worker(container: Container) -> Worker:
    s = container.settings
    return Worker(
        container.db,
        container.clock,
        container.adapters,
        timer_handlers=timer_handlers(container),
        timer_failure_handlers={FOLLOWUP: container.services.follow_up_failed},
        job_handlers=container.job_handlers,
        inbound_handlers=container.inbound_handlers,
        retry=RetryPolicy(
            max_attempts=s.outbox_max_attempts,
            base_seconds=s.outbox_backoff_seconds,
            cap_seconds=s.outbox_backoff_cap_seconds,
            lease_seconds=s.outbox_lease_seconds,
        ),
        wakeup=container.wakeup,
        max_sleep=s.worker_max_sleep_seconds,
        send_timeout=s.send_timeout_seconds,
        uow_factory=container.services.uow,
        startup=_startup(container),
    )


def _startup(container: Container) -> StartupHook:
    return lambda uow, now: Handoffs(container.directory).ensure_handoffs(uow, now)


def create_app(
    container: Container, *, run_worker: bool = False, sandbox: Sandbox | None = None
) -> FastAPI:
    """The web app of `serve`/`web`: the chat apps start and stop with it, and with
    `run_worker` (`partnerline serve`) the worker runs inside it; `sandbox`: the local
    provider stand-ins of `serve --sandbox`, and /sandbox."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await asyncio.to_thread(sync_config, container)
        await start_telegram(container)
        await start_slack(container)
        stop = asyncio.Event()
        task = None
        if run_worker:
            task = asyncio.create_task(build_worker(container).run(stop), name="worker")
        # SIGHUP, and following `partnerline reload` (bot/reloading.py).
        reloader = Reloader(container)
        reloading = asyncio.create_task(reloader.run(), name="reloader")
        try:
            yield
        finally:
            reloader.stop()
            await reloading
            stop.set()
            if task is not None:
                container.wakeup.notify()
                await task
            await stop_telegram(container)
            await stop_slack(container)
            await asyncio.to_thread(container.inbound.stop)

    return build_http_app(container, lifespan=lifespan, sandbox=sandbox)
