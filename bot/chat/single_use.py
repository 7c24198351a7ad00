"""Single-use cards (forms, confirmations, sign-in cards): sent once, answered once.

Each single-use card carries a `card_id` in its submit data. When it is sent, the bot
records the card in the tenant's store with the activity id the connector returned, so
after a submit it can (a) refuse a second or replayed submit of the same card and (b)
replace the card in place. Web Chat sends no `replyToId` on a submit, hence the record.
A card id from another tenant or another conversation, or one never issued, is simply
unknown. Cards older than
`CARD_LIFETIME` are refused as too old, and the oldest records are dropped once a tenant
holds `MAX_CARDS_KEPT`, so the records cannot grow without bound.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from bot.chat.turn import Card, ChatTurn
from provisioning.clock import Clock
from provisioning.repository import Repository, retry_on_conflict

KIND = "card"
CARD_LIFETIME = timedelta(days=7)
MAX_CARDS_KEPT = 2_000  # per tenant; past it, the oldest half is dropped in one commit


class CardNotOpen(Exception):
    """The card is unknown to this tenant, too old, or it was already used."""

    def __init__(self, used: bool) -> None:
        super().__init__("used" if used else "unknown")
        self.used = used


@dataclass(frozen=True)
class CardRecord:
    card_id: str
    purpose: str  # e.g. "add_form", "confirm_remove", "sign_in"
    activity_id: str | None
    conversation_id: str
    subject: str | None  # the MAC a card is about, if any
    created_at: datetime
    used: bool = False

    def to_doc(self) -> dict[str, Any]:
        return {"purpose": self.purpose, "activity_id": self.activity_id, "conversation_id": self.conversation_id,
                "subject": self.subject, "created_at": self.created_at.isoformat(), "used": self.used}

    @classmethod
    def from_doc(cls, card_id: str, doc: dict[str, Any]) -> CardRecord:
        return cls(card_id, doc["purpose"], doc.get("activity_id"), doc["conversation_id"], doc.get("subject"),
                   datetime.fromisoformat(doc["created_at"]), bool(doc.get("used")))


class SingleUseCards:
    """The records of the single-use cards sent, kept in each tenant's store."""

    def __init__(self, repository: Repository, clock: Clock) -> None:
        self._repository = repository
        self._clock = clock

    async def send(self, turn: ChatTurn, card: Card, card_id: str, purpose: str, subject: str | None = None) -> None:
        """Send a card that may be submitted once, and remember it for that check."""
        activity_id = await turn.show(card)
        record = self.new_record(card_id, purpose, activity_id, turn.conversation_id, subject)
        await self.remember(turn.tenant_id, record)

    def new_record(self, card_id: str, purpose: str, activity_id: str | None, conversation_id: str,
                   subject: str | None) -> CardRecord:
        return CardRecord(card_id, purpose, activity_id, conversation_id, subject, self._clock.now())

    @retry_on_conflict
    async def remember(self, tenant_id: str, record: CardRecord) -> None:
        tenant = self._repository.tenant(tenant_id)
        changes: dict[tuple[str, str], dict[str, Any] | None] = {(KIND, record.card_id): record.to_doc()}
        keys = tenant.record_keys(KIND)
        if len(keys) >= MAX_CARDS_KEPT:
            by_age = sorted(keys, key=lambda key: (tenant.get_record(KIND, key) or {}).get("created_at", ""))
            changes.update({(KIND, key): None for key in by_age[: len(keys) // 2]})
        await tenant.commit(records=changes)

    @retry_on_conflict
    async def claim(self, tenant_id: str, card_id: str, purpose: str, subject: str | None = None,
                    conversation_id: str | None = None) -> CardRecord:
        """Mark an open card used, or raise `CardNotOpen`. Two concurrent claims: one wins.
        With `conversation_id`, only a submit from the card's own conversation counts.

        The check and the staged change happen before the first await, so no other
        request can claim the same card in between.
        """
        tenant = self._repository.tenant(tenant_id)
        doc = tenant.get_record(KIND, card_id) if card_id else None
        if doc is None or doc.get("purpose") != purpose or (subject is not None and doc.get("subject") != subject):
            raise CardNotOpen(used=False)
        record = CardRecord.from_doc(card_id, doc)
        if conversation_id is not None and record.conversation_id != conversation_id:
            raise CardNotOpen(used=False)
        if record.used:
            raise CardNotOpen(used=True)
        if self._clock.now() - record.created_at > CARD_LIFETIME:
            raise CardNotOpen(used=False)
        await tenant.commit(records={(KIND, card_id): replace(record, used=True).to_doc()})
        return record

    @retry_on_conflict
    async def release(self, tenant_id: str, record: CardRecord) -> None:
        """Reopen a claimed card whose action was refused, so it can be corrected and sent again."""
        await self._repository.tenant(tenant_id).commit(records={(KIND, record.card_id): record.to_doc()})


async def answer_card(turn: ChatTurn, record: CardRecord | None, card: Card) -> None:
    """Replace the submitted card in place when the channel allows; else send anew."""
    target = turn.place.reply_to_id or (record.activity_id if record else None)
    if target and await turn.replace(target, card):
        return
    await turn.show(card)


def closed_message(closed: CardNotOpen, next_step: str) -> str:
    """Why a submit of a card that is not open did nothing, and `next_step`."""
    if closed.used:
        return f"That card was already used, so this click did nothing. {next_step}"
    return f"That card is not one I can act on (it may be from another conversation or too old). {next_step}"
