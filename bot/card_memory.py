"""Which cards are still open: single-use cards (forms, confirmations, sign-in cards).

Each single-use card carries a `card_id` in its submit data. When it is sent, the bot
records the card in the tenant's store with the activity id the connector returned, so
after a submit it can (a) refuse a second or replayed submit of the same card and (b)
replace the card in place. Web Chat sends no `replyToId` on a submit, hence the record.
A card id from another tenant, or one never issued, is simply unknown.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from provisioning.repository import Repository

KIND = "card"


class CardNotOpen(Exception):
    """The card is unknown to this tenant, or it was already used."""

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
    used: bool = False

    def to_doc(self) -> dict[str, Any]:
        return {"purpose": self.purpose, "activity_id": self.activity_id, "conversation_id": self.conversation_id,
                "subject": self.subject, "used": self.used}

    @classmethod
    def from_doc(cls, card_id: str, doc: dict[str, Any]) -> CardRecord:
        return cls(card_id, doc["purpose"], doc.get("activity_id"), doc["conversation_id"], doc.get("subject"),
                   bool(doc.get("used")))


class CardMemory:
    def __init__(self, repository: Repository) -> None:
        self._repository = repository

    async def remember(self, tenant_id: str, record: CardRecord) -> None:
        await self._repository.tenant(tenant_id).commit(records={(KIND, record.card_id): record.to_doc()})

    async def claim(self, tenant_id: str, card_id: str, purpose: str, subject: str | None = None) -> CardRecord:
        """Mark an open card used, or raise `CardNotOpen`. Two concurrent claims: one wins.

        The check and the staged change happen before the first await, so no other
        request can claim the same card in between.
        """
        tenant = self._repository.tenant(tenant_id)
        doc = tenant.get_record(KIND, card_id) if card_id else None
        if doc is None or doc.get("purpose") != purpose or (subject is not None and doc.get("subject") != subject):
            raise CardNotOpen(used=False)
        record = CardRecord.from_doc(card_id, doc)
        if record.used:
            raise CardNotOpen(used=True)
        used = CardRecord(**{**record.__dict__, "used": True})
        await tenant.commit(records={(KIND, card_id): used.to_doc()})
        return record

    async def release(self, tenant_id: str, record: CardRecord) -> None:
        """Reopen a claimed card whose action was refused, so it can be corrected and sent again."""
        await self._repository.tenant(tenant_id).commit(records={(KIND, record.card_id): record.to_doc()})
