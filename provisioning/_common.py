"""What the admin-side and device-side services share: the audit-event builder and the
tenant's display name (the record an admin sets, else the configured default).
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from .audit import Actor, AuditEvent
from .codes import generate_secret, generate_user_code
from .devices import SignInGrant

if TYPE_CHECKING:
    from .repository import TenantRepository

TENANT_NAME_RECORD = ("tenant", "name")  # (kind, key) of the name an admin set


def audit_event(
    now: datetime, tenant_id: str, actor: Actor, action: str, mac: str | None, **detail: Any
) -> AuditEvent:
    """One audit event; `detail` is JSON-safe and never holds a code or a token."""
    return AuditEvent(at=now, tenant_id=tenant_id, actor=actor, action=action, mac=mac, detail=detail)


def new_grant(now: datetime, ttl: timedelta, interval: int, started_by: str, account: str | None) -> SignInGrant:
    """A fresh RFC 8628 grant: a random device code and user code, expiring after `ttl`."""
    return SignInGrant(
        device_code=generate_secret(),
        user_code=generate_user_code(),
        started_at=now,
        expires_at=now + ttl,
        interval=interval,
        started_by=started_by,
        account=account,
    )


def tenant_name(tenant: TenantRepository, default: str | None) -> str | None:
    """The name devices show: the one an admin set, else `default`."""
    record = tenant.get_record(*TENANT_NAME_RECORD)
    if record is not None:
        return str(record["name"])
    return default
