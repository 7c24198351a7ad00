"""Proactive messages: posting into a conversation the bot saved a reference to."""
from __future__ import annotations

from typing import Any

from botbuilder.core import MessageFactory, TurnContext
from botbuilder.integration.aiohttp import CloudAdapter
from botbuilder.schema import ConversationReference, TextFormatTypes

from bot.botframework.turn import card_attachment
from bot.chat.turn import Card


class ProactiveSender:
    """Sends markdown text (and a card, if given) to a saved conversation; raises whatever stopped it."""

    def __init__(self, adapter: CloudAdapter, app_id: str) -> None:
        self._adapter = adapter
        self._app_id = app_id

    async def send(self, reference: dict[str, Any], text: str, card: Card | None = None) -> None:
        failures: list[BaseException] = []

        async def post(context: TurnContext) -> None:
            # Caught here: an exception escaping the callback would go to the turn error
            # handler, which would apologise into the same broken conversation.
            try:
                message = MessageFactory.text(text) if card is None else MessageFactory.attachment(
                    card_attachment(card), text=text)
                message.text_format = TextFormatTypes.markdown
                await context.send_activity(message)
            except Exception as error:
                failures.append(error)

        await self._adapter.continue_conversation(ConversationReference().deserialize(reference), post,
                                                  bot_app_id=self._app_id)
        if failures:
            raise failures[0]
