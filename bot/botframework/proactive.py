"""Proactive messages: posting into a conversation the bot saved a reference to."""
from __future__ import annotations

import time
from email.utils import parsedate_to_datetime
from typing import Any

from botbuilder.core import CardFactory, MessageFactory, TurnContext
from botbuilder.integration.aiohttp import CloudAdapter
from botbuilder.schema import ConversationReference, TextFormatTypes
from msrest.exceptions import HttpOperationError

from bot.chat.turn import Card
from bot.notices import Throttled

MAX_RETRY_AFTER = 3600.0  # a Retry-After beyond an hour is taken as an hour


class ProactiveSender:
    """Sends markdown text, or a card with a text summary, to a saved conversation; raises
    whatever stopped it, a 429 as `bot.notices.Throttled`."""

    def __init__(self, adapter: CloudAdapter, app_id: str) -> None:
        self._adapter = adapter
        self._app_id = app_id

    async def send(self, reference: dict[str, Any], text: str, card: Card | None = None) -> None:
        failures: list[BaseException] = []

        async def post(context: TurnContext) -> None:
            # Caught here: an exception escaping the callback would go to the turn error
            # handler, which would apologise into the same broken conversation.
            try:
                if card is None:
                    message = MessageFactory.text(text)
                    message.text_format = TextFormatTypes.markdown
                else:
                    message = MessageFactory.attachment(CardFactory.adaptive_card(card))
                    message.summary = text  # what Teams shows in the notification and the chat list
                await context.send_activity(message)
            except Exception as error:
                failures.append(error)

        await self._adapter.continue_conversation(ConversationReference().deserialize(reference), post,
                                                  bot_app_id=self._app_id)
        if failures:
            raise _throttled(failures[0]) or failures[0]


def _throttled(error: BaseException) -> Throttled | None:
    """A 429 from the connector as `Throttled`, with its Retry-After (seconds or an HTTP date)."""
    if not isinstance(error, HttpOperationError):
        return None
    response = error.response
    status = getattr(response, "status", None) or getattr(response, "status_code", None)
    if status != 429:
        return None
    raw = (getattr(response, "headers", None) or {}).get("Retry-After")
    return Throttled(_retry_after(raw))


def _retry_after(raw: str | None) -> float | None:
    if not raw:
        return None
    try:
        seconds = float(raw)
    except ValueError:
        try:
            seconds = parsedate_to_datetime(raw).timestamp() - time.time()
        except (TypeError, ValueError):
            return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)
