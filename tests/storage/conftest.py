"""Store test helpers: devices and audit events to save, and an open store in tmp_path."""
from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from provisioning.audit import Actor, AuditEvent
from provisioning.devices import Device, VerificationCode, new_device, with_code
from provisioning.repository import TenantRepository
from storage import Store, open_store

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
ADMIN = Actor(id="aad-admin-1", name="Ann Admin", source="chat")


def mac(n: int) -> str:
    """A canonical, unicast MAC numbered n."""
    return "00-1B-" + "-".join(f"{(n >> shift) & 0xFF:02X}" for shift in (24, 16, 8, 0))


def device(tenant: str, n: int, location: str = "Room 1") -> Device:
    return new_device(tenant, mac(n), location, NOW, ADMIN.name)


def coded(d: Device) -> Device:
    code = VerificationCode("123456789012", NOW, NOW + timedelta(hours=24), ADMIN.id)
    return with_code(d, code, NOW, ADMIN.name)


def moved(d: Device, location: str) -> Device:
    return replace(d, location=location, updated_at=d.updated_at + timedelta(seconds=1))


def stored(repo: TenantRepository, mac_id: str) -> Device:
    """The device `repo` holds under `mac_id`; the test fails if there is none."""
    found = repo.get(mac_id)
    assert found is not None, f"{mac_id} is not stored"
    return found


def event(tenant: str, action: str, mac_id: str | None = None, **detail: object) -> AuditEvent:
    return AuditEvent(at=NOW, tenant_id=tenant, actor=ADMIN, action=action, mac=mac_id, detail=dict(detail))


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
async def store(data_dir: Path) -> AsyncIterator[Store]:
    opened = await open_store(data_dir)
    yield opened
    await opened.close()
