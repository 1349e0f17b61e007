"""`/inbox`: every conversation under the chosen filter, most urgent first."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from starlette.responses import Response

from bot.container import Container
from bot.http.sessions import Staff
from bot.http.web.guard import StaffDep
from bot.http.web.inbox_query import VIEW_LABELS, VIEWS, InboxFilter, InboxRow, inbox_queries
from bot.http.web.live import live_since
from bot.http.web.templating import render
from storage.read_markers import UnreadCounts

router = APIRouter(include_in_schema=False)

CHANNELS = ("sms", "telegram", "slack")
CHANNEL_LABELS = {"sms": "SMS", "telegram": "Telegram", "slack": "Slack"}


def _filter(view: str, client: str | None, channel: str | None, q: str | None) -> InboxFilter:
    return InboxFilter(
        view=view if view in VIEWS else "open",
        client=client or None,
        channel=channel if channel in CHANNELS else None,
        q=(q or "").strip()[:200] or None,
    )


def load_rows(
    container: Container, staff: Staff, filters: InboxFilter, cursor: str | None
) -> tuple[list[InboxRow], str | None]:
    with container.services.reader() as uow:
        queries = inbox_queries(uow)
        try:
            views, next_cursor = queries.inbox(filters, staff.author.id, cursor=cursor)
        except ValueError:  # a stale or forged cursor: start again from the top
            views, next_cursor = queries.inbox(filters, staff.author.id)
        ids = [v.id for v in views]
        commitments = uow.commitments.latest_by_conversation(ids)
        last = queries.last_messages(ids)
        unread = queries.unread_among(staff.author.id, ids)
    rows = [InboxRow(v, commitments.get(v.id), last.get(v.id), v.id in unread) for v in views]
    return rows, next_cursor


def load_counts(container: Container, staff: Staff, filters: InboxFilter) -> UnreadCounts:
    """The unread count beside each view (one statement), and with the list when it is
    re-read live, so the two never disagree."""
    with container.services.reader() as uow:
        return inbox_queries(uow).unread_counts(filters, staff.author.id)


def _context(
    container: Container, filters: InboxFilter, rows: list[InboxRow], next_cursor: str | None
) -> dict[str, Any]:
    return {
        "filters": filters,
        "rows": rows,
        "next_cursor": next_cursor,
        "views": [(v, VIEW_LABELS[v]) for v in VIEWS],
        "channels": [(c, CHANNEL_LABELS[c]) for c in CHANNELS],
        "channel_labels": CHANNEL_LABELS,
        "clients": [(c.id, c.name) for c in container.directory.clients.values()],
        "staff_names": container.directory.staff_names,
    }


Q = Annotated[str | None, Query(max_length=200)]


async def _list_context(
    request: Request,
    staff: Staff,
    view: str,
    client: str | None,
    channel: str | None,
    q: str | None,
    cursor: str | None,
) -> dict[str, Any]:
    """What the list shows under one filter, for the whole page and for htmx alike."""
    container: Container = request.app.state.container
    filters = _filter(view, client, channel, q)
    rows, next_cursor = await run_in_threadpool(load_rows, container, staff, filters, cursor)
    context = _context(container, filters, rows, next_cursor)
    context["cursor"] = cursor
    if not cursor:  # a further page of the list leaves the counts as they are
        context["unread"] = await run_in_threadpool(load_counts, container, staff, filters)
    return context


@router.get("/inbox")
async def inbox(
    request: Request,
    staff: StaffDep,
    view: str = "open",
    client: Q = None,
    channel: Q = None,
    q: Q = None,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> Response:
    since = await live_since(request, staff_id=staff.author.id)
    context = await _list_context(request, staff, view, client, channel, q, cursor)
    return render(request, "inbox.html", staff, {**context, "live_since": since})


@router.get("/inbox/rows")
async def inbox_rows(
    request: Request,
    staff: StaffDep,
    view: str = "open",
    client: Q = None,
    channel: Q = None,
    q: Q = None,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> Response:
    """The list alone, for htmx: re-read when something changes, or the next page."""
    context = await _list_context(request, staff, view, client, channel, q, cursor)
    name = "_rows_more.html" if cursor else "_rows.html"
    # The list re-read whole brings the views' unread counts along (htmx out of band).
    return render(request, name, staff, {**context, "oob": not cursor})
