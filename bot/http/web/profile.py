"""`/inbox/profile`: a staff member's own settings; today the time zone every page shows times
in. The choice belongs to the login (staff_accounts.timezone); none means the agency's zone."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from starlette.responses import Response

from bot.container import Container
from bot.http.sessions import Staff
from bot.http.web.guard import FormDep, StaffDep
from bot.http.web.templating import render
from bot.usecases.accounts import StaffAccounts, zone_names
from storage.accounts import StaffAccountRepository

router = APIRouter(include_in_schema=False)
FIELD = "timezone"


def _chosen(container: Container, staff: Staff) -> str | None:
    with container.db.session() as session:
        account = StaffAccounts(StaffAccountRepository(session)).get(staff.account_id)
    return account.timezone if account is not None else None


def _save(container: Container, staff: Staff, timezone: str | None) -> None:
    with container.db.session() as session:
        StaffAccounts(StaffAccountRepository(session)).set_timezone(staff.account_id, timezone)
        session.commit()


async def _page(
    request: Request, staff: Staff, *, error: str | None = None, saved: bool = False
) -> Response:
    container: Container = request.app.state.container
    chosen = await run_in_threadpool(_chosen, container, staff)
    context = {
        "zones": zone_names(),
        "chosen": chosen or "",
        "agency_zone": container.directory.zone.key,
        "error": error,
        "saved": saved,
    }
    return render(request, "profile.html", staff, context, status_code=400 if error else 200)


@router.get("/inbox/profile")
async def profile(request: Request, staff: StaffDep) -> Response:
    return await _page(request, staff, saved=request.query_params.get("saved") == "1")


@router.post("/inbox/profile")
async def save_profile(request: Request, staff: StaffDep, form: FormDep) -> Response:
    value = form.get(FIELD)
    if not isinstance(value, str):
        return await _page(request, staff, error="Choose a time zone from the list.")
    # "" is the list's first choice: follow the agency's zone.
    timezone = value.strip() or None
    try:
        await run_in_threadpool(_save, request.app.state.container, staff, timezone)
    except ValueError as exc:
        return await _page(request, staff, error=f"Not saved: {exc}.")
    return Response(status_code=303, headers={"Location": "/inbox/profile?saved=1"})
