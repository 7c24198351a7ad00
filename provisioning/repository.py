"""The persistence port the provisioning service needs; `storage/` implements it.

Every call names a tenant: a `TenantRepository` only ever sees its own tenant's
devices. The one cross-tenant look-up, `tenants_with_mac`, exists for the device
API, where a device knows its MAC but not yet its tenant.
"""
from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ParamSpec, Protocol, TypeVar

from provisioning.devices import Device

if TYPE_CHECKING:
    from provisioning.audit import AuditEvent
    from provisioning.outbox import OutboxEntry


class ConcurrentChange(Exception):
    """A commit refused because another process changed what it rests on meanwhile.

    Nothing of the commit was kept, and the repository's reads already show what won, so
    the caller can re-read, check again and retry (`retry_on_conflict`). A repository used
    by one process alone (memory, TinyDB) never raises it.
    """


P = ParamSpec("P")
R = TypeVar("R")
MAX_ATTEMPTS = 8  # a conflict means another instance won a race: one re-read almost always settles it


def retry_on_conflict(operation: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """Run a read-check-commit operation again when its commit meets `ConcurrentChange`.

    Every attempt re-reads (the repository already shows what won) and checks again, so
    the rules hold across processes: the loser of a race gets the answer it would have
    got had it come second. Only operations whose every commit rests on its own reads
    may be wrapped.
    """

    @functools.wraps(operation)
    async def retrying(*args: P.args, **kwargs: P.kwargs) -> R:
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                return await operation(*args, **kwargs)
            except ConcurrentChange:
                if attempt == MAX_ATTEMPTS:
                    raise
        raise AssertionError("unreachable")

    return retrying


class PreparedSave(tuple["Device", ...]):
    """Devices to save, with what a repository worked out from them off the event loop.

    A bulk commit's cost is mostly turning tens of thousands of devices into documents and
    checking them; `TenantRepository.prepare_save` does that in a worker thread and
    returns this, and `commit(save=prepared)` then only applies it (a short synchronous
    step). It is a tuple of the devices, so a repository that prepares nothing (memory)
    takes it as any sequence. `forms[i]` is what `owner` made of the i-th device (empty:
    nothing prepared); `only` keeps the two aligned.
    """

    owner: object
    forms: list[Any]

    def __new__(cls, devices: Sequence[Device], owner: object = None, forms: Sequence[Any] = ()) -> PreparedSave:
        prepared = super().__new__(cls, devices)
        prepared.owner = owner
        prepared.forms = list(forms)
        if prepared.forms and len(prepared.forms) != len(prepared):
            raise ValueError("one prepared form per device")
        return prepared

    def only(self, keep: Callable[[Device], bool]) -> PreparedSave:
        """The devices for which `keep` is true, with their prepared forms."""
        if not self.forms:
            return PreparedSave([device for device in self if keep(device)], self.owner)
        pairs = [(device, form) for device, form in zip(self, self.forms, strict=True) if keep(device)]
        return PreparedSave([device for device, _ in pairs], self.owner, [form for _, form in pairs])


class TenantRepository(Protocol):
    """One tenant's devices and records. Reads come from memory; commits are durable."""

    tenant_id: str

    def get(self, mac: str) -> Device | None:
        """The device with this canonical MAC, or None."""

    def devices(self) -> list[Device]:
        """Every device of the tenant, in no particular order."""

    def unchanged(self, devices: Sequence[Device]) -> list[Device]:
        """Those of these devices (as read from this repository) that are still the
        current ones: not changed or removed since (a read returns the same object)."""

    def held(self, macs: Sequence[str]) -> list[str]:
        """Those of these canonical MACs the tenant holds a device for (a bulk `get`, for
        the one synchronous check of a bulk add: 50,000 look-ups in a few milliseconds)."""

    def get_record(self, kind: str, key: str) -> dict[str, Any] | None:
        """A small keyed JSON record (e.g. kind="conversation"), or None."""

    def record_keys(self, kind: str) -> list[str]:
        """The keys of every record of one kind (for housekeeping)."""

    def pending_notices(self, limit: int) -> list[OutboxEntry]:
        """The oldest `limit` undelivered notices (`outbox` records), oldest first; see `outbox.py`."""

    async def warm(self) -> int:
        """Make every device ready to read (decoded) off the event loop, so that a full read
        right after (`devices()`, or `get` of thousands) costs dict look-ups; how many were
        made ready. Bulk work awaits it before its synchronous step."""

    async def prepare_save(self, devices: Sequence[Device]) -> PreparedSave:
        """Work out, off the event loop, what saving these devices takes (their documents,
        checked), so a later `commit(save=...)` of them (or of a subset: `only`) applies
        at once. Reads nothing of the repository: call it before the final check, not
        between the check and the commit."""

    async def commit(
        self,
        save: Sequence[Device] = (),
        remove: Sequence[str] = (),
        audit: Sequence[AuditEvent] = (),
        records: Mapping[tuple[str, str], dict[str, Any] | None] = {},
    ) -> None:
        """Apply all changes as one atomic unit and return once they are durable.

        The changes are visible to `get`/`devices` as soon as `commit` is called
        (before its first await), so a check-then-commit sequence with no await in
        between cannot interleave with another request in this process. A record value
        of None deletes that record. A store shared by several processes raises
        `ConcurrentChange` when another process changed a row this commit rests on
        since it was read; nothing of the commit is kept (see `retry_on_conflict`).
        """


class Repository(Protocol):
    """All tenants. Opening a tenant that has no data yet creates it on first commit."""

    def tenant(self, tenant_id: str) -> TenantRepository: ...

    def tenants_with_mac(self, mac: str) -> list[str]:
        """Tenants holding a device with this MAC (device API only)."""

    def tenants_with_notices(self) -> list[str]:
        """Tenants with at least one undelivered notice (the notice sender only)."""

    async def claim_notices(self, tenant_id: str, keys: Sequence[str]) -> list[str]:
        """Of these undelivered notices, the ones this process is to send: all, where one
        process uses the repository; with several instances, each notice goes to one of
        them at a time (until it is settled, or its claim lapses because that instance died)."""
