"""The persistence port the provisioning service needs; `storage/` implements it.

Every call names a tenant: a `TenantRepository` only ever sees its own tenant's
devices. The one cross-tenant look-up, `tenants_with_mac`, exists for the device
API, where a device knows its MAC but not yet its tenant.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from provisioning.audit import AuditEvent
    from provisioning.devices import Device


class ConcurrentChange(Exception):
    """A commit refused because another process changed what it rests on meanwhile.

    Nothing of the commit was kept, and the repository's reads already show what won, so
    the caller can re-read, check again and retry (`retry_on_conflict`). A repository used
    by one process alone (memory, TinyDB) never raises it.
    """


class TenantRepository(Protocol):
    """One tenant's devices and records. Reads come from memory; commits are durable."""

    tenant_id: str

    def get(self, mac: str) -> Device | None:
        """The device with this canonical MAC, or None."""

    def devices(self) -> list[Device]:
        """Every device of the tenant, in no particular order."""

    def get_record(self, kind: str, key: str) -> dict[str, Any] | None:
        """A small keyed JSON record (e.g. kind="conversation"), or None."""

    def record_keys(self, kind: str) -> list[str]:
        """The keys of every record of one kind (for housekeeping)."""

    async def commit(
        self,
        save: Sequence[Device] = (),
        remove: Sequence[str] = (),
        audit: Sequence[AuditEvent] = (),
        records: Mapping[tuple[str, str], dict[str, Any] | None] = {},
    ) -> None:
        """Apply all changes as one atomic unit and return once they are on disk.

        The changes are visible to `get`/`devices` as soon as `commit` is called
        (before its first await), so a check-then-commit sequence with no await in
        between cannot interleave with another request. A record value of None
        deletes that record.
        """


class Repository(Protocol):
    """All tenants. Opening a tenant that has no data yet creates it on first commit."""

    def tenant(self, tenant_id: str) -> TenantRepository: ...

    def tenants_with_mac(self, mac: str) -> list[str]:
        """Tenants holding a device with this MAC (device API only)."""
