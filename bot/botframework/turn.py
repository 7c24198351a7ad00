"""`ChatTurn` over botbuilder's `TurnContext`: how a chat turn answers on Bot Framework."""
from __future__ import annotations

import logging
from typing import Any, Final

from botbuilder.core import CardFactory, MessageFactory, TurnContext
from botbuilder.schema import Activity, ActivityTypes, Attachment, DeliveryModes, TextFormatTypes

from bot.botframework.identity import place_of
from bot.chat.turn import Card, ChatTurn, ConsentAnswer, Speaker

log = logging.getLogger(__name__)

FILE_CONSENT_CONTENT_TYPE: Final = "application/vnd.microsoft.teams.card.file.consent"
FILE_INFO_CONTENT_TYPE: Final = "application/vnd.microsoft.teams.card.file.info"


class BotFrameworkTurn(ChatTurn):
    def __init__(self, context: TurnContext, speaker: Speaker, *, is_admin: bool) -> None:
        super().__init__(speaker, place_of(context.activity), is_admin=is_admin)
        self.context = context

    @property
    def activity(self) -> Activity:
        return self.context.activity

    async def say(self, text: str) -> str | None:
        reply = MessageFactory.text(text)
        reply.text_format = TextFormatTypes.markdown
        response = await self.context.send_activity(reply)
        return response.id if response else None

    async def show(self, card: Card, text: str | None = None) -> str | None:
        reply = MessageFactory.attachment(card_attachment(card), text=text)
        response = await self.context.send_activity(reply)
        return response.id if response else None

    async def replace(self, activity_id: str, card: Card) -> bool:
        if self.activity.delivery_mode == DeliveryModes.expect_replies:
            return False  # the replies travel in the HTTP response: there is nothing to update over the wire
        update = Activity(type=ActivityTypes.message, id=activity_id, attachments=[card_attachment(card)])
        try:
            await self.context.update_activity(update)
            return True
        except Exception as error:  # a channel may refuse updates; the answer still goes out
            log.info("could not replace activity %s (%s); sending a new card", activity_id, type(error).__name__)
            return False

    async def offer_file(self, name: str, size: int, description: str, context: dict[str, Any]) -> None:
        consent = Attachment(content_type=FILE_CONSENT_CONTENT_TYPE, name=name, content={
            "description": description,
            "sizeInBytes": size,
            "acceptContext": context,
            "declineContext": context,
        })
        await self.context.send_activity(MessageFactory.attachment(consent))

    async def show_uploaded_file(self, answer: ConsentAnswer, name: str) -> None:
        file_info = Attachment(content_type=FILE_INFO_CONTENT_TYPE, name=answer.name or name,
                               content_url=answer.content_url,
                               content={"uniqueId": answer.unique_id, "fileType": answer.file_type or "csv"})
        await self.context.send_activity(MessageFactory.attachment(file_info))

    def conversation_reference(self) -> dict[str, Any]:
        reference: dict[str, Any] = TurnContext.get_conversation_reference(self.activity).serialize()
        return reference


def card_attachment(card: Card) -> Attachment:
    return CardFactory.adaptive_card(card)
