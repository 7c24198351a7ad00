"""What every store shares: a repository per tenant over its documents, and the index of
which tenants hold a MAC (the device API's one cross-tenant look-up).

A store backend provides, per tenant, an object with the `TenantDocuments` interface
(the TinyDB files' `TenantFile`, or the PostgreSQL store's `TenantReplica`); this class
wraps each in a `DeviceRepository` and keeps the MAC index current through its listener.
"""
from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from typing import Any, Protocol

from storage.device_repository import DEVICES, DeviceRepository
from storage.errors import StoreClosed
from storage.tables import Change, Doc, Key, Listener


class TenantDocuments(Protocol):
    """One tenant's tables in memory and the way to change them durably."""

    @property
    def tenant_id(self) -> str | None: ...

    def add_listener(self, listener: Listener) -> None: ...

    def get(self, table: str, key: Key) -> Doc | None: ...

    def items(self, table: str) -> Iterator[tuple[Key, Doc]]: ...

    def keys(self, table: str) -> list[Key]: ...

    def count(self, table: str) -> int: ...

    def stage(self, changes: Sequence[Change], audit: Sequence[Doc] = (), owned: bool = False
              ) -> asyncio.Future[None]: ...


class TenantStore:
    """All tenants' repositories (implements `provisioning.repository.Repository`)."""

    def __init__(self) -> None:
        self._documents: dict[str, TenantDocuments] = {}
        self._repos: dict[str, DeviceRepository] = {}
        self._mac_tenants: dict[Key, set[str]] = {}  # cross-tenant index, device API only
        self._closed = False

    async def read_audit(self, tenant_id: str, mac: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """The tenant's last `limit` audit events (of one MAC if given), oldest first."""
        raise NotImplementedError

    def tenant_ids(self) -> list[str]:
        """Every tenant holding anything (maintenance views only)."""
        raise NotImplementedError

    async def close(self) -> None:
        """Finish every pending write, then release what the store holds. Idempotent."""
        raise NotImplementedError

    def _new_tenant(self, tenant_id: str) -> TenantDocuments:
        """The documents of a tenant this store has nothing of yet (created on first commit)."""
        raise NotImplementedError

    def _adopt(self, documents: TenantDocuments) -> DeviceRepository:
        tenant_id = documents.tenant_id
        assert tenant_id is not None
        self._documents[tenant_id] = documents
        for mac in documents.keys(DEVICES):
            self._mac_tenants.setdefault(mac, set()).add(tenant_id)
        documents.add_listener(lambda table, key, old, new: self._track(tenant_id, table, key, old, new))
        repo = self._repos[tenant_id] = DeviceRepository(documents)
        return repo

    def _track(self, tenant_id: str, table: str, key: Key, old: Doc | None, new: Doc | None) -> None:
        if table != DEVICES or (old is None) == (new is None):
            return
        if new is not None:
            self._mac_tenants.setdefault(key, set()).add(tenant_id)
        else:
            holders = self._mac_tenants.get(key)
            if holders is not None:
                holders.discard(tenant_id)
                if not holders:
                    del self._mac_tenants[key]

    # -- the Repository port ---------------------------------------------------------

    def tenant(self, tenant_id: str) -> DeviceRepository:
        """That tenant's repository; its data is created by its first commit."""
        repo = self._repos.get(tenant_id)
        if repo is not None:
            return repo
        if self._closed:
            raise StoreClosed("The store is closed.")
        from storage.store import check_tenant_id

        check_tenant_id(tenant_id)
        return self._adopt(self._new_tenant(tenant_id))

    def tenants_with_mac(self, mac: str) -> list[str]:
        """Tenants holding a device with this MAC (device API only), sorted."""
        return sorted(self._mac_tenants.get(mac, ()))

    def tenants_with_notices(self) -> list[str]:
        """Tenants with undelivered notices (the notice sender only)."""
        return [tenant_id for tenant_id, repo in self._repos.items() if repo.has_notices]

    async def claim_notices(self, tenant_id: str, keys: Sequence[str]) -> list[str]:
        """Which of these undelivered notices this process may send: all of them here (one
        process uses the store); a shared store gives each notice to one instance at a time."""
        return list(keys)
