"""The application's use cases as one object, for the composition root to build once.

Each concern lives in its own module, as a layer over the one below it:

    base.UseCases             units of work, retries, the directory, the clock
    conversations.ConversationCases   reply, note, close, reopen, assign
    page_answers.PageCases    acknowledge, relay (a paged person's answer is a reply)
    inbound.InboundCases      client messages filed and followed up; a staff phone's SMS
                              (acknowledge or answer a page)
    contacts.ContactCases     contacts at runtime: create, edit, merge, link (triage)

Commitments and acknowledgements are bot/usecases/availability.py, paging and escalation
bot/usecases/paging.py, handoffs bot/usecases/handoffs.py, on-call bot/usecases/oncall.py.
"""

from __future__ import annotations

from bot.usecases.base import ADMIN, Author
from bot.usecases.contacts import ContactCases
from bot.usecases.inbound import FOLLOWUP, followup_key

__all__ = ["ADMIN", "FOLLOWUP", "Author", "Services", "followup_key"]


class Services(ContactCases):
    """Every use case; each opens one unit of work and commits it itself."""
