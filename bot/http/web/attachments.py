"""Files staff send with a reply, and the two ways a stored file is read back.

- `POST /inbox/upload/{conversation_id}`: a multipart form (`attachment`, optional `text`):
  JPEG, PNG, GIF or PDF, at most MAX_BYTES (Twilio's MMS limit), the type read from the
  file's first bytes, never from its name or the browser's word. Stored (storage/files.py)
  and sent as a reply (bot/usecases/attachments.py).
- `GET /media/{key}?expires=…&sig=…`: the file for the provider to fetch (Twilio MMS), with
  no session: the signature (HMAC-SHA256 of "key:expires" under the session secret) is the
  credential, and it lapses after MEDIA_URL_LIFETIME.
- `GET /inbox/files/{key}`: the file for a signed-in staff member (the timeline shows it).
- `GET /inbox/media/{message_id}/{index}`: a client's attachment, fetched from the provider
  with the provider's credentials (the adapter's `fetch_media`: Twilio's API with basic auth,
  Telegram's getFile, Slack's url_private with the bot token), for a signed-in staff member
  only. Images are shown inline; anything else is a download, and nothing served runs.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.responses import FileResponse, Response

from bot.container import Container
from bot.http.api.responses import RowId
from bot.http.sessions import session_secret
from bot.http.web.conversation import MAX_TEXT, _act, _invalid
from bot.http.web.guard import FormDep, StaffDep
from bot.settings import Settings
from bot.usecases.attachments import OutgoingFile
from routing.messages import Channel
from storage.files import LocalFiles, default_dir

router = APIRouter(include_in_schema=False)

MAX_BYTES = 5 * 1024 * 1024  # Twilio takes at most 5 MB of media per MMS
UPLOAD_PREFIX = "/inbox/upload/"
MEDIA_URL_LIFETIME = 7 * 24 * 3600  # seconds: outlasts the outbox's retries
# Type -> (extension, how its files start).
ALLOWED: dict[str, tuple[str, tuple[bytes, ...]]] = {
    "image/jpeg": ("jpg", (b"\xff\xd8\xff",)),
    "image/png": ("png", (b"\x89PNG\r\n\x1a\n",)),
    "image/gif": ("gif", (b"GIF87a", b"GIF89a")),
    "application/pdf": ("pdf", (b"%PDF-",)),
}
ALLOWED_WORDS = "JPEG, PNG, GIF or PDF"
TYPE_OF_EXTENSION = {ext: kind for kind, (ext, _) in ALLOWED.items()}


def files_of(settings: Settings) -> LocalFiles:
    root = settings.attachments_dir
    return LocalFiles(Path(root) if root else default_dir(settings.database_url))


def sniffed_type(head: bytes) -> str | None:
    """The allowed type these first bytes begin, else None."""
    for kind, (_, magics) in ALLOWED.items():
        if any(head.startswith(m) for m in magics):
            return kind
    return None


def _signature(secret: bytes, key: str, expires: int) -> str:
    return hmac.new(secret, f"{key}:{expires}".encode(), hashlib.sha256).hexdigest()


def media_url(settings: Settings, key: str, now: float | None = None) -> str | None:
    """The signed public URL of a stored file, None without PUBLIC_URL."""
    if not settings.public_url:
        return None
    expires = int(now if now is not None else time.time()) + MEDIA_URL_LIFETIME
    sig = _signature(session_secret(settings), key, expires)
    return f"{settings.public_url.rstrip('/')}/media/{key}?expires={expires}&sig={sig}"


def _serve(path: Path, name: str | None = None) -> Response:
    kind = TYPE_OF_EXTENSION.get(path.suffix.lstrip("."), "application/octet-stream")
    inline = kind.startswith("image/")
    response = FileResponse(
        path,
        media_type=kind,
        filename=name or path.name,
        content_disposition_type="inline" if inline else "attachment",
    )
    # Never a page of ours: nothing in it may run, whatever a browser makes of the bytes.
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["Cache-Control"] = "private, max-age=3600"
    return response


def _missing() -> Response:
    return Response("no such file\n", status_code=404, media_type="text/plain")


@router.get("/media/{key}")
async def public_media(key: str, request: Request) -> Response:
    """For the provider: refused (403) unless signed and unexpired; 404 if gone."""
    container: Container = request.app.state.container
    expires_raw, sig = request.query_params.get("expires", ""), request.query_params.get("sig")
    if not expires_raw.isdigit() or len(expires_raw) > 12 or not sig:
        return Response("forbidden\n", status_code=403, media_type="text/plain")
    expires = int(expires_raw)
    secret = await run_in_threadpool(session_secret, container.settings)
    good = hmac.compare_digest(_signature(secret, key, expires).encode(), sig.encode())
    if not good or expires < time.time():
        return Response("forbidden\n", status_code=403, media_type="text/plain")
    path = files_of(container.settings).path(key)
    return _serve(path) if path is not None else _missing()


@router.get("/inbox/files/{key}")
async def staff_file(key: str, request: Request, staff: StaffDep) -> Response:
    container: Container = request.app.state.container
    path = files_of(container.settings).path(key)
    return _serve(path) if path is not None else _missing()


MAX_MEDIA = 25 * 1024 * 1024  # a client's attachment shown through the proxy
INLINE_IMAGES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})


@runtime_checkable
class FetchesMedia(Protocol):
    """An adapter that can fetch a client's attachment with its provider's credentials."""

    def fetch_media(self, url: str, max_bytes: int) -> tuple[bytes, str] | None: ...


@runtime_checkable
class FetchesMediaAsync(Protocol):
    async def fetch_media_async(
        self, attachment: dict[str, Any], max_bytes: int
    ) -> tuple[bytes, str] | None: ...


@router.get("/inbox/media/{message_id}/{index}")
async def client_media(
    message_id: RowId, index: int, request: Request, staff: StaffDep
) -> Response:
    container: Container = request.app.state.container
    message = await run_in_threadpool(_message, container, message_id)
    found = None
    if message is not None and message.direction == "in" and 0 <= index < len(message.attachments):
        attachment = message.attachments[index]
        adapter = container.adapters.get(Channel(message.channel))
        if isinstance(adapter, FetchesMediaAsync):
            found = await adapter.fetch_media_async(attachment, MAX_MEDIA)
        elif isinstance(adapter, FetchesMedia) and isinstance(attachment.get("url"), str):
            found = await run_in_threadpool(adapter.fetch_media, attachment["url"], MAX_MEDIA)
    if found is None:
        return Response(
            "this attachment cannot be fetched from the provider\n",
            status_code=404,
            media_type="text/plain",
        )
    data, kind = found
    kind = kind.split(";")[0].strip().lower()
    inline = kind in INLINE_IMAGES
    response = Response(data, media_type=kind if inline else "application/octet-stream")
    response.headers["Content-Disposition"] = "inline" if inline else "attachment"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["Cache-Control"] = "private, max-age=3600"
    return response


def _message(container: Container, message_id: int) -> Any:
    with container.services.reader() as uow:
        return uow.conversations.message(message_id)


async def _read_upload(upload: UploadFile) -> bytes | None:
    """The whole file, or None when it is over MAX_BYTES (read no further than that)."""
    data = await upload.read(MAX_BYTES + 1)
    return None if len(data) > MAX_BYTES else data


@router.post(UPLOAD_PREFIX + "{conversation_id}")
async def upload(
    conversation_id: RowId, request: Request, staff: StaffDep, form: FormDep
) -> Response:
    container: Container = request.app.state.container
    upload = form.get("attachment")
    raw_text = form.get("text")
    text = raw_text.strip() if isinstance(raw_text, str) else ""
    if not isinstance(upload, UploadFile) or not upload.filename:
        return _invalid(request, staff, "Choose a file to send.")
    if len(text) > MAX_TEXT:
        return _invalid(request, staff, f"At most {MAX_TEXT} characters.")
    data = await _read_upload(upload)
    if data is None:
        return _invalid(request, staff, f"A file may be at most {MAX_BYTES // 2**20} MB.")
    kind = sniffed_type(data[:16])
    if kind is None:
        return _invalid(request, staff, f"Only {ALLOWED_WORDS} files can be sent.")
    conv = await run_in_threadpool(_conversation, container, conversation_id)
    if conv is not None and conv.channel == "sms" and not container.settings.public_url:
        return _invalid(request, staff, "Sending files by SMS needs PUBLIC_URL to be set.")
    files = files_of(container.settings)
    stored = await run_in_threadpool(files.save, data, ALLOWED[kind][0])
    outgoing = OutgoingFile(
        key=stored.key,
        name=Path(upload.filename).name[:200],
        content_type=kind,
        size=stored.size,
        path=str(stored.path),
        url=media_url(container.settings, stored.key),
    )
    services = container.services
    response = await _act(
        request,
        staff,
        conversation_id,
        lambda: services.reply(conversation_id, text, staff.author, files=[outgoing]),
    )
    if response.status_code >= 400 or "HX-Retarget" in response.headers:
        stored.path.unlink(missing_ok=True)  # refused: nothing refers to it
    return response


def _conversation(container: Container, conversation_id: int) -> Any:
    with container.services.reader() as uow:
        return uow.conversations.get(conversation_id)
