"""A stand-in of the Telegram Bot API on loopback: enough of it for python-telegram-bot.

It serves `/bot{token}/{method}` for getMe, sendMessage, editMessageText,
editMessageReplyMarkup, answerCallbackQuery, setWebhook, getWebhookInfo and deleteWebhook,
reading parameters as the real server does (query string, urlencoded or JSON body; objects
such as `reply_markup` JSON-encoded inside a form), answering `{"ok": ..., "result": ...}` or
`{"ok": false, "error_code": ..., "description": ...}`. It records every request, can be told
that a user blocked the bot (403) or to rate-limit a chat (429 with `retry_after`), keeps the
messages it "sent", and builds updates (messages, edits, button presses, replies) and delivers
them to the webhook with the secret header, as Telegram does.
"""

from __future__ import annotations

import itertools
import json
import re
import secrets
import threading
from collections import defaultdict, deque
from collections.abc import Callable
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from adapters.standins.recording import ApiCall, RequestLog, capture, decode_params
from adapters.standins.server import LoopbackServer, StandIn
from routing.clock import Clock, SystemClock

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_TEXT = 4096
_SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")
_PATH = re.compile(r"/bot(?P<token>[^/]+)/(?P<method>[A-Za-z]+)")
_FILE = re.compile(r"/file/bot(?P<token>[^/]+)/(?P<path>documents/[A-Za-z0-9_-]+)")


def api_error(status: int, description: str, **parameters: Any) -> JSONResponse:
    body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    if parameters:
        body["parameters"] = parameters
    return JSONResponse(body, status_code=status)


def _ok(result: Any) -> JSONResponse:
    return JSONResponse({"ok": True, "result": result})


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _json_field(value: Any) -> Any:
    """An object parameter: JSON text inside a form, or already decoded from a JSON body."""
    if isinstance(value, str):
        return json.loads(value)
    return value


