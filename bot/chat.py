"""One chat turn as the command handlers see it: who asked, for which tenant, and how
to answer (text, a card, or a card that replaces an earlier one).
"""
from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import Any

from botbuilder.core import CardFactory, MessageFactory, TurnContext
from botbuilder.schema import Activity, ActivityTypes, Attachment, DeliveryModes, TextFormatTypes

from bot.identity import Speaker
from provisioning.audit import Actor
from provisioning.errors import ProvisioningError

log = logging.getLogger(__name__)


@dataclass
class ChatTurn:
    context: TurnContext
    speaker: Speaker
    is_admin: bool

    @property
    def tenant_id(self) -> str:
        return self.speaker.tenant_id

    @property
    def conversation_id(self) -> str:
        return self.activity.conversation.id

    @property
    def is_private(self) -> bool:
        """A one-to-one chat (Teams personal, the Emulator): the only place codes are shown."""
        conversation = self.activity.conversation
        if getattr(conversation, "is_group", False):
            return False
        return getattr(conversation, "conversation_type", None) in (None, "", "personal")

    def require_private(self, what: str) -> None:
        """Refuse to show secrets where everyone in the conversation would read them."""
        if not self.is_private:
            raise ProvisioningError(
                f"{what} are secrets, and everyone in this conversation would see them. "
                "Ask me in a personal chat (open a chat with the bot), where only you do."
            )

    @property
    def actor(self) -> Actor:
        return Actor(id=self.speaker.user_id, name=self.speaker.name, source="chat")

    @property
    def activity(self) -> Activity:
        return self.context.activity

    async def say(self, text: str) -> str | None:
        """Send markdown text; returns the activity id the channel gave it, if any."""
        reply = MessageFactory.text(text)
        reply.text_format = TextFormatTypes.markdown
        response = await self.context.send_activity(reply)
        return response.id if response else None

    async def show(self, card: dict[str, Any], text: str | None = None) -> str | None:
        """Send an Adaptive Card; returns the activity id the channel gave it, if any."""
        reply = MessageFactory.attachment(card_attachment(card), text=text)
        response = await self.context.send_activity(reply)
        return response.id if response else None

    async def replace(self, activity_id: str, card: dict[str, Any]) -> bool:
        """Replace an earlier card in place; False if the channel would not (then send anew)."""
        if self.activity.delivery_mode == DeliveryModes.expect_replies:
            return False  # the replies travel in the HTTP response: there is nothing to update over the wire
        update = Activity(
            type=ActivityTypes.message,
            id=activity_id,
            attachments=[card_attachment(card)],
        )
        try:
            await self.context.update_activity(update)
            return True
        except Exception as error:  # a channel may refuse updates; the answer still goes out
            log.info("could not replace activity %s (%s); sending a new card", activity_id, type(error).__name__)
            return False


def card_attachment(card: dict[str, Any]) -> Attachment:
    return CardFactory.adaptive_card(card)


def new_card_id() -> str:
    return uuid.uuid4().hex
