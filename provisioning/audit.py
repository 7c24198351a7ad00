"""Audit: who changed what, when, and from where (chat or device API).

An `AuditEvent` is written in the same commit as the change it describes. Its `detail`
never holds a verification code, device code, user code or token in clear: the service
only ever puts states, locations, models, counts and account names there.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

SOURCES = frozenset({"chat", "device_api"})


@dataclass(frozen=True)
class Actor:
    """Who acted: an admin in chat (id = user/AAD object id) or a device (id = its MAC)."""

    id: str
    name: str
    source: str  # "chat" or "device_api"

    def __post_init__(self) -> None:
        if self.source not in SOURCES:
            raise ValueError(f"actor source must be one of {sorted(SOURCES)}, not {self.source!r}")

    def to_doc(self) -> dict[str, str]:
        return {"id": self.id, "name": self.name, "source": self.source}

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Actor:
        return cls(id=doc["id"], name=doc["name"], source=doc["source"])


@dataclass(frozen=True)
class AuditEvent:
    """One change: `action` is a short verb like "device.added"; `mac` is None for tenant-wide ones."""

    at: datetime
    tenant_id: str
    actor: Actor
    action: str
    mac: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    def to_doc(self) -> dict[str, Any]:
        """A JSON-safe dict (ISO time) that `from_doc` reads back exactly."""
        return {
            "at": self.at.isoformat(),
            "tenant_id": self.tenant_id,
            "actor": self.actor.to_doc(),
            "action": self.action,
            "mac": self.mac,
            "detail": dict(self.detail),
        }

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> AuditEvent:
        return cls(
            at=datetime.fromisoformat(doc["at"]),
            tenant_id=doc["tenant_id"],
            actor=Actor.from_doc(doc["actor"]),
            action=doc["action"],
            mac=doc.get("mac"),
            detail=dict(doc.get("detail", {})),
        )
