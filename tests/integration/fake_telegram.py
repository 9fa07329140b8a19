"""A fake Telegram Bot API on 127.0.0.1, for running the real python-telegram-bot against.

It speaks the wire format PTB 22 uses (``POST /bot{token}/{method}``, form-urlencoded params with
JSON-encoded values, multipart for uploads, ``{"ok": true, "result": ...}`` envelopes) and keeps:

- an update queue served by a long-polling ``getUpdates`` (inject with `command` / `press`);
- an outgoing-call log (`calls`, `texts`, `wait_for`) of everything the bot asked for;
- a per-method failure plan (`fail`): 429 with ``retry_after``, 5xx, or a dropped connection.

Point PTB at it with ``ApplicationBuilder().base_url(f"{fake.base_url}/bot")
.base_file_url(f"{fake.base_url}/file/bot")``.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import BodyPartReader, web

BOT_ID = 7_000_000_001
BOT_USERNAME = "guardbot_test_bot"


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    files: dict[str, bytes] = field(default_factory=dict)
    ts: float = 0.0
    status: int = 200  # what the fake answered (0: connection dropped)

    @property
    def chat_id(self) -> int | None:
        value = self.params.get("chat_id")
        return None if value is None else int(value)

    @property
    def text(self) -> str:
        return str(self.params.get("text") or self.params.get("caption") or "")


@dataclass
class Failure:
    kind: str  # "429" | "500" | "502" | "drop"
    count: int
    retry_after: int = 1


def _decode(value: str) -> Any:
    # PTB JSON-encodes every non-string value; plain strings arrive as they are.
    try:
        return json.loads(value)
    except (json.JSONDecodeError, ValueError):
        return value


class FakeTelegram:
    def __init__(self, token: str = "123456:TEST-TOKEN") -> None:
        self.token = token
        self.calls: list[Call] = []
        self.base_url = ""
        self._updates: list[dict[str, Any]] = []
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1000)
        self._failures: dict[str, list[Failure]] = {}
        self._changed = asyncio.Event()  # replaced by a fresh one after every change
        self._runner: web.AppRunner | None = None
        self._closing = False
        self.commands: list[dict[str, Any]] = []
        app = web.Application(client_max_size=20 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_route("*", "/file/bot{token}/{path:.*}", self._file)
        self.app = app

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> str:
        self._runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=0.2)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.base_url = f"http://127.0.0.1:{port}"
        return self.base_url

    async def stop(self) -> None:
        self._closing = True
        self._notify()  # end the open long polls now instead of waiting for their timeout
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # ------------------------------------------------------------------ test controls

    def fail(self, method: str, kind: str, count: int = 1, retry_after: int = 1) -> None:
        """Make the next `count` calls of `method` fail: "429" (with retry_after), "500"/"502"
        (server error) or "drop" (the connection is closed without an answer)."""
        self._failures.setdefault(method, []).append(Failure(kind, count, retry_after))

    def clear_failures(self) -> None:
        self._failures.clear()

    def command(self, text: str, chat_id: int, user_id: int | None = None) -> int:
        """Queue a message like a user typing `text` (a bot_command entity when it starts with /)."""
        user = user_id if user_id is not None else chat_id
        message: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "group"},
            "from": {"id": user, "is_bot": False, "first_name": "Trader"},
            "text": text,
        }
        if text.startswith("/"):
            length = len(text.split()[0])
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
        return self._push({"message": message})

    def press(self, data: str, chat_id: int, user_id: int | None = None, message_id: int = 1) -> int:
        """Queue a press on an inline button carrying callback `data`."""
        user = user_id if user_id is not None else chat_id
        query = {
            "id": f"cb{next(self._message_ids)}",
            "from": {"id": user, "is_bot": False, "first_name": "Trader"},
            "chat_instance": "ci-1",
            "data": data,
            "message": {
                "message_id": message_id,
                "date": int(time.time()),
                "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "group"},
                "from": {"id": BOT_ID, "is_bot": True, "first_name": "guardbot"},
                "text": "confirm?",
            },
        }
        return self._push({"callback_query": query})

    def _push(self, update: dict[str, Any]) -> int:
        update_id = next(self._update_ids)
        self._updates.append({"update_id": update_id, **update})
        self._notify()
        return update_id

    def _notify(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    def of(self, method: str, chat_id: int | None = None) -> list[Call]:
        return [
            c
            for c in self.calls
            if c.method == method and c.status == 200 and (chat_id is None or c.chat_id == chat_id)
        ]

    def texts(self, chat_id: int | None = None) -> list[str]:
        """Texts of the messages delivered (sendMessage and editMessageText), in order."""
        return [
            c.text
            for c in self.calls
            if c.method in ("sendMessage", "editMessageText", "sendPhoto")
            and c.status == 200
            and (chat_id is None or c.chat_id == chat_id)
        ]

    async def wait_for(
        self,
        method: str,
        predicate: Callable[[Call], bool] = lambda c: True,
        *,
        after: int = 0,
        timeout: float = 5.0,
    ) -> Call:
        """The first successful call of `method` (at index >= `after` in `calls`) matching `predicate`."""

        def find() -> Call | None:
            for c in self.calls[after:]:
                if c.method == method and c.status == 200 and predicate(c):
                    return c
            return None

        async def wait() -> Call:
            while True:
                changed = self._changed
                found = find()
                if found is not None:
                    return found
                await changed.wait()

        try:
            return await asyncio.wait_for(wait(), timeout)
        except TimeoutError:
            seen = [(c.method, c.status, c.text[:60]) for c in self.calls[after:]]
            raise AssertionError(f"no {method} call matched within {timeout}s; calls: {seen}") from None

    async def reply_to(
        self, text: str, chat_id: int, user_id: int | None = None, timeout: float = 5.0
    ) -> Call:
        """Inject a command and wait for the bot's next message in that chat."""
        mark = len(self.calls)
        self.command(text, chat_id, user_id)
        return await self.wait_for("sendMessage", lambda c: c.chat_id == chat_id, after=mark, timeout=timeout)

    # ------------------------------------------------------------------ the API

    async def _params(self, request: web.Request) -> tuple[dict[str, Any], dict[str, bytes]]:
        params: dict[str, Any] = {}
        files: dict[str, bytes] = {}
        if request.content_type.startswith("multipart/"):
            reader = await request.multipart()
            while (part := await reader.next()) is not None:
                if not isinstance(part, BodyPartReader):
                    continue
                data = bytes(await part.read())
                name = part.name or ""
                if part.filename:
                    files[name] = data
                else:
                    params[name] = _decode(data.decode("utf-8"))
        elif request.can_read_body:
            form = await request.post()
            params = {k: _decode(str(v)) for k, v in form.items()}
        params.update({k: _decode(v) for k, v in request.query.items()})
        return params, files

    def _take_failure(self, method: str) -> Failure | None:
        plan = self._failures.get(method)
        if not plan:
            return None
        failure = plan[0]
        failure.count -= 1
        if failure.count <= 0:
            plan.pop(0)
        return failure

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        if request.match_info["token"] != self.token:
            return web.json_response(
                {"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401
            )
        params, files = await self._params(request)
        call = Call(method, params, files, time.time())
        failure = self._take_failure(method)
        if failure is not None:
            return await self._failed(request, call, failure)
        if method == "getUpdates":  # logged when asked, not when the long poll ends
            self.calls.append(call)
            self._notify()
        try:
            result = await self._result(method, params)
        except _ApiError as exc:
            call.status = exc.status
            self.calls.append(call)
            self._notify()
            return web.json_response(
                {"ok": False, "error_code": exc.status, "description": exc.description}, status=exc.status
            )
        if method != "getUpdates":
            self.calls.append(call)
            self._notify()
        return web.json_response({"ok": True, "result": result})

    async def _failed(self, request: web.Request, call: Call, failure: Failure) -> web.StreamResponse:
        if failure.kind == "drop":
            call.status = 0
            self.calls.append(call)
            self._notify()
            if request.transport is not None:
                request.transport.close()
            return web.Response(status=504)
        status = int(failure.kind)
        call.status = status
        self.calls.append(call)
        self._notify()
        if status == 429:
            body = {
                "ok": False,
                "error_code": 429,
                "description": f"Too Many Requests: retry after {failure.retry_after}",
                "parameters": {"retry_after": failure.retry_after},
            }
            return web.json_response(body, status=429)
        return web.json_response(
            {"ok": False, "error_code": status, "description": "Internal Server Error"}, status=status
        )

    def _message(self, params: dict[str, Any], **extra: Any) -> dict[str, Any]:
        chat_id = int(params["chat_id"])
        return {
            "message_id": int(params.get("message_id") or next(self._message_ids)),
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "group"},
            "from": {"id": BOT_ID, "is_bot": True, "first_name": "guardbot", "username": BOT_USERNAME},
            **extra,
        }

    async def _result(self, method: str, params: dict[str, Any]) -> Any:
        if method == "getMe":
            return {
                "id": BOT_ID,
                "is_bot": True,
                "first_name": "guardbot",
                "username": BOT_USERNAME,
                "can_join_groups": True,
                "can_read_all_group_messages": False,
                "supports_inline_queries": False,
            }
        if method == "getUpdates":
            return await self._get_updates(params)
        if method in ("deleteWebhook", "answerCallbackQuery", "deleteMyCommands", "close", "logOut"):
            return True
        if method == "setMyCommands":
            self.commands = list(params.get("commands") or [])
            return True
        if method == "getMyCommands":
            return self.commands
        if method == "sendMessage":
            if not str(params.get("text", "")).strip():
                raise _ApiError(400, "Bad Request: message text is empty")
            return self._message(params, text=params["text"])
        if method == "editMessageText":
            return self._message(params, text=params.get("text", ""))
        if method == "editMessageReplyMarkup":
            return self._message(params, text="")
        if method == "sendPhoto":
            photo = [{"file_id": "photo-1", "file_unique_id": "u-photo-1", "width": 1000, "height": 650}]
            return self._message(params, photo=photo, caption=params.get("caption", ""))
        raise _ApiError(404, f"Not Found: method {method} is not faked")

    async def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = int(params.get("offset") or 0)
        timeout = float(params.get("timeout") or 0)
        limit = int(params.get("limit") or 100)
        # An offset confirms every update before it: they are never served again.
        self._updates = [u for u in self._updates if u["update_id"] >= offset]
        deadline = time.monotonic() + timeout
        while not self._updates and not self._closing and (left := deadline - time.monotonic()) > 0:
            changed = self._changed
            try:
                await asyncio.wait_for(changed.wait(), left)
            except TimeoutError:
                break
        return self._updates[:limit]

    async def _file(self, request: web.Request) -> web.StreamResponse:
        return web.Response(body=b"", status=404)


class _ApiError(Exception):
    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.description = description


# ---------------------------------------------------------------------------- test harness
# The daemon side for Telegram tests: real AccountGuards on the emulator, a real Journal, and a
# host object with the attributes of guardbot.daemon.Daemon that the bot uses.
