"""The durable TinyDB store behind `provisioning.repository.Repository`.

`await open_store(directory)` gives a `Store`; `store.tenant(tenant_id)` gives that
tenant's `DeviceRepository`. Reads come from memory; `commit` stages changes at once and
returns when they are on disk (group commit, atomic file replace). See `tables.py` (memory,
loading) and `group_commit.py` (the write path) for the guarantees, `store.py` for the
directory layout.
"""
from storage.device_repository import DeviceRepository
from storage.errors import (
    InvalidCommit,
    InvalidTenantId,
    StoreClosed,
    StoreCorrupt,
    StoreError,
    StoreLocked,
    StoreSchemaUnsupported,
    StoreWriteFailed,
)
from storage.store import Store, open_store
from storage.tables import SCHEMA_VERSION, TableSpec
from storage.tenant_file import TenantFile

__all__ = [
    "SCHEMA_VERSION",
    "DeviceRepository",
    "InvalidCommit",
    "InvalidTenantId",
    "Store",
    "StoreClosed",
    "StoreCorrupt",
    "StoreError",
    "StoreLocked",
    "StoreSchemaUnsupported",
    "StoreWriteFailed",
    "TableSpec",
    "TenantFile",
    "open_store",
]
