"""`/inbox/simulate`, admins only: upload (or paste) a proposed configuration, pick a period
and a traffic source, and see what it would have done beside the configuration in force: the
report `partnerline simulate --out` writes (bot/http/web/simulation_report.py), shown in the
inbox or downloaded as its standalone file. Nothing is applied.

The proposed file is checked as `partnerline check` checks it (bot.config.check_text): its
problems are listed as check prints them, `FILE:LINE: KEY: message`. The current side is the
configuration in force in this process (bot/usecases/configured.py), taken once per request.
The replay is CPU work and runs in a worker thread, one at a time per process.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import PurePath
from typing import Any, cast

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.responses import HTMLResponse, Response

from bot.config import AgencyConfig, Problem, check_text
from bot.config.directory import build_directory
from bot.container import Container
from bot.http.body_limits import DEFAULT_LIMIT
from bot.http.sessions import Staff
from bot.http.web.guard import FormDep, StaffDep
from bot.http.web.simulation_report import render_simulation_report, report_context
from bot.http.web.templating import render
from bot.usecases.directory import Directory
from bot.usecases.simulation.result import Comparison
from bot.usecases.simulation.traffic import DEFAULT_SEED
from bot.usecases.whatif import MAX_DAYS, MAX_PER_DAY, Traffic, check_request, what_if
from routing.errors import DomainError

router = APIRouter(include_in_schema=False)
PAGE = "/inbox/simulate"
NOT_ADMIN = "Only admin accounts may run a what-if."
DEFAULT_DAYS = 28
DEFAULT_PER_DAY = 40
DEFAULT_NAME = "proposed.toml"
BUSY = "A what-if is already running in this process; try again in a moment."
# One replay at a time per process: it holds a core for a second or more.
_RUNNING = threading.Lock()


@dataclass
class _Asked:
    """The form as sent (or as first shown), to show again beside its answer."""

    start: str
    end: str
    traffic: str = "db"
    per_day: str = str(DEFAULT_PER_DAY)
    seed: str = str(DEFAULT_SEED)
    text: str = ""
    name: str = DEFAULT_NAME


def _defaults(container: Container) -> _Asked:
    """The last 28 whole days, in the agency's zone."""
    today = container.clock.now().astimezone(container.directory.zone).date()
    end = today - timedelta(days=1)
    start = end - timedelta(days=DEFAULT_DAYS - 1)
    return _Asked(start=start.isoformat(), end=end.isoformat())


