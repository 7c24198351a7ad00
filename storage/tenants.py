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
from storage.tables import Change, Doc, Key, Listener, Run


class TenantDocuments(Protocol):
    """One tenant's tables in memory and the way to change them durably."""

    @property
    def tenant_id(self) -> str | None: ...

    def add_listener(self, listener: Listener) -> None: ...

    def get(self, table: str, key: Key) -> Doc | None: ...

    def items(self, table: str) -> Iterator[tuple[Key, Doc]]: ...

    def keys(self, table: str) -> list[Key]: ...

    def count(self, table: str) -> int: ...

    def held(self, table: str, keys: Sequence[Any]) -> list[Any]:
        """Those of `keys` the table holds a document for."""

    def stage(self, changes: Sequence[Change], audit: Sequence[Doc] = (), owned: bool = False,
              bulk: Run | None = None) -> asyncio.Future[None]: ...

    def check_off_loop(self, bulk: Run) -> list[Any]:
        """In a worker thread: the checks `stage(..., bulk=...)` then skips. Returns the
        run's docs in the form `stage` takes them in `bulk` (the docs themselves, or with
        what the store worked out from each), in the same order."""


class TenantStore:
    """All tenants' repositories (implements `provisioning.repository.Repository`)."""

    def __init__(self) -> None:
        self._documents: dict[str, TenantDocuments] = {}
        self._repos: dict[str, DeviceRepository] = {}
        # Cross-tenant index, device API only: MAC -> its tenant, or the set of them.
        self._mac_tenants: dict[Key, str | set[str]] = {}
        self._closed = False

    async def read_audit(self, tenant_id: str, mac: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """The tenant's last `limit` audit events (of one MAC if given), oldest first."""
        raise NotImplementedError

    def tenant_ids(self) -> list[str]:
        """Every tenant holding anything (maintenance views only)."""
        raise NotImplementedError

    async def warm(self) -> None:
        """Decode every tenant's devices off the event loop (see `DeviceRepository.warm`);
        the service runs it in the background once it starts serving."""
        for repo in list(self._repos.values()):
            await repo.warm()

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
        keys = documents.keys(DEVICES)
        self._track(tenant_id, DEVICES, keys, [None] * len(keys), [{}] * len(keys))
        documents.add_listener(lambda table, keys, old, new: self._track(tenant_id, table, keys, old, new))
        repo = self._repos[tenant_id] = DeviceRepository(documents)
        return repo

    def _track(self, tenant_id: str, table: str, keys: list[Key], olds: list[Doc | None],
               news: list[Doc | None]) -> None:
        if table != DEVICES:
            return
        index = self._mac_tenants
        if None not in olds and None not in news:
            return  # only replaced documents (a bulk code issue): no MAC came or went
        if None not in news and olds.count(None) == len(olds):
            # Only new MACs (a bulk add): one dict update, then the few held elsewhere too.
            elsewhere = [(key, index[key]) for key in keys if key in index]
            index.update(dict.fromkeys(keys, tenant_id))
            for key, held in elsewhere:
                index[key] = ({held} if isinstance(held, str) else held) | {tenant_id}
            return
        if None not in olds and news.count(None) == len(news):
            # Only MACs gone (a bulk add undone): most were this tenant's alone.
            for key in keys:
                holders = index.get(key)
                if holders == tenant_id:
                    del index[key]
                elif isinstance(holders, set):
                    holders.discard(tenant_id)
                    if not holders:
                        del index[key]
            return
        for key, old, new in zip(keys, olds, news, strict=True):
            if (old is None) == (new is None):
                continue
            holders = index.get(key)
            if new is not None:
                if holders is None:
                    index[key] = tenant_id  # most MACs are in one tenant: no set for them
                elif isinstance(holders, str):
                    index[key] = {holders, tenant_id}
                else:
                    holders.add(tenant_id)
            elif isinstance(holders, str):
                if holders == tenant_id:
                    del index[key]
            elif holders is not None:
                holders.discard(tenant_id)
                if not holders:
                    del index[key]

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
        holders = self._mac_tenants.get(mac, ())
        return [holders] if isinstance(holders, str) else sorted(holders)

    def tenants_with_notices(self) -> list[str]:
        """Tenants with undelivered notices (the notice sender only)."""
        return [tenant_id for tenant_id, repo in self._repos.items() if repo.has_notices]

    async def claim_notices(self, tenant_id: str, keys: Sequence[str]) -> list[str]:
        """Which of these undelivered notices this process may send: all of them here (one
        process uses the store); a shared store gives each notice to one instance at a time."""
        return list(keys)
