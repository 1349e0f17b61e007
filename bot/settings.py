"""Settings from the environment (names fixed by docs/CONTRACT.md), built once and passed down."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore", populate_by_name=True)

    database_url: str = Field("sqlite:///./partnerline.db", alias="DATABASE_URL")
    port: int = Field(8000, alias="PORT")
    config_path: str = Field("./partnerline.toml", alias="PARTNERLINE_CONFIG")
    admin_token: SecretStr | None = Field(None, alias="PARTNERLINE_ADMIN_TOKEN")
    secret_key: SecretStr | None = Field(None, alias="PARTNERLINE_SECRET_KEY")
    metrics_token: SecretStr | None = Field(None, alias="PARTNERLINE_METRICS_TOKEN")
    public_url: str | None = Field(None, alias="PUBLIC_URL")
    # Files staff attach to replies; unset: `attachments/` beside the SQLite file, else
    # ./attachments (storage/files.py).
    attachments_dir: str | None = Field(None, alias="PARTNERLINE_ATTACHMENTS_DIR")

    slack_bot_token: SecretStr | None = Field(None, alias="SLACK_BOT_TOKEN")
    slack_signing_secret: SecretStr | None = Field(None, alias="SLACK_SIGNING_SECRET")
    telegram_bot_token: SecretStr | None = Field(None, alias="TELEGRAM_BOT_TOKEN")
    telegram_webhook_secret: SecretStr | None = Field(None, alias="TELEGRAM_WEBHOOK_SECRET")
    twilio_account_sid: str | None = Field(None, alias="TWILIO_ACCOUNT_SID")
    twilio_auth_token: SecretStr | None = Field(None, alias="TWILIO_AUTH_TOKEN")

    slack_api_url: str = Field("https://slack.com/api/", alias="SLACK_API_URL")
    telegram_api_url: str = Field("https://api.telegram.org/bot", alias="TELEGRAM_API_URL")
    twilio_api_url: str = Field("https://api.twilio.com", alias="TWILIO_API_URL")

    # Tuning knobs, mostly so tests can run a whole retry story in seconds.
    outbox_max_attempts: int = Field(8, alias="PARTNERLINE_OUTBOX_MAX_ATTEMPTS")
    outbox_backoff_seconds: float = Field(2.0, alias="PARTNERLINE_OUTBOX_BACKOFF")
    outbox_backoff_cap_seconds: float = Field(300.0, alias="PARTNERLINE_OUTBOX_BACKOFF_CAP")
    outbox_lease_seconds: float = Field(60.0, alias="PARTNERLINE_OUTBOX_LEASE")
    send_timeout_seconds: float = Field(15.0, alias="PARTNERLINE_SEND_TIMEOUT")
    # How often an idle worker looks for work another process wrote (`partnerline web` beside
    # `partnerline worker`); work committed in its own process, and due times, wake it at once.
    worker_max_sleep_seconds: float = Field(1.0, alias="PARTNERLINE_WORKER_MAX_SLEEP")
    # A `partnerline worker` has no web server: with this set it serves /metrics on this port.
    worker_metrics_port: int | None = Field(None, alias="PARTNERLINE_WORKER_METRICS_PORT")
    # Pages for one person on one channel within this window go out as one message.
    page_coalesce_seconds: float = Field(120.0, alias="PARTNERLINE_PAGE_COALESCE")

    @property
    def twilio_enabled(self) -> bool:
        return bool(self.twilio_account_sid and self.twilio_auth_token)

    @property
    def telegram_enabled(self) -> bool:
        return self.telegram_bot_token is not None

    @property
    def slack_enabled(self) -> bool:
        return self.slack_bot_token is not None and self.slack_signing_secret is not None

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")
