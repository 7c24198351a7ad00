"""One chat turn as the features see it: who asked, where, what they sent, how to answer.

Channel-neutral on purpose: nothing here knows Bot Framework. `bot.botframework`
builds a `ChatTurn` from each incoming activity and implements the answering methods
over botbuilder, so a later port to another SDK replaces that package and nothing else.
"""
from __future__ import annotations

import uuid
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

from provisioning.audit import Actor

Card = dict[str, Any]  # an Adaptive Card, as built by `cards`


@dataclass(frozen=True)
class Speaker:
    """Who sent the activity, and for which tenant."""

    tenant_id: str  # "" when a channel that must name one (Teams) did not
    user_id: str  # the Entra ID object id when the channel gives one, else the channel's user id
    channel_user_id: str
    name: str
    channel_id: str


@dataclass(frozen=True)
class Place:
    """Where the turn happens."""

    conversation_id: str
    is_private: bool  # a one-to-one chat: the only place secrets (codes) are shown
    offers_files: bool  # Teams personal chat: files go through a file consent card
    service_url: str | None  # the channel's connector; attachments may be fetched from its host
    reply_to_id: str | None  # the activity a submit answers (Teams sets it, Web Chat doesn't)


@dataclass(frozen=True)
class IncomingFile:
    """A file attached to a message."""

    name: str  # as the sender named it: untrusted
    url: str  # untrusted: checked against the host policy before use


@dataclass(frozen=True)
class ConsentAnswer:
    """The admin's answer to a file consent card (Teams personal chat)."""

    accepted: bool
    context: Any  # what the offer carried, echoed back by the client: untrusted
    upload_url: str | None = None
    name: str | None = None
    content_url: str | None = None
    unique_id: str | None = None
    file_type: str | None = None


class ChatTurn(ABC):
    """The turn's facts, and the ways to answer in its conversation."""

    def __init__(self, speaker: Speaker, place: Place, *, is_admin: bool) -> None:
        self.speaker = speaker
        self.place = place
        self.is_admin = is_admin

    @property
    def tenant_id(self) -> str:
        return self.speaker.tenant_id

    @property
    def conversation_id(self) -> str:
        return self.place.conversation_id

    @property
    def is_private(self) -> bool:
        return self.place.is_private

    @property
    def actor(self) -> Actor:
        return Actor(id=self.speaker.user_id, name=self.speaker.name, source="chat")

    @abstractmethod
    async def say(self, text: str) -> str | None:
        """Send markdown text; the activity id the channel gave it, if any."""

    @abstractmethod
    async def show(self, card: Card, text: str | None = None) -> str | None:
        """Send an Adaptive Card; the activity id the channel gave it, if any."""

    @abstractmethod
    async def replace(self, activity_id: str, card: Card) -> bool:
        """Replace an earlier message with `card`; False if the channel would not."""

    @abstractmethod
    async def offer_file(self, name: str, size: int, description: str, context: dict[str, Any]) -> None:
        """Send a file consent card (Teams personal chat); the answer carries `context`."""

    @abstractmethod
    async def show_uploaded_file(self, answer: ConsentAnswer, name: str) -> None:
        """After an accepted offer was uploaded: the card that opens the file."""

    @abstractmethod
    def conversation_reference(self) -> dict[str, Any]:
        """Where to send later notices about this conversation (JSON-safe)."""


def new_card_id() -> str:
    return uuid.uuid4().hex
