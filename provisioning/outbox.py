"""Device events and the durable outbox they wait in until the admin has been told.

When a device is provisioned, locked out, signed in or factory reset, the service that
changes it also builds a `DeviceEvent` (plain data: no chat, no markdown) and commits it
as an outbox record in the *same* `commit(...)` as the state change: the repository's
`records` mapping, kind `OUTBOX_RECORD`, under a sortable unique key. A crash therefore
never keeps the change and loses its notice, or the reverse.

A sender (the bot's `bot/notices.py`) reads the pending entries through `Outbox`, tells
the admin, and settles what it delivered (or gave up on) in one commit per batch, which
deletes those records: the outbox only ever holds what is still to be said. Delivery is at
least once: a crash between the send and the settling commit repeats that batch.

The port is two methods (`TenantRepository.pending_notices`, `Repository.tenants_with_notices`,
see `repository.py`) so a store with row locks (PostgreSQL, several instances) can claim
entries with `FOR UPDATE SKIP LOCKED` behind the same interface.

A new kind of notice: add an `EventKind` member, commit `notice_records(DeviceEvent.of(...))`
with the change in the service that makes it, and give the kind its wording in the bot's
notice renderer (`bot/notices.py`, `_SINGLE` and `_DIGEST_LABELS`).
"""
from __future__ import annotations

import itertools
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .devices import Device
    from .repository import Repository

OUTBOX_RECORD = "outbox"  # record kind of an undelivered notice; its key sorts oldest first

_sequence = itertools.count()


class EventKind(str, Enum):
    PROVISIONED = "provisioned"
    LOCKED = "locked"  # locked out after too many wrong verification codes: needs an admin
    SIGNED_IN = "signed_in"
    RESET = "reset"  # factory reset: back to waiting on activation
    SIGNED_OUT = "signed_out"  # an admin ended its session: waiting for sign in, still provisioned
    ACCOUNT_CHANGED = "account_changed"  # an admin ended its session to sign another account in


@dataclass(frozen=True)
class DeviceEvent:
    """What a device did, with what a notice about it needs to say."""

    kind: EventKind
    tenant_id: str
    mac: str
    at: datetime
    location: str = ""
    model: str | None = None
    manufacturer: str | None = None
    firmware: str | None = None
    account: str | None = None  # signed in as (or, for an account change, to be signed in as)
    previous_account: str | None = None  # a sign-out's or account change's account before
    by: str | None = None  # the admin who made the change, for the changes admins make
    # Where to tell it, when the change decides (an opaque saved conversation reference);
    # else the device's own conversation at the time the notice is sent.
    told_in: dict[str, Any] | None = None

    @classmethod
    def of(cls, kind: EventKind, device: Device, at: datetime, *, account: str | None = None,
           previous_account: str | None = None, by: str | None = None,
           told_in: dict[str, Any] | None = None) -> DeviceEvent:
        """The event `kind` for `device` as it is after the change."""
        return cls(kind, device.tenant_id, device.mac, at, device.location, device.model,
                   device.manufacturer, device.firmware, account or device.account, previous_account, by, told_in)

    def to_doc(self) -> dict[str, Any]:
        return {"kind": self.kind.value, "tenant_id": self.tenant_id, "mac": self.mac, "at": self.at.isoformat(),
                "location": self.location, "model": self.model, "manufacturer": self.manufacturer,
                "firmware": self.firmware, "account": self.account, "previous_account": self.previous_account,
                "by": self.by, "told_in": self.told_in}

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> DeviceEvent:
        """Reads `to_doc` output back; ValueError/KeyError/TypeError if it is not one."""
        return cls(EventKind(doc["kind"]), str(doc["tenant_id"]), str(doc["mac"]), datetime.fromisoformat(doc["at"]),
                   str(doc.get("location") or ""), _text(doc.get("model")), _text(doc.get("manufacturer")),
                   _text(doc.get("firmware")), _text(doc.get("account")), _text(doc.get("previous_account")),
                   _text(doc.get("by")), doc.get("told_in") if isinstance(doc.get("told_in"), dict) else None)


@dataclass(frozen=True)
class OutboxEntry:
    """One undelivered notice: its record key and its event."""

    key: str
    event: DeviceEvent


def outbox_key(event: DeviceEvent) -> str:
    """Sorts by event time, then by creation order in this process; unique across restarts."""
    return f"{event.at.astimezone(UTC).strftime('%Y%m%dT%H%M%S.%f')}-{next(_sequence):010d}-{secrets.token_hex(4)}"


def notice_records(*events: DeviceEvent) -> dict[tuple[str, str], dict[str, Any] | None]:
    """The `records` to commit with a change so that its events are told (see module doc)."""
    return {(OUTBOX_RECORD, outbox_key(event)): event.to_doc() for event in events}


class Outbox:
    """The sender's view of every tenant's undelivered notices."""

    def __init__(self, repository: Repository) -> None:
        self._repository = repository

    def tenants(self) -> list[str]:
        """Tenants with at least one undelivered notice."""
        return self._repository.tenants_with_notices()

    def pending(self, tenant_id: str, limit: int) -> list[OutboxEntry]:
        """The tenant's oldest undelivered notices, oldest first."""
        return self._repository.tenant(tenant_id).pending_notices(limit)

    async def claim(self, tenant_id: str, entries: Sequence[OutboxEntry]) -> list[OutboxEntry]:
        """Those of `entries` this process is to send (see `Repository.claim_notices`)."""
        if not entries:
            return []
        claimed = set(await self._repository.claim_notices(tenant_id, [e.key for e in entries]))
        return [e for e in entries if e.key in claimed]

    async def settle(self, tenant_id: str, keys: Iterable[str]) -> None:
        """Delete delivered (or given-up) entries, in one commit; returns once durable."""
        removed: dict[tuple[str, str], dict[str, Any] | None] = {(OUTBOX_RECORD, key): None for key in keys}
        if removed:
            await self._repository.tenant(tenant_id).commit(records=removed)


def sorted_entries(docs: Iterable[tuple[str, dict[str, Any]]], limit: int) -> Sequence[OutboxEntry]:
    """Entries from (key, event doc) pairs, oldest first; for repositories that scan records."""
    return [OutboxEntry(key, DeviceEvent.from_doc(doc)) for key, doc in sorted(docs)[:limit]]


def _text(value: object) -> str | None:
    return None if value is None else str(value)
