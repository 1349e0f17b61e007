"""Who may see a page: the signed-in staff member, and the CSRF check on every form post."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.responses import Response

from bot.http.deps import ContainerDep
from bot.http.sessions import CSRF_FIELD, Staff, csrf_ok, staff_from_session


class LoginRequired(Exception):
    """No valid session: a page sends the browser to /login, htmx is told to go there."""


class CsrfRefused(Exception):
    """A form post without this session's CSRF token, or from another site."""


class AdminRequired(Exception):
    """A form only admin accounts may use."""


async def page_staff(request: Request, container: ContainerDep) -> Staff:
    staff = await run_in_threadpool(staff_from_session, request, container)
    if staff is None:
        raise LoginRequired()
    return staff


StaffDep = Annotated[Staff, Depends(page_staff)]


async def checked_form(request: Request, staff: StaffDep) -> FormData:
    """The posted form, once its CSRF token has been checked against the session's."""
    form = await request.form()
    submitted = form.get(CSRF_FIELD)
    if not csrf_ok(request, staff.csrf, submitted if isinstance(submitted, str) else None):
        raise CsrfRefused()
    return form


FormDep = Annotated[FormData, Depends(checked_form)]


def login_redirect(request: Request) -> Response:
    target = request.url.path
    if request.url.query:
        target += "?" + request.url.query
    location = "/login"
    if request.method == "GET" and target.startswith("/inbox"):
        location += "?next=" + quote(target, safe="")
    if request.headers.get("hx-request"):
        return Response(status_code=401, headers={"HX-Redirect": location})
    if request.url.path.startswith("/inbox/events"):
        return Response("sign in first\n", status_code=401, media_type="text/plain")
    return Response(status_code=303, headers={"Location": location, "Cache-Control": "no-store"})


_MAX_TARGET = 2000  # characters: a list view with every filter is a few hundred


def inbox_target(target: object, default: str = "/inbox") -> str:
    """`target` if it is a path inside the inbox, made safe for a Location header; else
    `default`. Another host (`//evil`), a control character (a CRLF would split the header)
    or an oversized value is refused; anything not ASCII is percent-encoded."""
    if (
        not isinstance(target, str)
        or not target.startswith("/inbox")
        or len(target) > _MAX_TARGET
        or any(ord(c) < 0x20 or ord(c) == 0x7F for c in target)
    ):
        return default
    return quote(target, safe="/?&=%:@!$'()*+,;-._~#")