class TelegramStandIn(StandIn):
    """The Bot API for one bot token, served on 127.0.0.1.

    Point python-telegram-bot's `base_url` at `api_url` (`http://127.0.0.1:PORT/bot`).
    """

    def __init__(
        self,
        token: str,
        *,
        port: int = 0,
        clock: Clock | None = None,
        username: str = "partnerline_test_bot",
    ) -> None:
        self.token = token
        bot_id = token.split(":", 1)[0]
        self.bot_user: dict[str, Any] = {
            "id": int(bot_id) if bot_id.isdigit() else 999999,
            "is_bot": True,
            "first_name": "Partnerline",
            "username": username,
            "can_join_groups": False,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }
        self.requests = RequestLog()
        self._clock = clock or SystemClock()
        self._lock = threading.Lock()
        self._blocked: set[str] = set()
        self._rate_limits: dict[str, deque[float | None]] = defaultdict(deque)
        self._failures: deque[tuple[int, str]] = deque()
        self._messages: dict[tuple[str, int], dict[str, Any]] = {}
        self._documents: dict[str, bytes] = {}  # file_id -> the bytes sendDocument uploaded
        self._file_paths: dict[str, bytes] = {}  # getFile's file_path -> the bytes
        self._message_ids: dict[str, itertools.count[int]] = defaultdict(lambda: itertools.count(1))
        self._update_ids = itertools.count(700000001)
        self._queries: dict[str, dict[str, Any]] = {}  # callback query id -> its answer, or {}
        self._webhook: dict[str, Any] = {}
        app = Starlette(routes=[Route("/{path:path}", self._handle, methods=["GET", "POST"])])
        self._server = LoopbackServer(app, port=port)
        self._methods: dict[str, Callable[[dict[str, Any]], Response]] = {
            "getMe": self._get_me,
            "sendMessage": self._send_message,
            "sendDocument": self._send_document,
            "getFile": self._get_file,
            "editMessageText": self._edit_message_text,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "answerCallbackQuery": self._answer_callback_query,
            "setWebhook": self._set_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "deleteWebhook": self._delete_webhook,
        }

    # --- lifecycle -------------------------------------------------------------------------

    @property
    def api_url(self) -> str:
        """What TELEGRAM_API_URL should be: the token is appended to it."""
        return self._server.url + "/bot"

    # --- behaviour programming ---------------------------------------------------------------

    def block(self, chat_id: int | str) -> None:
        """The user blocked the bot: sending to that chat gets 403 until `unblock`."""
        with self._lock:
            self._blocked.add(str(chat_id))

    def unblock(self, chat_id: int | str) -> None:
        with self._lock:
            self._blocked.discard(str(chat_id))

    def rate_limit(
        self, chat_id: int | str, count: int = 1, retry_after: float = 1, *, after: int = 0
    ) -> None:
        """Let `after` messages to `chat_id` through, then answer the next `count` with 429
        and `retry_after` seconds."""
        with self._lock:
            self._rate_limits[str(chat_id)].extend([None] * after + [retry_after] * count)

    def fail_next(self, count: int = 1, status: int = 500, description: str = "") -> None:
        """Answer the next `count` authorised method calls with this error."""
        with self._lock:
            self._failures.extend([(status, description or "Internal Server Error")] * count)

    def reset(self) -> None:
        """Forget programmed failures, messages, queries, the webhook and recorded requests."""
        with self._lock:
            self._blocked.clear()
            self._rate_limits.clear()
            self._failures.clear()
            self._messages.clear()
            self._documents.clear()
            self._file_paths.clear()
            self._message_ids.clear()
            self._queries.clear()
            self._webhook = {}
        self.requests.clear()

    # --- inspection --------------------------------------------------------------------------

    def calls(self, method: str | None = None) -> list[ApiCall]:
        """Every authorised method call received (any outcome), oldest first."""
        found = []
        for request in self.requests.all():
            match = _PATH.fullmatch(request.path)
            if match is None or match["token"] != self.token:
                continue
            if method is None or match["method"] == method:
                found.append(ApiCall(match["method"], decode_params(request), request))
        return found

    def sent_to(self, chat_id: int | str) -> list[dict[str, Any]]:
        """The messages now in `chat_id` that the bot sent (as edited since), oldest first."""
        with self._lock:
            chat = str(chat_id)
            return [dict(m) for (c, _), m in sorted(self._messages.items()) if c == chat]

    def message(self, chat_id: int | str, message_id: int) -> dict[str, Any]:
        with self._lock:
            return dict(self._messages[(str(chat_id), message_id)])

    def answer_of(self, query_id: str) -> dict[str, Any] | None:
        """How the bot answered a button press, or None if it has not."""
        with self._lock:
            answer = self._queries.get(query_id)
            return dict(answer) if answer else None

    @property
    def webhook(self) -> dict[str, Any]:
        with self._lock:
            return dict(self._webhook)

    # --- building updates ----------------------------------------------------------------------

    @staticmethod
    def user(user_id: int, first_name: str, last_name: str | None = None) -> dict[str, Any]:
        user: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": first_name}
        if last_name:
            user["last_name"] = last_name
        return user

    def _now(self) -> int:
        return int(self._clock.now().timestamp())

    def _private_chat(self, user: dict[str, Any]) -> dict[str, Any]:
        chat = {"id": user["id"], "type": "private", "first_name": user["first_name"]}
        if "last_name" in user:
            chat["last_name"] = user["last_name"]
        return chat

    def message_update(
        self,
        user: dict[str, Any],
        text: str | None = None,
        *,
        message_id: int | None = None,
        reply_to: dict[str, Any] | None = None,
        **fields: Any,
    ) -> dict[str, Any]:
        """An update with a message from `user` in their private chat with the bot.

        `fields` are added to the message as they are (`photo`, `document`, `voice`, `caption`).
        A `/command` text gets its bot_command entity, as Telegram sends it.
        """
        chat = self._private_chat(user)
        if message_id is None:
            with self._lock:
                message_id = next(self._message_ids[str(chat["id"])])
        message: dict[str, Any] = {
            "message_id": message_id,
            "from": user,
            "chat": chat,
            "date": self._now(),
            **fields,
        }
        if text is not None:
            message["text"] = text
            if text.startswith("/"):
                command = text.split()[0]
                message["entities"] = [
                    {"type": "bot_command", "offset": 0, "length": _utf16_len(command)}
                ]
        if reply_to is not None:
            message["reply_to_message"] = reply_to
        return {"update_id": self.next_update_id(), "message": message}

    def edit_update(self, original: dict[str, Any], text: str) -> dict[str, Any]:
        """The `edited_message` update Telegram sends when a user edits `original`'s message."""
        message = dict(original["message"])
        message["text"] = text
        message["edit_date"] = self._now()
        return {"update_id": self.next_update_id(), "edited_message": message}

    def reply_update(
        self, user: dict[str, Any], chat_id: int | str, message_id: int, text: str
    ) -> dict[str, Any]:
        """`user` replies (Telegram's reply) to the bot's message `message_id` with `text`."""
        replied = self._public_message(self.message(chat_id, message_id))
        return self.message_update(user, text, reply_to=replied)

    def press_button(
        self, user: dict[str, Any], chat_id: int | str, message_id: int, button: int = 0
    ) -> dict[str, Any]:
        """The callback_query update of `user` pressing an inline button of a bot message.

        The message may be in another chat than the user's own (a forwarded button).
        """
        stored = self.message(chat_id, message_id)
        rows = (stored.get("reply_markup") or {}).get("inline_keyboard") or []
        buttons = [b for row in rows for b in row]
        if button >= len(buttons):
            raise ValueError(f"message {chat_id}:{message_id} has no button {button}")
        query_id = str(secrets.randbits(63))
        with self._lock:
            self._queries[query_id] = {}
        query = {
            "id": query_id,
            "from": user,
            "message": self._public_message(stored),
            "chat_instance": str(abs(hash(str(chat_id)))),
            "data": buttons[button]["callback_data"],
        }
        return {"update_id": self.next_update_id(), "callback_query": query}

    def next_update_id(self) -> int:
        with self._lock:
            return next(self._update_ids)

    @staticmethod
    def _public_message(stored: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in stored.items() if not k.startswith("_")}

    # --- delivering updates --------------------------------------------------------------------

    def deliver(
        self,
        update: dict[str, Any],
        url: str | None = None,
        *,
        secret: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """POST `update` to the webhook as Telegram does: JSON, with the secret token header.

        `url` and `secret` default to what setWebhook registered. Blocking: call it from a thread
        other than the receiver's event loop.
        """
        hook = self.webhook
        target = url or hook.get("url")
        if not target:
            raise ValueError("no webhook URL: pass url= or call setWebhook first")
        token = secret if secret is not None else hook.get("secret_token")
        sent = {"Content-Type": "application/json"}
        if token:
            sent[SECRET_HEADER] = token
        sent.update(headers or {})
        with httpx.Client(timeout=10.0) as client:
            return client.post(target, content=json.dumps(update), headers=sent)

    # --- the HTTP side ------------------------------------------------------------------------

    async def _handle(self, request: Request) -> Response:
        captured = await capture(request)
        self.requests.append(captured)
        download = _FILE.fullmatch(captured.path)
        if download is not None:  # /file/bot<token>/<file_path>, as getFile said
            with self._lock:
                data = self._file_paths.get(download["path"])
            if download["token"] != self.token or data is None:
                return api_error(404, "Not Found")
            return Response(data, media_type="application/octet-stream")
        match = _PATH.fullmatch(captured.path)
        if match is None:
            return api_error(404, "Not Found")
        if match["token"] != self.token:
            return api_error(401, "Unauthorized")
        handler = self._methods.get(match["method"])
        if handler is None:
            return api_error(404, "Not Found: method not found")
        try:
            params = decode_params(captured)
            if captured.content_type.startswith("multipart/form-data"):
                params.update(await _multipart(request))  # an upload: sendDocument
        except (ValueError, UnicodeDecodeError):
            return api_error(400, "Bad Request: can't parse request JSON object")
        with self._lock:
            failure = self._failures.popleft() if self._failures else None
        if failure is not None:
            return api_error(failure[0], failure[1])
        try:
            return handler(params)
        except (ValueError, TypeError, KeyError) as exc:
            return api_error(400, f"Bad Request: {exc}")

    def _get_me(self, params: dict[str, Any]) -> Response:
        return _ok(self.bot_user)

    def _chat_refusal(self, chat_id: str) -> Response | None:
        with self._lock:
            if chat_id in self._blocked:
                return api_error(403, "Forbidden: bot was blocked by the user")
            waits = self._rate_limits.get(chat_id)
            wait = waits.popleft() if waits else None
            if wait is not None:
                seconds = max(1, int(wait)) if wait >= 1 else wait
                return api_error(
                    429, f"Too Many Requests: retry after {seconds:g}", retry_after=seconds
                )
        return None

    @staticmethod
    def _markup(params: dict[str, Any]) -> dict[str, Any] | None:
        if "reply_markup" not in params:
            return None
        try:
            markup = _json_field(params["reply_markup"])
        except ValueError as exc:
            raise ValueError("can't parse reply keyboard markup JSON object") from exc
        if not isinstance(markup, dict):
            raise ValueError("can't parse reply keyboard markup JSON object")
        for row in markup.get("inline_keyboard", []):
            for button in row:
                data = button.get("callback_data")
                if data is not None and not 1 <= len(str(data).encode()) <= 64:
                    raise ValueError("BUTTON_DATA_INVALID")
                if not button.get("text"):
                    raise ValueError("BUTTON_TEXT_INVALID")
        return markup

    @staticmethod
    def _text(params: dict[str, Any]) -> str:
        text = str(params.get("text", ""))
        if not text.strip():
            raise ValueError("message text is empty")
        if _utf16_len(text) > MAX_TEXT:
            raise ValueError("message is too long")
        return text

    def _send_message(self, params: dict[str, Any]) -> Response:
        if "chat_id" not in params:
            raise ValueError("chat_id is empty")
        chat_id = str(params["chat_id"])
        refusal = self._chat_refusal(chat_id)
        if refusal is not None:
            return refusal
        text = self._text(params)
        markup = self._markup(params)
        with self._lock:
            message_id = next(self._message_ids[chat_id])
            chat_ref = int(chat_id) if chat_id.lstrip("-").isdigit() else chat_id
            message: dict[str, Any] = {
                "message_id": message_id,
                "from": self.bot_user,
                "chat": {"id": chat_ref, "type": "private", "first_name": "Client"},
                "date": self._now(),
                "text": text,
            }
            if markup is not None:
                message["reply_markup"] = markup
            self._messages[(chat_id, message_id)] = message
            return _ok(self._public_message(message))

    def _send_document(self, params: dict[str, Any]) -> Response:
        """An uploaded file (multipart): kept whole, for `document_bytes`."""
        if "chat_id" not in params:
            raise ValueError("chat_id is empty")
        chat_id = str(params["chat_id"])
        upload = params.get("document")
        if not isinstance(upload, tuple):
            raise ValueError("there is no document in the request")
        name, content_type, data = upload
        refusal = self._chat_refusal(chat_id)
        if refusal is not None:
            return refusal
        with self._lock:
            message_id = next(self._message_ids[chat_id])
            file_id = f"BQAC{chat_id}x{message_id}"
            self._documents[file_id] = data
            message: dict[str, Any] = {
                "message_id": message_id,
                "from": self.bot_user,
                "chat": {
                    "id": int(chat_id) if chat_id.lstrip("-").isdigit() else chat_id,
                    "type": "private",
                    "first_name": "Client",
                },
                "date": self._now(),
                "document": {
                    "file_id": file_id,
                    "file_unique_id": f"u{file_id}",
                    "file_name": name,
                    "mime_type": content_type,
                    "file_size": len(data),
                },
            }
            if params.get("caption"):
                message["caption"] = str(params["caption"])
            self._messages[(chat_id, message_id)] = message
            return _ok(self._public_message(message))

    def add_file(self, content: bytes) -> str:
        """A file a user sent (its file_id, for a message's `document` or `photo`)."""
        with self._lock:
            file_id = f"BQAD{len(self._documents) + 1}x{secrets.token_hex(4)}"
            self._documents[file_id] = content
        return file_id

    def _get_file(self, params: dict[str, Any]) -> Response:
        file_id = str(params.get("file_id") or "")
        with self._lock:
            data = self._documents.get(file_id)
            if data is None:
                return api_error(400, "Bad Request: invalid file_id")
            path = f"documents/{file_id}"
            self._file_paths[path] = data
        return _ok(
            {
                "file_id": file_id,
                "file_unique_id": f"u{file_id}",
                "file_size": len(data),
                "file_path": path,
            }
        )

    def document_bytes(self, file_id: str) -> bytes:
        """What was uploaded as `file_id` (sendDocument)."""
        with self._lock:
            return self._documents[file_id]

    def _stored(self, params: dict[str, Any]) -> tuple[tuple[str, int], dict[str, Any]]:
        if "inline_message_id" in params:
            raise ValueError("inline messages are not supported by this stand-in")
        key = (str(params.get("chat_id", "")), int(params.get("message_id", 0)))
        message = self._messages.get(key)
        if message is None:
            raise ValueError("message to edit not found")
        return key, message

    def _edit_message_text(self, params: dict[str, Any]) -> Response:
        text = self._text(params)
        markup = self._markup(params)
        with self._lock:
            key, message = self._stored(params)
            if message["text"] == text and message.get("reply_markup") == markup:
                raise ValueError(
                    "message is not modified: specified new message content and reply markup "
                    "are exactly the same as a current content and reply markup of the message"
                )
            # As on Telegram: an edit without reply_markup takes the inline keyboard away.
            edited = {k: v for k, v in message.items() if k != "reply_markup"}
            edited["text"] = text
            edited["edit_date"] = self._now()
            if markup is not None:
                edited["reply_markup"] = markup
            self._messages[key] = edited
            return _ok(self._public_message(edited))

    def _edit_message_reply_markup(self, params: dict[str, Any]) -> Response:
        markup = self._markup(params)
        with self._lock:
            key, message = self._stored(params)
            if message.get("reply_markup") == markup:
                raise ValueError("message is not modified")
            edited = {k: v for k, v in message.items() if k != "reply_markup"}
            edited["edit_date"] = self._now()
            if markup is not None:
                edited["reply_markup"] = markup
            self._messages[key] = edited
            return _ok(self._public_message(edited))

    def _answer_callback_query(self, params: dict[str, Any]) -> Response:
        query_id = str(params.get("callback_query_id", ""))
        with self._lock:
            if query_id not in self._queries or self._queries[query_id]:
                return api_error(
                    400,
                    "Bad Request: query is too old and response timeout expired or query ID is "
                    "invalid",
                )
            text = params.get("text")
            if text is not None and len(str(text)) > 200:
                raise ValueError("MESSAGE_TOO_LONG")
            self._queries[query_id] = {
                "text": text,
                "show_alert": str(params.get("show_alert", "false")).lower() == "true",
            }
        return _ok(True)

    def _set_webhook(self, params: dict[str, Any]) -> Response:
        url = str(params.get("url", ""))
        secret = params.get("secret_token")
        if secret is not None and not _SECRET_TOKEN.fullmatch(str(secret)):
            raise ValueError("secret token contains unallowed characters")
        if url and not url.startswith(("https://", "http://")):
            raise ValueError("bad webhook: An HTTPS URL must be provided for webhook")
        allowed = params.get("allowed_updates")
        with self._lock:
            self._webhook = {"url": url}
            if secret is not None:
                self._webhook["secret_token"] = str(secret)
            if allowed is not None:
                self._webhook["allowed_updates"] = _json_field(allowed)
            if "max_connections" in params:
                self._webhook["max_connections"] = int(params["max_connections"])
        description = "Webhook was set" if url else "Webhook is already deleted"
        return JSONResponse({"ok": True, "result": True, "description": description})

    def _get_webhook_info(self, params: dict[str, Any]) -> Response:
        with self._lock:
            hook = dict(self._webhook)
        info: dict[str, Any] = {
            "url": hook.get("url", ""),
            "has_custom_certificate": False,
            "pending_update_count": 0,
        }
        if hook.get("url"):
            info["max_connections"] = hook.get("max_connections", 40)
            info["ip_address"] = "127.0.0.1"
            if "allowed_updates" in hook:
                info["allowed_updates"] = hook["allowed_updates"]
        return _ok(info)

    def _delete_webhook(self, params: dict[str, Any]) -> Response:
        with self._lock:
            self._webhook = {}
        return JSONResponse({"ok": True, "result": True, "description": "Webhook was deleted"})


async def _multipart(request: Request) -> dict[str, Any]:
    """The fields of a multipart body; a file as (name, content type, bytes)."""
    values: dict[str, Any] = {}
    form = await request.form()
    for key, value in form.multi_items():
        if isinstance(value, str):
            values[key] = value
        else:
            values[key] = (value.filename, value.content_type, await value.read())
    return values
