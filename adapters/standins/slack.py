"""A stand-in of the Slack Web API on loopback, and Slack's side of the Events API.

It serves `/api/{method}` for auth.test, chat.postMessage, chat.update, chat.postEphemeral,
conversations.open and users.info (the people added with `add_user`), reading parameters as
Slack does (query string, urlencoded or JSON body; `blocks` JSON-encoded inside a form),
checking the bot token (`Authorization: Bearer`), and answering `{"ok": true, ...}` or
`{"ok": false, "error": ...}`. It records every request, can rate-limit (HTTP 429 with
`Retry-After`) or fail calls, and keeps the messages it "posted" (edits applied, threads kept)
for tests and the sandbox to read.

It also plays Slack towards the app: it builds Events API callbacks (messages, edits,
deletions, the bot's own echo), block_actions payloads (pressing a message's button), slash
commands and url_verification, and delivers them signed exactly as Slack signs requests
(`v0` HMAC-SHA256 over "v0:{timestamp}:{body}", `X-Slack-Request-Timestamp` and
`X-Slack-Signature`, computed with slack_sdk's SignatureVerifier), with Slack's retry headers
when asked.
"""

from __future__ import annotations

import itertools
import json
import secrets
import threading
import time
from collections import deque
from typing import Any
from urllib.parse import urlencode

import httpx
from slack_sdk.signature import SignatureVerifier
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from adapters.standins.recording import ApiCall, CapturedRequest, RequestLog, capture, decode_params
from adapters.standins.server import LoopbackServer, StandIn

TEAM_ID = "T0PARTNERL"
APP_ID = "A0PARTNERL"


def _decode_params(request: CapturedRequest) -> dict[str, Any]:
    params = decode_params(request)
    for key in ("blocks", "attachments"):  # JSON text inside a form or a query string
        if isinstance(params.get(key), str):
            params[key] = json.loads(params[key])
    return params


MAX_TEXT = 40_000  # characters of `text` (Slack truncates longer ones; here refused, to show)


def _error(error: str, status: int = 200, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"ok": False, "error": error}, status_code=status, headers=headers)


def _flag(value: Any) -> bool | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    return str(value).lower() in ("1", "true")


