"""The durable TinyDB store behind `provisioning.repository.Repository`.

`await open_store(directory)` gives a `Store`; `store.tenant(tenant_id)` gives that
tenant's `DeviceRepository`. Reads come from memory; `commit` stages changes at once and
returns when they are on disk (group commit, atomic file replace). See `tenant_file.py`
for the write path and its guarantees, `store.py` for the directory layout.
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
from storage.tenant_file import SCHEMA_VERSION, TableSpec, TenantFile

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
