"""Prometheus metrics. Metric objects are process-wide, as prometheus-client intends."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

WEBHOOKS = Counter(
    "partnerline_webhooks_total", "Provider webhooks received", ["channel", "outcome"]
)
WEBHOOK_SECONDS = Histogram(
    "partnerline_webhook_seconds",
    "Time to verify, store and answer a provider webhook",
    ["channel"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
OUTBOX_DEPTH = Gauge("partnerline_outbox_depth", "Outbox rows not yet sent")
OUTBOX_OLDEST = Gauge(
    "partnerline_outbox_oldest_age_seconds", "Age of the oldest outbox row not yet sent"
)
SENDS = Counter("partnerline_sends_total", "Provider send attempts", ["channel", "result"])
TIMER_LATENESS = Histogram(
    "partnerline_timer_lateness_seconds",
    "How late after its due time a durable timer fired",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 60),
)
FOLLOWUP_FAILURES = Counter(
    "partnerline_followup_failures_total",
    "Work after filing a client message (commitment, acknowledgement, page, mirror) that "
    "failed for good; the message itself was filed and shows in the inbox",
)
FOLLOWUP_RETRIES = Counter(
    "partnerline_followup_retries_total",
    "Failed attempts at the work after filing a client message, retried with backoff",
)
INBOUND_FAILURES = Counter(
    "partnerline_inbound_failures_total",
    "Failed attempts to file a journalled delivery, retried with backoff",
    ["kind"],
)
JOBS = Counter(
    "partnerline_jobs_total",
    "Runs of the worker's jobs (the Slack mirror's syncs), by outcome: done; again (nothing to "
    "do yet, looked at again shortly); retry (failed, retried with backoff); failed (for "
    "good); lost (its lease ran out while it ran)",
    ["kind", "outcome"],
)
