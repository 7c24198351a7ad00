"""Files behind links (`storage.files`): the same contract in memory and in PostgreSQL."""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from storage.files import FileExpired, FileStash, FileTaken, FileUnknown, MemoryFileStash

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


@asynccontextmanager
async def memory() -> AsyncIterator[FileStash]:
    yield MemoryFileStash()


@asynccontextmanager
async def postgres() -> AsyncIterator[FileStash]:
    from storage.postgres import open_postgres_store
    from tests.pg import fresh_schema

    async with fresh_schema() as url:
        store = await open_postgres_store(url)
        try:
            yield store.files()
        finally:
            await store.close()


STASHES: list[Any] = [pytest.param(memory, id="memory"), pytest.param(postgres, id="postgres")]


@pytest.fixture(params=STASHES)
async def stash(request: pytest.FixtureRequest) -> AsyncIterator[FileStash]:
    factory: Callable[[], AbstractAsyncContextManager[FileStash]] = request.param
    async with factory() as opened:
        yield opened


async def test_a_link_serves_its_file_until_it_expires_then_says_so(stash: FileStash) -> None:
    link = await stash.put("tenant-a", "x.csv", b"data", NOW)
    assert link.expires_at == NOW + timedelta(hours=1)
    assert (await stash.get(link.token, NOW + timedelta(minutes=59))).content == b"data"
    with pytest.raises(FileExpired) as expired:
        await stash.get(link.token, NOW + timedelta(hours=1))
    assert expired.value.expired_at == link.expires_at


async def test_a_link_is_tied_to_its_tenant(stash: FileStash) -> None:
    link = await stash.put("tenant-a", "x.csv", b"data", NOW)
    assert (await stash.get(link.token, NOW, "tenant-a")).name == "x.csv"
    with pytest.raises(FileUnknown):
        await stash.get(link.token, NOW, "tenant-b")
    with pytest.raises(FileUnknown):
        await stash.take(link.token, NOW, "tenant-b")
    assert (await stash.get(link.token, NOW)).content == b"data", "a wrong tenant's take takes nothing"


async def test_tokens_are_long_random_and_distinct(stash: FileStash) -> None:
    tokens = {(await stash.put("t", "x.csv", b"", NOW)).token for _ in range(50)}
    assert len(tokens) == 50
    assert all(len(t) == 43 for t in tokens)


@pytest.mark.parametrize("token", ["", "x", "../../etc/passwd", "A" * 43, "A" * 44])
async def test_forged_tokens_are_unknown(stash: FileStash, token: str) -> None:
    await stash.put("t", "x.csv", b"", NOW)
    with pytest.raises(FileUnknown):
        await stash.get(token, NOW)
    with pytest.raises(FileUnknown):
        await stash.take(token, NOW, "t")


async def test_a_file_is_taken_once(stash: FileStash) -> None:
    link = await stash.put("t", "x.csv", b"data", NOW)
    assert (await stash.take(link.token, NOW, "t")).content == b"data"
    with pytest.raises(FileTaken):
        await stash.take(link.token, NOW, "t")
    with pytest.raises(FileUnknown):
        await stash.get(link.token, NOW)


async def test_of_concurrent_takes_exactly_one_gets_the_file(stash: FileStash) -> None:
    link = await stash.put("t", "x.csv", b"data", NOW)
    results = await asyncio.gather(*(stash.take(link.token, NOW, "t") for _ in range(8)), return_exceptions=True)
    assert sum(not isinstance(r, BaseException) for r in results) == 1
    assert all(isinstance(r, FileTaken) for r in results if isinstance(r, BaseException))


async def test_an_expired_link_is_eventually_forgotten(stash: FileStash) -> None:
    link = await stash.put("t", "a.csv", b"1", NOW)
    await stash.put("t", "later.csv", b"2", NOW + timedelta(days=2))  # a later put tidies up
    with pytest.raises(FileUnknown):
        await stash.get(link.token, NOW + timedelta(days=2))


async def test_memory_is_bounded_by_dropping_the_oldest_file() -> None:
    stash = MemoryFileStash(max_bytes=10)
    first = await stash.put("t", "a.csv", b"123456", NOW)
    second = await stash.put("t", "b.csv", b"123456", NOW)
    with pytest.raises(FileExpired):
        await stash.get(first.token, NOW)
    assert (await stash.get(second.token, NOW)).content == b"123456"