def _page(
    request: Request,
    staff: Staff,
    asked: _Asked,
    *,
    error: str | None = None,
    problems: list[Problem] | None = None,
    comparison: Comparison | None = None,
    client_names: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    container: Container = request.app.state.container
    context: dict[str, Any] = {
        "asked": asked,
        "error": error,
        "problems": problems or [],
        "current_path": container.config.source_path or "the configuration in force",
        "max_days": MAX_DAYS,
        "max_per_day": MAX_PER_DAY,
        "max_kb": DEFAULT_LIMIT // 1024,
        "r": report_context(comparison, client_names) if comparison is not None else None,
    }
    return render(request, "simulate.html", staff, context, status_code=status)


def _refused(request: Request, staff: Staff) -> Response:
    return render(
        request, "error.html", staff, {"error": NOT_ADMIN, "back": "/inbox"}, status_code=403
    )


@router.get(PAGE)
async def simulate_form(request: Request, staff: StaffDep) -> Response:
    if not staff.is_admin:
        return _refused(request, staff)
    return _page(request, staff, _defaults(request.app.state.container))


@router.post(PAGE)
async def simulate_run(request: Request, staff: StaffDep, form: FormDep) -> Response:
    if not staff.is_admin:
        return _refused(request, staff)
    container: Container = request.app.state.container
    asked = _Asked(
        start=_text(form, "from"),
        end=_text(form, "to"),
        traffic=_text(form, "traffic") or "db",
        per_day=_text(form, "per_day") or str(DEFAULT_PER_DAY),
        seed=_text(form, "seed") or str(DEFAULT_SEED),
    )
    try:
        asked.text, asked.name = await _proposed(form)
        start, end, traffic = _request(asked)
    except DomainError as exc:
        return _page(request, staff, asked, error=exc.user_message, status=exc.status)
    config, problems = await run_in_threadpool(check_text, asked.text, asked.name)
    if problems or config is None:
        return _page(request, staff, asked, problems=problems, status=400)
    live = container.live.current  # once: a reload meanwhile changes nothing here
    current_path = cast("AgencyConfig", live.source).source_path
    current_name = f"{current_path or 'the configuration'} (in force)"
    if not _RUNNING.acquire(blocking=False):
        return _page(request, staff, asked, error=BUSY, status=503)
    try:
        comparison = await run_in_threadpool(
            _run, live.directory, config, start, end, traffic, container, current_name, asked.name
        )
    except DomainError as exc:
        return _page(request, staff, asked, error=exc.user_message, status=exc.status)
    finally:
        _RUNNING.release()
    names = {c.id: c.name for c in live.directory.clients.values()} | {
        c.id: c.name for c in config.clients
    }
    if _text(form, "as") == "file":
        return _download(comparison, names)
    return _page(request, staff, asked, comparison=comparison, client_names=names)


def _run(
    current: Directory,
    config: AgencyConfig,
    start: date,
    end: date,
    traffic: Traffic,
    container: Container,
    current_name: str,
    proposed_name: str,
) -> Comparison:
    return what_if(
        current,
        build_directory(config),
        start,
        end,
        traffic,
        container.services.reader,
        container.clock.now(),
        current_name=current_name,
        proposed_name=proposed_name,
        coalesce=timedelta(seconds=container.settings.page_coalesce_seconds),
    )


def _download(comparison: Comparison, names: dict[str, str]) -> Response:
    html = render_simulation_report(comparison, names)
    filename = f"what-if-{comparison.period_from}-{comparison.period_to}.html"
    return HTMLResponse(
        html,
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            # The file loads nothing: its only style is inline, and no script runs.
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
            "frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
            "Cache-Control": "no-store",
        },
    )


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


async def _proposed(form: FormData) -> tuple[str, str]:
    """The proposed configuration's text and the file name its problems are given under: the
    uploaded file if one was chosen, else the pasted text."""
    upload = form.get("file")
    if isinstance(upload, UploadFile) and upload.filename:
        raw = await upload.read()
        name = PurePath(upload.filename.replace("\\", "/")).name[:100] or DEFAULT_NAME
        try:
            return raw.decode("utf-8-sig"), name
        except UnicodeDecodeError as exc:
            line = raw[: exc.start].count(b"\n") + 1
            raise DomainError(
                "whatif_file", f"{name}:{line}: not UTF-8 text (TOML files are UTF-8)"
            ) from None
    pasted = form.get("text")
    text = pasted if isinstance(pasted, str) else ""
    if not text.strip():
        raise DomainError("whatif_file", "Choose a proposed configuration file, or paste one.")
    name = PurePath(_text(form, "name").replace("\\", "/")).name[:100] or DEFAULT_NAME
    return text, name


def _request(asked: _Asked) -> tuple[date, date, Traffic]:
    start, end = _day("From", asked.start), _day("To", asked.end)
    if asked.traffic == "synthetic":
        try:
            per_day, seed = float(asked.per_day), int(asked.seed)
        except ValueError:
            raise DomainError(
                "whatif_traffic", "synthetic traffic needs a number a day and a whole seed"
            ) from None
        traffic = Traffic("synthetic", per_day, seed)
    else:
        traffic = Traffic("db")
    check_request(start, end, traffic)
    return start, end, traffic


def _day(label: str, text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise DomainError("whatif_period", f"{label}: {text!r} is not a date") from None
