"""Shift handoffs: at each rotation's handoff, the person coming on call is told until when,
and which commitments they inherit. One durable timer per handoff, each scheduling the next."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.usecases.decisions import first_reachable
from bot.usecases.directory import Directory
from routing.plain_time import due_in_words
from routing.rotations import Rotation, handoff_at, on_call, shift_at, shifts_between
from storage.timers import Timer
from storage.unit_of_work import UnitOfWork

HANDOFF = "oncall.handoff"


class Handoffs:
    def __init__(self, directory: Directory) -> None:
        self.directory = directory
        self.staff = directory.staff
        self.rotations = directory.rotations

    def ensure_handoffs(self, uow: UnitOfWork, now: datetime) -> None:
        """Schedule each rotation's next handoff (idempotent: one timer per handoff)."""
        for rotation in self.rotations.values():
            current = shift_at(rotation, now)
            index = 0 if current is None else current.index + 1
            self._schedule_handoff(uow, rotation, index, now)

    def _schedule_handoff(
        self, uow: UnitOfWork, rotation: Rotation, index: int, now: datetime
    ) -> None:
        uow.timers.schedule(
            f"handoff:{rotation.id}:{index}",
            HANDOFF,
            handoff_at(rotation, index),
            now,
            {"rotation": rotation.id, "index": index},
        )

    def fire_handoff(self, uow: UnitOfWork, timer: Timer, now: datetime) -> None:
        rotation = self.rotations.get(str(timer.payload["rotation"]))
        if rotation is None:
            return  # the rotation left the configuration
        index = int(timer.payload["index"])
        self._schedule_handoff(uow, rotation, index + 1, now)
        start, end = handoff_at(rotation, index), handoff_at(rotation, index + 1)
        if now - start > timedelta(hours=1):
            return  # long past (no worker ran then): a stale handoff helps nobody
        overrides = uow.overrides.all_active(start)
        if rotation.only_after_hours and not shifts_between(
            rotation, max(start, now), end, overrides
        ):
            return  # its calendar stays open all shift: nobody is on call, nobody to tell
        person = on_call(rotation, max(start, now), overrides).staff
        person = person or rotation.members[index % len(rotation.members)]
        staff = self.staff.get(person)
        target = first_reachable(staff) if staff else None
        if staff is None or target is None:
            return
        zone = self.directory.zone
        when = "after hours only, " if rotation.only_after_hours else ""
        text = (
            f"Hi {staff.first_name}: you're on call for {rotation.id} now, {when}until "
            f"{due_in_words(end, now, zone)}."
        )
        awaiting = uow.commitments.awaiting_all(limit=5)
        if awaiting:
            parts = []
            for commitment in awaiting:
                conv = uow.conversations.get(commitment.conversation_id)
                if conv is not None:
                    parts.append(
                        f"{conv.client_name} ({conv.contact_name or conv.address}) "
                        f"due {due_in_words(commitment.due_at, now, zone)}"
                    )
            text += f" You inherit {uow.commitments.awaiting_count()} open: " + "; ".join(parts)
        else:
            text += " No open commitments right now."
        channel, address = target
        uow.outbox.enqueue(
            kind="notice", channel=channel, recipient=address, payload={"text": text}, at=now
        )
