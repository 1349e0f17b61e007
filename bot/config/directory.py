"""The configuration read into the application's Directory (bot/usecases/directory.py), the
one place that turns config models into the plain values the use cases and channels read.

Each business calendar is built once, and the rotations and commitment tiers that name it
share that one instance."""

from __future__ import annotations

from types import MappingProxyType

from bot.config.models import AgencyConfig, ClientConfig, HoursConfig
from bot.usecases.calendars import build_calendar
from bot.usecases.directory import ClientTerms, Directory
from routing import escalation as esc
from routing.business_hours import BusinessCalendar
from routing.commitments_policy import CommitmentPolicy
from routing.directory import ClientEntry, ContactEntry, StaffEntry
from routing.messages import Channel
from routing.rotations import Rotation


def calendar_from_config(hours: HoursConfig) -> BusinessCalendar:
    """The calendar of one `[hours.NAME]` section."""
    return build_calendar(
        hours.timezone,
        hours.weekly(),
        hours.holidays.country if hours.holidays else None,
        hours.holidays.subdivision if hours.holidays else None,
        hours.closed_dates(),
    )


def client_entry(client: ClientConfig) -> ClientEntry:
    contacts = []
    for contact in client.contacts:
        addresses: list[tuple[Channel, str]] = []
        if contact.sms:
            addresses.append((Channel.SMS, contact.sms))
        if contact.telegram is not None:
            addresses.append((Channel.TELEGRAM, str(contact.telegram)))
        if contact.slack:
            addresses.append((Channel.SLACK, contact.slack))
        contacts.append(ContactEntry(name=contact.name, addresses=tuple(addresses)))
    return ClientEntry(
        id=client.id,
        name=client.name,
        commitment=client.commitment,
        escalation=client.escalation,
        timezone=client.timezone,
        account_team=tuple(client.account_team),
        contacts=tuple(contacts),
        chats=tuple((Channel.SLACK, channel) for channel in client.slack_channels),
    )


def build_directory(config: AgencyConfig) -> Directory:
    staff = {
        s.id: StaffEntry(
            id=s.id,
            name=s.name,
            sms=s.sms,
            telegram=s.telegram,
            slack=s.slack,
            notify=tuple(esc.NotifyRule(r.channel, r.delay) for r in s.notify),
        )
        for s in config.staff
    }
    calendars = {name: calendar_from_config(hours) for name, hours in config.hours.items()}
    commitments = {
        name: CommitmentPolicy(
            business=tier.business,
            after_hours=tier.after_hours,
            at_risk=tier.at_risk,
            page_oncall=tier.page_oncall,
            calendar=calendars[tier.hours],
        )
        for name, tier in config.commitments.items()
    }
    # Every policy carries every staff member's rules (a page snapshots its policy).
    notify = MappingProxyType({s.id: s.notify for s in staff.values()})
    escalations = {}
    for client in config.clients:
        if client.escalation is None:
            continue
        chain = config.escalations[client.escalation]
        escalations[client.id] = esc.Policy(
            name=client.escalation,
            steps=tuple(
                esc.Step(tuple(str(t) for t in step.targets), step.wait) for step in chain.steps
            ),
            repeat=chain.repeat,
            account_team=tuple(client.account_team),
            notify=notify,
        )
    rotations = {
        item.id: Rotation(
            id=item.id,
            members=tuple(item.members),
            start=item.start,
            tz=config.zone,
            shift=item.shift,
            hours=calendars[item.hours] if item.hours is not None else None,
            only_after_hours=item.only == "after_hours",
        )
        for item in config.rotations
    }
    unknown = config.unknown_senders
    return Directory(
        agency=config.agency.name,
        zone=config.zone,
        staff=staff,
        clients={client.id: client_entry(client) for client in config.clients},
        calendars=calendars,
        commitments=commitments,
        auto_replies={name: tier.auto_reply for name, tier in config.commitments.items()},
        unknown_senders=ClientTerms(
            unknown.commitment, config.zone, tuple(unknown.account_team), None
        ),
        escalations=escalations,
        rotations=rotations,
    )
