"""The client messages a simulation replays, from a CSV file or drawn synthetically (the
database's are read by storage/replay.py into the same `TrafficMessage`).

CSV (`--traffic FILE.csv`): one message a row, `at, client, contact, channel`, then optionally
`answered_after` and `acked_after`, with or without a header row naming them.
    at              ISO 8601; without an offset it is read in the agency's zone.
    client          a client id of the configuration; empty: an unknown sender.
    contact         who wrote (a name or an address): with client and channel, the
                    conversation (messages of one contact on one channel are one conversation).
                    A client's contact is greeted by the first word of it; an unknown sender
                    (no client) as "there", as the live acknowledgement does.
    channel         sms, telegram or slack.
    answered_after  the agency's first reply after this message came this long after it
                    ("40m", "1h30m"); empty: no reply.
    acked_after     a page opened by this message was acknowledged this long after it opened.

Synthetic (`--traffic synthetic:N/day`): N messages a day on average, drawn with a seed. The
arrival rate of an hour is N x WEEKDAY[day] x HOUR[hour] (agency zone; both profiles below,
each averaging 1 over its range), arrivals within the hour a Poisson process. Each message
comes from a client of the configuration chosen uniformly, from its first contact on that
contact's first channel (a client without contacts: "contact of ID" by SMS), and starts a
conversation of its own. It is answered after a delay drawn from an exponential distribution
with mean ANSWER_MEAN (no acknowledgement delay: a page runs until that answer).
"""

from __future__ import annotations

import csv
import math
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from adapters.sms import OPT_KEYWORDS
from bot.usecases.directory import Directory
from routing.durations import parse_duration
from routing.messages import Channel
from storage.replay import RecordedMessage


@dataclass(frozen=True, slots=True)
class TrafficMessage:
    at: datetime  # aware
    client: str | None  # None: an unknown sender
    contact: str  # the contact's name, else their address
    channel: str
    conversation: str  # messages with the same key are one conversation
    answered_after: timedelta | None = None  # the first agency reply after it, recorded
    acked_after: timedelta | None = None  # its page's acknowledgement after the page opened
    opted_out: bool = False  # the contact cannot be written to (no acknowledgement)
    named: bool = True  # `contact` is a name (else an address: "there" in the greeting)


class TrafficError(ValueError):
    """A traffic source that cannot be read; the message names the line."""


CHANNELS = tuple(c.value for c in Channel if c is not Channel.VOICE)  # voice: outbound only
HEADER = ("at", "client", "contact", "channel", "answered_after", "acked_after")

# The synthetic profile. Weekdays Monday..Sunday; hours 00..23 local. Each averages 1.
_WEEKDAY = (1.2, 1.2, 1.2, 1.15, 1.05, 0.6, 0.6)
_HOUR = (
    *(0.15, 0.1, 0.08, 0.08, 0.1, 0.2, 0.45, 0.9),  # 00-07
    *(1.7, 2.3, 2.4, 2.3, 1.7, 2.0, 2.2, 2.1),  # 08-15
    *(1.9, 1.5, 1.0, 0.7, 0.55, 0.45, 0.35, 0.22),  # 16-23
)
WEEKDAY = tuple(w * 7 / sum(_WEEKDAY) for w in _WEEKDAY)
HOUR = tuple(h * 24 / sum(_HOUR) for h in _HOUR)
ANSWER_MEAN = timedelta(minutes=45)

DEFAULT_SEED = 17