class SlackStandIn(StandIn):
    """The Web API of one workspace and one bot token, served on 127.0.0.1.

    Point slack_sdk's `base_url` (SLACK_API_URL) at `api_url`.
    """

    def __init__(
        self,
        token: str,
        signing_secret: str,
        *,
        port: int = 0,
        bot_user_id: str = "U0PLBOT000",
        bot_id: str = "B0PLBOT000",
    ) -> None:
        self.token = token
        self.signing_secret = signing_secret
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.requests = RequestLog()
        self._lock = threading.Lock()
        self._ts = itertools.count(1)
        self._events = itertools.count(1)
        self._messages: dict[tuple[str, str], dict[str, Any]] = {}
        self._ephemeral: list[dict[str, Any]] = []
        self._rate_limits: deque[tuple[str | None, float]] = deque()
        # (method, status, error, calls of the method to let through first)
        self._failures: deque[list[Any]] = deque()
        self._users: dict[str, dict[str, Any]] = {}
        # file id -> {"name", "length", "data" once uploaded}: files_upload_v2's three steps
        self._files: dict[str, dict[str, Any]] = {}
        app = Starlette(
            routes=[
                Route("/api/{method}", self._handle, methods=["GET", "POST"]),
                Route("/upload/{file_id}", self._upload, methods=["POST"]),
                Route("/files-pri/{file_id}/{name}", self._private_file, methods=["GET"]),
            ]
        )
        self._server = LoopbackServer(app, port=port)
        self._methods = {
            "auth.test": self._auth_test,
            "chat.postMessage": self._post_message,
            "chat.update": self._update,
            "chat.postEphemeral": self._post_ephemeral,
            "conversations.open": self._open,
            "users.info": self._users_info,
            "files.getUploadURLExternal": self._upload_url,
            "files.completeUploadExternal": self._complete_upload,
        }

    # --- lifecycle -------------------------------------------------------------------------

    @property
    def api_url(self) -> str:
        """What SLACK_API_URL should be (slack_sdk appends the method name)."""
        return self._server.url + "/api/"

    # --- behaviour programming ---------------------------------------------------------------

    def rate_limit(self, count: int = 1, retry_after: float = 1, method: str | None = None) -> None:
        """Answer the next `count` calls (of `method`, or any) with 429 and `Retry-After`."""
        with self._lock:
            self._rate_limits.extend([(method, retry_after)] * count)

    def fail_next(
        self,
        count: int = 1,
        error: str = "internal_error",
        status: int = 500,
        method: str | None = None,
        after: int = 0,
    ) -> None:
        """Answer the next `count` calls (of `method`, or any) with this error, once `after`
        such calls have gone through."""
        with self._lock:
            self._failures.extend([method, status, error, after] for _ in range(count))

    def add_user(
        self, user_id: str, real_name: str, display_name: str = "", *, name: str | None = None
    ) -> None:
        """A member of the workspace (or of a Slack Connect channel) that users.info knows."""
        with self._lock:
            self._users[user_id] = {
                "id": user_id,
                "team_id": TEAM_ID,
                "name": name or real_name.split()[0].lower(),
                "deleted": False,
                "real_name": real_name,
                "is_bot": False,
                "profile": {
                    "real_name": real_name,
                    "display_name": display_name,
                    "real_name_normalized": real_name,
                    "display_name_normalized": display_name,
                },
            }

    def reset(self) -> None:
        with self._lock:
            self._users.clear()
            self._messages.clear()
            self._ephemeral.clear()
            self._files.clear()
            self._rate_limits.clear()
            self._failures.clear()
        self.requests.clear()

    # --- inspection --------------------------------------------------------------------------

    def calls(self, method: str | None = None) -> list[ApiCall]:
        """Every method call received (whatever its outcome), oldest first."""
        found = []
        for request in self.requests.all():
            name = request.path.rsplit("/", 1)[-1]
            if method is None or name == method:
                found.append(ApiCall(name, _decode_params(request), request))
        return found

    def messages(self, channel: str) -> list[dict[str, Any]]:
        """Top-level messages the bot posted in `channel`, as edited since, oldest first."""
        with self._lock:
            return [
                dict(m)
                for (c, _), m in sorted(self._messages.items(), key=lambda i: float(i[0][1]))
                if c == channel and not m.get("thread_ts")
            ]

    def thread(self, channel: str, ts: str) -> list[dict[str, Any]]:
        """The bot's replies in the thread of message `ts`, oldest first."""
        with self._lock:
            return [
                dict(m)
                for (c, _), m in sorted(self._messages.items(), key=lambda i: float(i[0][1]))
                if c == channel and m.get("thread_ts") == ts
            ]

    def message(self, channel: str, ts: str) -> dict[str, Any]:
        with self._lock:
            return dict(self._messages[(channel, ts)])

    def ephemeral(self, user: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(m) for m in self._ephemeral if user is None or m["user"] == user]

    @staticmethod
    def dm_channel(user: str) -> str:
        """The DM channel conversations.open gives for `user` (stable, as Slack's is)."""
        return "D" + user[1:]

    # --- Slack's side: building payloads -----------------------------------------------------

    def next_ts(self) -> str:
        with self._lock:
            return f"{int(time.time())}.{next(self._ts):06d}"

    def envelope(self, event: dict[str, Any], event_id: str | None = None) -> dict[str, Any]:
        """An Events API `event_callback` around `event`."""
        with self._lock:
            number = next(self._events)
        return {
            "token": "legacy-verification-token",
            "team_id": TEAM_ID,
            "api_app_id": APP_ID,
            "event": event,
            "type": "event_callback",
            "event_id": event_id or f"Ev{number:010d}",
            "event_time": int(time.time()),
            "authorizations": [{"team_id": TEAM_ID, "user_id": self.bot_user_id, "is_bot": True}],
        }

    def message_event(
        self,
        user: str,
        channel: str,
        text: str,
        *,
        channel_type: str = "channel",
        ts: str | None = None,
        thread_ts: str | None = None,
        files: list[dict[str, Any]] | None = None,
        **fields: Any,
    ) -> dict[str, Any]:
        """The `message` event of `user` writing `text` in `channel` ("im" for a DM)."""
        ts = ts or self.next_ts()
        event: dict[str, Any] = {
            "type": "message",
            "channel": channel,
            "channel_type": channel_type,
            "user": user,
            "text": text,
            "ts": ts,
            "event_ts": ts,
            "team": TEAM_ID,
            **fields,
        }
        if thread_ts:
            event["thread_ts"] = thread_ts
        if files:
            event["files"] = files
            event["subtype"] = "file_share"
        return event

    def dm_event(self, user: str, text: str, **fields: Any) -> dict[str, Any]:
        return self.message_event(user, self.dm_channel(user), text, channel_type="im", **fields)

    def edit_event(self, original: dict[str, Any], text: str) -> dict[str, Any]:
        """The `message_changed` event Slack sends when the author edits `original`."""
        edited_ts = self.next_ts()
        previous = {k: v for k, v in original.items() if k not in ("channel", "channel_type")}
        message = {
            **previous,
            "text": text,
            "edited": {"user": original.get("user"), "ts": edited_ts},
        }
        return {
            "type": "message",
            "subtype": "message_changed",
            "hidden": True,
            "channel": original["channel"],
            "channel_type": original.get("channel_type", "channel"),
            "message": message,
            "previous_message": previous,
            "ts": edited_ts,
            "event_ts": edited_ts,
        }

    def delete_event(self, original: dict[str, Any]) -> dict[str, Any]:
        ts = self.next_ts()
        previous = {k: v for k, v in original.items() if k not in ("channel", "channel_type")}
        return {
            "type": "message",
            "subtype": "message_deleted",
            "hidden": True,
            "channel": original["channel"],
            "channel_type": original.get("channel_type", "channel"),
            "deleted_ts": original["ts"],
            "previous_message": previous,
            "ts": ts,
            "event_ts": ts,
        }

    def echo_event(self, channel: str, ts: str) -> dict[str, Any]:
        """The `message` event Slack sends the app about a message the bot itself posted."""
        stored = self.message(channel, ts)
        event = {
            "type": "message",
            "channel": channel,
            "channel_type": "im" if channel.startswith("D") else "channel",
            "user": self.bot_user_id,
            "bot_id": self.bot_id,
            "text": stored.get("text", ""),
            "ts": ts,
            "event_ts": ts,
        }
        if stored.get("thread_ts"):
            event["thread_ts"] = stored["thread_ts"]
        return event

    def block_action(self, user: str, channel: str, ts: str, button: int = 0) -> dict[str, Any]:
        """The block_actions payload of `user` pressing button `button` of a bot message."""
        stored = self.message(channel, ts)
        buttons = [
            {**element, "_block_id": block.get("block_id", "actions")}
            for block in stored.get("blocks") or []
            if block.get("type") == "actions"
            for element in block.get("elements", [])
        ]
        if button >= len(buttons):
            raise ValueError(f"message {channel}:{ts} has no button {button}")
        pressed = buttons[button]
        return {
            "type": "block_actions",
            "team": {"id": TEAM_ID, "domain": "partnerline-test"},
            "user": {"id": user, "username": user.lower(), "team_id": TEAM_ID},
            "api_app_id": APP_ID,
            "token": "legacy-verification-token",
            "container": {"type": "message", "message_ts": ts, "channel_id": channel},
            "trigger_id": f"{secrets.randbits(40)}.{secrets.randbits(40)}",
            "channel": {"id": channel, "name": "directmessage"},
            "message": {k: v for k, v in stored.items() if not k.startswith("_")},
            "response_url": f"{self.url}/response/{secrets.token_hex(8)}",
            "actions": [
                {
                    "type": "button",
                    "action_id": pressed["action_id"],
                    "block_id": pressed.get("_block_id", "page_actions"),
                    "text": pressed["text"],
                    "value": pressed.get("value"),
                    "action_ts": f"{time.time():.6f}",
                }
            ],
        }

    def slash_command(
        self, command: str, user: str, channel: str, text: str = ""
    ) -> dict[str, str]:
        return {
            "token": "legacy-verification-token",
            "team_id": TEAM_ID,
            "team_domain": "partnerline-test",
            "channel_id": channel,
            "channel_name": "directmessage",
            "user_id": user,
            "user_name": user.lower(),
            "command": command,
            "text": text,
            "api_app_id": APP_ID,
            "response_url": f"{self.url}/response/{secrets.token_hex(8)}",
            "trigger_id": f"{secrets.randbits(40)}.{secrets.randbits(40)}",
        }

    @staticmethod
    def url_verification(challenge: str) -> dict[str, str]:
        return {
            "token": "legacy-verification-token",
            "challenge": challenge,
            "type": "url_verification",
        }

    # --- Slack's side: delivering ------------------------------------------------------------

    def signed_headers(
        self, body: bytes, *, timestamp: int | None = None, secret: str | None = None
    ) -> dict[str, str]:
        """The signature headers Slack sends with `body`."""
        stamp = str(int(time.time()) if timestamp is None else timestamp)
        verifier = SignatureVerifier(secret or self.signing_secret)
        signature = verifier.generate_signature(timestamp=stamp, body=body)
        assert signature is not None
        return {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": signature}

    def deliver(
        self,
        url: str,
        payload: dict[str, Any],
        *,
        form: bool = False,
        retry_num: int | None = None,
        retry_reason: str = "http_timeout",
        timestamp: int | None = None,
        secret: str | None = None,
        signature: str | None = None,
    ) -> httpx.Response:
        """POST `payload` to the app as Slack does, signed.

        An Events API callback or url_verification goes as JSON; with `form`, a slash command's
        fields go urlencoded as they are, and an interaction goes as its `payload` field.
        `retry_num` adds Slack's `X-Slack-Retry-Num` and `X-Slack-Retry-Reason`; `timestamp`,
        `secret` and `signature` forge stale or bad signatures. Blocking: call it from a thread
        other than the receiver's event loop.
        """
        if form:
            fields = payload if "command" in payload else {"payload": json.dumps(payload)}
            body = urlencode(fields).encode()
            headers = {"Content-Type": "application/x-www-form-urlencoded"}
        else:
            body = json.dumps(payload).encode()
            headers = {"Content-Type": "application/json"}
        headers.update(self.signed_headers(body, timestamp=timestamp, secret=secret))
        if signature is not None:
            headers["X-Slack-Signature"] = signature
        if retry_num is not None:
            headers["X-Slack-Retry-Num"] = str(retry_num)
            headers["X-Slack-Retry-Reason"] = retry_reason
        with httpx.Client(timeout=10.0) as client:
            return client.post(url, content=body, headers=headers)

    def deliver_event(self, url: str, event: dict[str, Any], **kw: Any) -> httpx.Response:
        event_id = kw.pop("event_id", None)
        return self.deliver(url, self.envelope(event, event_id), **kw)

    # --- the HTTP side ------------------------------------------------------------------------

    async def _handle(self, request: Request) -> Response:
        captured = await capture(request)
        self.requests.append(captured)
        method = request.path_params["method"]
        auth = captured.headers.get("authorization", "")
        try:
            params = _decode_params(captured)
        except (ValueError, UnicodeDecodeError):
            return _error("invalid_json")
        token = auth.removeprefix("Bearer ").strip() if auth else str(params.get("token", ""))
        if not token:
            return _error("not_authed")
        if token != self.token:
            return _error("invalid_auth")
        handler = self._methods.get(method)
        if handler is None:
            return _error("unknown_method", 404)
        with self._lock:
            limited = next((r for r in self._rate_limits if r[0] in (None, method)), None)
            if limited is not None:
                self._rate_limits.remove(limited)
            failing = next((f for f in self._failures if f[0] in (None, method)), None)
            if limited is None and failing is not None:
                if failing[3] > 0:  # still letting calls through
                    failing[3] -= 1
                    failing = None
                else:
                    self._failures.remove(failing)
        if limited is not None:
            wait = limited[1]
            return _error("ratelimited", 429, {"Retry-After": f"{wait:g}"})
        if failing is not None:
            return _error(failing[2], failing[1])
        try:
            return handler(params)
        except (KeyError, TypeError, ValueError) as exc:
            return _error(f"invalid_arguments: {exc}")

    def _auth_test(self, params: dict[str, Any]) -> Response:
        return JSONResponse(
            {
                "ok": True,
                "url": "https://partnerline-test.slack.com/",
                "team": "Partnerline Test",
                "user": "partnerline",
                "team_id": TEAM_ID,
                "user_id": self.bot_user_id,
                "bot_id": self.bot_id,
                "is_enterprise_install": False,
            }
        )

    def _channel(self, params: dict[str, Any]) -> str | Response:
        channel = params.get("channel")
        if not channel:
            return _error("channel_not_found")
        channel = str(channel)
        if channel[:1] in ("U", "W"):  # Slack posts to a user id in the app's DM with them
            channel = self.dm_channel(channel)
        return channel

    def file_bytes(self, file_id: str) -> bytes:
        """What was uploaded as `file_id` (files_upload_v2)."""
        with self._lock:
            data: bytes = self._files[file_id]["data"]
            return data

    def add_file(self, content: bytes, name: str, mimetype: str) -> dict[str, Any]:
        """A file a user shared: its object as a `message` event carries it (`files=[...]`),
        with a `url_private` served only with the bot token, as Slack's."""
        file_id = f"F{next(self._ts):09d}"
        with self._lock:
            self._files[file_id] = {
                "name": name,
                "length": len(content),
                "data": content,
                "mimetype": mimetype,
            }
        return {
            "id": file_id,
            "name": name,
            "mimetype": mimetype,
            "url_private": f"{self._server.url}/files-pri/{file_id}/{name}",
        }

    async def _private_file(self, request: Request) -> Response:
        captured = await capture(request)
        self.requests.append(captured)
        if captured.headers.get("authorization") != f"Bearer {self.token}":
            # Slack answers a missing or wrong token with its sign-in page, not the file.
            return Response("<html>sign in</html>", status_code=200, media_type="text/html")
        with self._lock:
            found = self._files.get(request.path_params["file_id"])
        if found is None or "data" not in found:
            return Response("not found", status_code=404)
        return Response(found["data"], media_type=found.get("mimetype", "application/octet-stream"))

    def _upload_url(self, params: dict[str, Any]) -> Response:
        name, length = str(params.get("filename") or ""), str(params.get("length") or "")
        if not name or not length.isdigit():
            return _error("invalid_arguments")
        file_id = f"F{next(self._ts):09d}"
        with self._lock:
            self._files[file_id] = {"name": name, "length": int(length)}
        url = f"{self._server.url}/upload/{file_id}"
        return JSONResponse({"ok": True, "upload_url": url, "file_id": file_id})

    async def _upload(self, request: Request) -> Response:
        file_id = request.path_params["file_id"]
        data = await request.body()
        with self._lock:
            pending = self._files.get(file_id)
            if pending is None or len(data) != pending["length"]:
                return Response("bad upload", status_code=400)
            pending["data"] = data
        return Response("OK - " + str(len(data)), status_code=200)

    def _complete_upload(self, params: dict[str, Any]) -> Response:
        """Shares the uploaded files in `channel_id` as one message (with `initial_comment`)."""
        files = params.get("files")
        listed = json.loads(files) if isinstance(files, str) else files
        channel = self._channel({"channel": params.get("channel_id")})
        if isinstance(channel, Response) or not isinstance(listed, list) or not listed:
            return _error("invalid_arguments")
        with self._lock:
            found = [self._files.get(str(f.get("id"))) for f in listed]
        if any(f is None or "data" not in f for f in found):
            return _error("file_not_found")
        ids = [str(f["id"]) for f in listed]
        ts = self.next_ts()
        message: dict[str, Any] = {
            "type": "message",
            "channel": channel,
            "ts": ts,
            "user": self.bot_user_id,
            "bot_id": self.bot_id,
            "text": str(params.get("initial_comment") or ""),
            "files": [{"id": i, "name": f["name"]} for i, f in zip(ids, found, strict=True) if f],
        }
        if params.get("thread_ts"):
            message["thread_ts"] = str(params["thread_ts"])
        with self._lock:
            self._messages[(channel, ts)] = message
        shares = {"public": {channel: [{"ts": ts}]}}
        body = [{"id": i, "title": i, "shares": shares} for i in ids]
        return JSONResponse({"ok": True, "files": body})

    def _post_message(self, params: dict[str, Any]) -> Response:
        channel = self._channel(params)
        if isinstance(channel, Response):
            return channel
        text, blocks = params.get("text"), params.get("blocks")
        if not text and not blocks:
            return _error("no_text")
        if text and len(str(text)) > MAX_TEXT:
            return _error("msg_too_long")
        thread_ts = params.get("thread_ts")
        with self._lock:
            if thread_ts and (channel, str(thread_ts)) not in self._messages:
                return _error("thread_not_found")
        ts = self.next_ts()
        message: dict[str, Any] = {
            "type": "message",
            "channel": channel,
            "ts": ts,
            "user": self.bot_user_id,
            "bot_id": self.bot_id,
            "text": text or "",
            "mrkdwn": _flag(params.get("mrkdwn")),
            "link_names": _flag(params.get("link_names")),
        }
        if blocks:
            message["blocks"] = blocks
        if thread_ts:
            message["thread_ts"] = str(thread_ts)
        with self._lock:
            self._messages[(channel, ts)] = message
        public = {k: v for k, v in message.items() if k not in ("channel", "mrkdwn", "link_names")}
        return JSONResponse({"ok": True, "channel": channel, "ts": ts, "message": public})

    def _update(self, params: dict[str, Any]) -> Response:
        channel = self._channel(params)
        if isinstance(channel, Response):
            return channel
        ts = str(params.get("ts") or "")
        with self._lock:
            message = self._messages.get((channel, ts))
            if message is None:
                return _error("message_not_found")
            if "text" in params:
                message["text"] = params["text"] or ""
            if "blocks" in params:
                if params["blocks"]:
                    message["blocks"] = params["blocks"]
                else:
                    message.pop("blocks", None)
            message["_edits"] = message.get("_edits", 0) + 1
            text = message["text"]
        return JSONResponse({"ok": True, "channel": channel, "ts": ts, "text": text})

    def _post_ephemeral(self, params: dict[str, Any]) -> Response:
        channel = self._channel(params)
        if isinstance(channel, Response):
            return channel
        user = params.get("user")
        if not user:
            return _error("user_not_found")
        ts = self.next_ts()
        with self._lock:
            self._ephemeral.append(
                {"channel": channel, "user": str(user), "text": params.get("text") or "", "ts": ts}
            )
        return JSONResponse({"ok": True, "message_ts": ts})

    def _users_info(self, params: dict[str, Any]) -> Response:
        with self._lock:
            user = self._users.get(str(params.get("user") or ""))
        if user is None:
            return _error("user_not_found")
        return JSONResponse({"ok": True, "user": user})

    def _open(self, params: dict[str, Any]) -> Response:
        users = str(params.get("users") or "")
        if not users or "," in users:
            return _error("users_not_found" if not users else "not_supported")
        return JSONResponse({"ok": True, "channel": {"id": self.dm_channel(users)}})
