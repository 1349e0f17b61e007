"""`/login` and `/logout` (docs/CONTRACT.md, "Web inbox")."""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from bot.http.deps import ContainerDep
from bot.http.sessions import (
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    SESSION_MAX_AGE,
    cookie_secure,
    end_session,
    login_csrf,
    login_csrf_ok,
    new_session,
    staff_from_session,
)
from bot.http.web.guard import FormDep, StaffDep, inbox_target
from bot.http.web.templating import render
from bot.usecases.accounts import AddressThrottle, SignIn, StaffAccounts
from storage.accounts import StaffAccountRepository

router = APIRouter(include_in_schema=False)


def _throttle(request: Request) -> AddressThrottle:
    throttle: AddressThrottle | None = getattr(request.app.state, "login_throttle", None)
    if throttle is None:
        throttle = request.app.state.login_throttle = AddressThrottle()
    return throttle


def _login_page(
    request: Request, *, error: str | None = None, status: int = 200, login: str = ""
) -> Response:
    token, cookie = login_csrf(request)
    response = render(
        request,
        "login.html",
        None,
        {
            "login_csrf": token,
            "error": error,
            "login": login,
            "next": inbox_target(request.query_params.get("next")),
        },
        status_code=status,
    )
    container = request.app.state.container
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        cookie,
        max_age=3600,
        httponly=True,
        samesite="lax",
        secure=cookie_secure(request, container.settings),
        path="/login",
    )
    return response


@router.get("/login")
async def login_form(request: Request, container: ContainerDep) -> Response:
    if await run_in_threadpool(staff_from_session, request, container) is not None:
        return RedirectResponse("/inbox", status_code=303)
    return _login_page(request)


@router.post("/login")
async def login(
    request: Request,
    container: ContainerDep,
    username: Annotated[str, Form(max_length=100)] = "",
    password: Annotated[str, Form(max_length=1000)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=500)] = "/inbox",
) -> Response:
    if not login_csrf_ok(request, csrf_token):
        return _login_page(
            request, error="The form expired or came from another site; try again.", status=403
        )
    address = request.client.host if request.client else "?"
    throttle = _throttle(request)
    wait = throttle.wait(address)
    if wait > 0:
        return _too_many(request, wait, username)

    fresh = throttle.fresh(address, username)

    def attempt() -> tuple[SignIn, str | None]:
        with container.db.session() as session:
            result = StaffAccounts(StaffAccountRepository(session)).sign_in(
                username, password, container.clock.now(), fresh_address=fresh
            )
            session.commit()
        token = None if result.account is None else new_session(container, result.account)
        return result, token

    result, token = await run_in_threadpool(attempt)
    if result.account is None or token is None:
        throttle.failed(address, username)
        if result.retry_after is not None:
            return _too_many(request, result.retry_after.total_seconds(), username)
        return _login_page(request, error="Wrong login or password.", status=401, login=username)
    response = RedirectResponse(inbox_target(next), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=SESSION_MAX_AGE,
        httponly=True,
        samesite="lax",
        secure=cookie_secure(request, container.settings),
        path="/",
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


def _too_many(request: Request, seconds: float, login: str) -> Response:
    wait = max(1, math.ceil(seconds))
    response = _login_page(
        request,
        error=f"Too many failed sign-ins. Try again in {wait} seconds.",
        status=429,
        login=login,
    )
    response.headers["Retry-After"] = str(wait)
    return response


@router.post("/logout")
async def logout(request: Request, staff: StaffDep, form: FormDep) -> Response:
    container = request.app.state.container
    await run_in_threadpool(end_session, container, staff)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(
        SESSION_COOKIE,
        path="/",
        httponly=True,
        samesite="lax",
        secure=cookie_secure(request, container.settings),
    )
    response.headers["Clear-Site-Data"] = '"cookies"'
    return response
