"""Bot Framework, kept behind this one module: the adapter, `POST /api/messages`, the
msrest speed-ups, and proactive sends. The rest of the bot speaks `bot.chat` and never
imports botbuilder, so moving to another SDK (the Microsoft 365 Agents SDK) replaces
this package and nothing else.

- `adapter`: CloudAdapter wiring without botbuilder's per-turn client construction.
- `msrest_fast`: msrest's common JSON cases taken directly (checked against msrest).
- `endpoint`: `POST /api/messages` (authenticate, then run the turn, body as is).
- `handler`: activities to `ChatTurn`s for the dispatcher; the turn error handler.
- `turn`, `identity`, `attachments`: a `ChatTurn` read from and answered on an activity.
- `proactive`: notices into saved conversations.
- `outbound`: every connector call on the event loop (aiohttp), with timeouts, bounded
  concurrency and one retry on a fresh connection when a pooled one went stale.
"""
from __future__ import annotations

from aiohttp import web

from bot.botframework.adapter import create_adapter
from bot.botframework.endpoint import messages_handler
from bot.botframework.handler import ChannelBot, IsAdmin, turn_error_handler
from bot.botframework.outbound import OutboundHttp
from bot.botframework.proactive import ProactiveSender
from bot.chat.dispatch import Dispatcher
from bot.settings import Settings

MESSAGES_PATH = "/api/messages"


class BotFrameworkChannel:
    """The chat channel: answers `/api/messages` and sends proactive notices."""

    def __init__(self, settings: Settings) -> None:
        self.outbound = OutboundHttp(timeout=settings.outbound_timeout_seconds,
                                     per_host=settings.outbound_per_host, total=settings.outbound_total)
        self.adapter = create_adapter(settings, turn_error_handler, self.outbound)
        self.sender = ProactiveSender(self.adapter, settings.app_id)
        self._auth_enabled = settings.auth_enabled

    def add_routes(self, router: web.UrlDispatcher, dispatcher: Dispatcher, is_admin: IsAdmin) -> None:
        router.add_post(MESSAGES_PATH, messages_handler(self.adapter, ChannelBot(dispatcher, is_admin),
                                                        auth_enabled=self._auth_enabled))

    async def close(self) -> None:
        """Close the outbound connections (at shutdown, after the last send)."""
        await self.outbound.close()


__all__ = ["MESSAGES_PATH", "BotFrameworkChannel"]
