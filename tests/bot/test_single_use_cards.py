"""Single-use card records: one claim wins, old cards are refused, records stay bounded."""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.chat import single_use as card_memory
from bot.chat.single_use import CardNotOpen
from bot.chat.single_use import SingleUseCards as CardMemory
from provisioning.clock import FakeClock
from provisioning.memory import MemoryRepository
from provisioning.repository import Repository
from storage import open_store


@pytest.fixture(params=["memory", "tinydb"])
async def repository(request, tmp_path: Path) -> AsyncIterator[Repository]:
    if request.param == "memory":
        yield MemoryRepository()
        return
    store = await open_store(tmp_path / "data")
    try:
        yield store
    finally:
        await store.close()


async def remembered(memory: CardMemory, card_id: str, tenant: str = "t1") -> None:
    await memory.remember(tenant, memory.new_record(card_id, "confirm_remove", "act-1", "conv", "02-00-00-00-00-01"))


async def test_two_concurrent_claims_one_wins(repository: Repository, clock: FakeClock) -> None:
    memory = CardMemory(repository, clock)
    await remembered(memory, "c1")
    results = await asyncio.gather(*(memory.claim("t1", "c1", "confirm_remove") for _ in range(2)),
                                   return_exceptions=True)
    assert sum(isinstance(r, CardNotOpen) and r.used for r in results) == 1


async def test_unknown_wrong_purpose_wrong_subject_and_other_tenant_are_refused(
        repository: Repository, clock: FakeClock) -> None:
    memory = CardMemory(repository, clock)
    await remembered(memory, "c1")
    for tenant, card, purpose, subject in [("t1", "nope", "confirm_remove", None), ("t1", "c1", "add_form", None),
                                           ("t1", "c1", "confirm_remove", "02-00-00-00-00-02"),
                                           ("t2", "c1", "confirm_remove", None)]:
        with pytest.raises(CardNotOpen) as refused:
            await memory.claim(tenant, card, purpose, subject)
        assert not refused.value.used
    assert (await memory.claim("t1", "c1", "confirm_remove")).card_id == "c1"


async def test_a_card_older_than_its_lifetime_is_refused(repository: Repository, clock: FakeClock) -> None:
    memory = CardMemory(repository, clock)
    await remembered(memory, "c1")
    clock.advance(seconds=card_memory.CARD_LIFETIME.total_seconds() + 1)
    with pytest.raises(CardNotOpen):
        await memory.claim("t1", "c1", "confirm_remove")


async def test_records_stay_bounded_and_the_newest_survive(repository: Repository, clock: FakeClock,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(card_memory, "MAX_CARDS_KEPT", 10)
    memory = CardMemory(repository, clock)
    for i in range(25):
        await remembered(memory, f"c{i}")
        clock.advance(seconds=1)
    assert len(repository.tenant("t1").record_keys("card")) <= 10
    assert (await memory.claim("t1", "c24", "confirm_remove")).card_id == "c24"
    with pytest.raises(CardNotOpen):
        await memory.claim("t1", "c0", "confirm_remove")
