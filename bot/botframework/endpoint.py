"""`POST /api/messages`: the Bot Framework endpoint, a thin handler around the adapter.

Not `CloudAdapter.process()`: in botbuilder 4.17.1 it answers 500 whenever the turn
has a response body (invokes, `deliveryMode: expectReplies`) because it serializes an
already serialized dict again, and it lets a malformed token surface as 500. Here the
request is authenticated first (any failure is a 401), then the turn runs, and its
body is returned as it is.

What an unauthenticated sender can make the bot do is bounded: with authentication on,
a request without a bearer token shaped like a JWT is refused before its body is read;
the body is read only up to `MAX_ACTIVITY_BYTES` whether or not it declares a length
(chunked bodies included); and the token is checked against the few fields it is bound
to (channel, service URL) before the activity is deserialized.
"""
from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

import orjson
from aiohttp import web
from botbuilder.core import Bot
from botbuilder.integration.aiohttp import CloudAdapter
from botbuilder.schema import Activity

from bot.botframework.msrest_fast import activity_from_json

log = logging.getLogger(__name__)

AUTH_TIMEOUT_SECONDS = 15
MAX_ACTIVITY_BYTES = 1024 * 1024
MAX_AUTHORIZATION_CHARS = 16 * 1024
_BEARER_JWT = re.compile(r"Bearer [A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
_UNAUTHORIZED = "Unauthorized: missing or invalid Bot Framework token."


def messages_handler(adapter: CloudAdapter, bot: Bot, *, auth_enabled: bool) -> Any:
    async def handle(request: web.Request) -> web.Response:
        if request.content_type != "application/json":
            return _problem(415, "Send the activity as application/json.")
        auth_header = request.headers.get("Authorization", "")
        if auth_enabled and not (len(auth_header) <= MAX_AUTHORIZATION_CHARS and _BEARER_JWT.fullmatch(auth_header)):
            log.warning("refused an activity: no bearer token")
            return _problem(401, _UNAUTHORIZED)
        raw = await _read_capped(request)
        if raw is None:
            return _problem(413, "The activity is too large.")
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return _problem(400, "The body is not valid JSON.")
        if not _looks_like_activity(body):
            return _problem(400, "The body is not a Bot Framework activity: it needs a string 'type', "
                                 "'conversation.id' and an http(s) 'serviceUrl'.")
        # The token is bound to the channel and service URL only: check it before the costly part.
        bound_to = Activity(channel_id=body.get("channelId") if isinstance(body.get("channelId"), str) else None,
                            service_url=body["serviceUrl"])
        try:
            async with asyncio.timeout(AUTH_TIMEOUT_SECONDS):
                authenticated = await adapter.bot_framework_authentication.authenticate_request(bound_to, auth_header)
        except Exception as error:  # every way a token can be wrong is the caller's problem: 401
            log.warning("refused an activity: authentication failed (%s)", type(error).__name__)
            return _problem(401, _UNAUTHORIZED)
        try:
            activity = activity_from_json(body)
        except Exception:  # msrest raises its own DeserializationError and plain TypeErrors
            return _problem(400, "The activity has fields of the wrong type.")

        invoke_response = await adapter.process_activity(authenticated, activity, bot.on_turn)
        if invoke_response is None:
            return web.Response(status=200)
        return web.Response(
            status=invoke_response.status or 200,
            body=orjson.dumps(invoke_response.body, default=_serialize_model),
            content_type="application/json",
        )

    return handle


async def _read_capped(request: web.Request) -> bytes | None:
    """The body, or None if it is larger than `MAX_ACTIVITY_BYTES` (declared or streamed)."""
    if request.content_length is not None and request.content_length > MAX_ACTIVITY_BYTES:
        return None
    raw = await request.content.read(MAX_ACTIVITY_BYTES + 1)
    while len(raw) <= MAX_ACTIVITY_BYTES:
        more = await request.content.read(MAX_ACTIVITY_BYTES + 1 - len(raw))
        if not more:
            return raw
        raw += more
    return None


def _looks_like_activity(body: Any) -> bool:
    """The fields every channel sends and a reply cannot do without."""
    if not isinstance(body, dict):
        return False
    kind, conversation, service_url = body.get("type"), body.get("conversation"), body.get("serviceUrl")
    return (
        isinstance(kind, str) and bool(kind.strip())
        and isinstance(conversation, dict) and isinstance(conversation.get("id"), str) and bool(conversation["id"])
        and isinstance(service_url, str) and service_url.startswith(("http://", "https://"))
    )


def _serialize_model(value: Any) -> Any:
    """Invoke bodies may hold msrest models (botbuilder hands back models or dicts)."""
    if hasattr(value, "serialize"):
        return value.serialize()
    raise TypeError(f"cannot serialize {type(value).__name__}")


def _problem(status: int, message: str) -> web.Response:
    return web.Response(status=status, body=orjson.dumps({"error": message}), content_type="application/json")