def read_csv(path: str, zone: tzinfo) -> list[TrafficMessage]:
    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
            rows = list(csv.reader(f))
    except OSError as exc:
        raise TrafficError(f"{path}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise TrafficError(f"{path}: not UTF-8 text") from exc
    except csv.Error as exc:
        raise TrafficError(f"{path}: {exc}") from exc
    return parse_rows(path, rows, zone)


def parse_rows(name: str, rows: Sequence[Sequence[str]], zone: tzinfo) -> list[TrafficMessage]:
    messages: list[TrafficMessage] = []
    for number, raw in enumerate(rows, start=1):
        row = [cell.strip() for cell in raw]
        if not any(row) or row[0].startswith("#"):
            continue
        if number == 1 and row[0].lower() == "at":
            continue  # the header
        where = f"{name}:{number}"
        if not 4 <= len(row) <= 6:
            raise TrafficError(
                f"{where}: expected at, client, contact, channel[, answered_after[, "
                f"acked_after]], got {len(row)} fields"
            )
        at = _instant(where, row[0], zone)
        client, contact, channel = row[1] or None, row[2], row[3].lower()
        if not contact:
            raise TrafficError(f"{where}: contact: empty (a name or an address)")
        if channel not in CHANNELS:
            raise TrafficError(f"{where}: channel: {row[3]!r} is not one of {', '.join(CHANNELS)}")
        answered = _duration(where, "answered_after", row[4]) if len(row) > 4 else None
        acked = _duration(where, "acked_after", row[5]) if len(row) > 5 else None
        messages.append(
            TrafficMessage(
                at=at,
                client=client,
                contact=contact,
                channel=channel,
                conversation=f"{client or ''}/{contact}/{channel}",
                answered_after=answered,
                acked_after=acked,
                named=client is not None,  # an unknown sender is greeted "there", as live
            )
        )
    messages.sort(key=lambda m: m.at)
    return messages


def _instant(where: str, text: str, zone: tzinfo) -> datetime:
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise TrafficError(f"{where}: at: {text!r} is not an ISO 8601 time") from None
    if at.tzinfo is None:
        at = at.replace(tzinfo=zone)
    return at.astimezone(UTC)


def _duration(where: str, key: str, text: str) -> timedelta | None:
    if not text:
        return None
    try:
        found = parse_duration(text)
    except ValueError:
        raise TrafficError(f"{where}: {key}: {text!r} is not a duration like 40m") from None
    if found < timedelta(0):
        raise TrafficError(f"{where}: {key}: {text!r} is negative")
    return found


def parse_rate(spec: str) -> float:
    """ "synthetic:40/day" -> 40.0; TrafficError for anything else."""
    body = spec.removeprefix("synthetic:")
    number, _, unit = body.partition("/")
    try:
        rate = float(number)
    except ValueError:
        rate = -1.0
    if unit != "day" or not math.isfinite(rate) or rate <= 0 or rate > 1_000_000:
        raise TrafficError(f"--traffic {spec!r}: expected synthetic:N/day with N > 0")
    return rate


def synthetic(
    directory: Directory, start: date, end: date, per_day: float, seed: int = DEFAULT_SEED
) -> list[TrafficMessage]:
    """Messages of the days [start, end] (agency zone) drawn from the profile above."""
    rng = random.Random(seed)
    senders = _senders(directory)
    zone = directory.zone
    messages: list[TrafficMessage] = []
    day = start
    while day <= end:
        for hour in range(24):
            rate = per_day / 24 * WEEKDAY[day.weekday()] * HOUR[hour]  # per hour
            if rate <= 0:
                continue
            begin = datetime.combine(day, time(hour), zone).astimezone(UTC)
            offset = rng.expovariate(rate)
            while offset < 1.0:
                client, contact, channel = senders[rng.randrange(len(senders))]
                at = begin + timedelta(hours=offset)
                messages.append(
                    TrafficMessage(
                        at=at,
                        client=client,
                        contact=contact,
                        channel=channel,
                        conversation=f"synthetic/{len(messages)}",
                        answered_after=timedelta(
                            seconds=round(rng.expovariate(1 / ANSWER_MEAN.total_seconds()))
                        ),
                    )
                )
                offset += rng.expovariate(rate)
        day += timedelta(days=1)
    messages.sort(key=lambda m: m.at)
    return messages


def _senders(directory: Directory) -> list[tuple[str | None, str, str]]:
    found: list[tuple[str | None, str, str]] = []
    for client in directory.clients.values():
        contact = client.contacts[0] if client.contacts else None
        if contact is not None and contact.addresses:
            found.append((client.id, contact.name, contact.addresses[0][0].value))
        else:
            found.append((client.id, f"contact of {client.id}", Channel.SMS.value))
    return found or [(None, "unknown sender", Channel.SMS.value)]


def sorted_traffic(messages: Iterable[TrafficMessage]) -> list[TrafficMessage]:
    return sorted(messages, key=lambda m: m.at)


def from_recorded(records: Iterable[RecordedMessage]) -> list[TrafficMessage]:
    """The database's client messages (storage/replay.py) as traffic: each conversation
    kept, the recorded reply and acknowledgement as delays. SMS carrier keywords (STOP,
    START, HELP) start nothing live, and are left out."""
    messages = []
    for r in records:
        if r.channel == Channel.SMS.value and r.text.strip().upper() in OPT_KEYWORDS:
            continue
        acked = (
            r.page_acknowledged_at - r.page_opened_at
            if r.page_acknowledged_at is not None and r.page_opened_at is not None
            else None
        )
        messages.append(
            TrafficMessage(
                at=r.at,
                client=r.client_id,
                contact=r.contact_name or r.address,
                channel=r.channel,
                conversation=f"conversation/{r.conversation_id}",
                answered_after=r.answered_at - r.at if r.answered_at is not None else None,
                acked_after=acked,
                named=r.contact_name is not None,
            )
        )
    return messages
